"""The apply_patch engine: parse Codex's patch format, plan every file change, then apply it all-or-nothing.

The tool the model calls (its spec, approval and items) is agent.tools.apply_patch_tool.

The format is specified in shared/spec/apply_patch.md; no library parses it, so the parser here is
written by hand. It is deliberately lenient where models are sloppy (padded marker lines, a missing
`*** End Patch`, a surrounding ``` fence or heredoc, git-style `@@ -1,3 +1,4 @@` headers) and strict
where a guess could damage files (paths must be relative and stay inside the writable roots).

Decisions callers should know:
- Several hunks may touch the same file; each applies to the result of the previous one, and each
  produces its own `FileChange` (whose `old_content` is the content just before that hunk).
- `*** Add File` on an existing file overwrites it and is summarised `A`, as Codex does (its `FileChange` has
  kind "update", with `add_over_existing` set, so the writer still checks the old content).
- `*** Move to` onto an existing file overwrites it.
- A chunk with only `+` lines is inserted right after its `@@ <context>` line, or at the end of the file
  when it has no context; the next chunk is still searched from where the previous one ended, so it may edit
  lines above the insertion (Codex's order).
- Context lines keep the file's own text even when they matched only after whitespace or punctuation
  normalisation. "(hunk N)" in a failure message is the N-th `@@` chunk of that file's Update.
- An Update with only a `*** Move to` is a plain rename; an Add with no `+` lines creates an empty file.
- Delete refuses symlinks and directories.
- Shell calls that are really patches are recognised as Codex recognises them: `apply_patch <<'EOF' ... EOF`
  under bash/sh/zsh `-c`/`-lc`, PowerShell/pwsh `[-NoProfile] -Command` and `cmd /c`, behind Codex's shell
  snapshot wrapper, and `cd DIR && apply_patch <<'EOF'` (the patch's paths are then taken relative to DIR).
- Every line keeps its own line ending: a replaced line takes the ending of the line it replaces, an added
  line that of the line before it (the file's majority ending at the top); a UTF-8 BOM is kept.
- `apply()` refuses to overwrite or delete a file whose content changed on disk since `plan()` read it.
- `apply()` writes through agent.tools.patch_journal: staged files, a manifest, renames, all through directory
  fds opened without following symlinks (agent.tools.safe_fs), so a directory swapped for a symlink during the
  write cannot send a file outside the path `plan()` resolved, and `kill -9` leaves an edit the next start of
  codex rolls forward or back.

This module does not ask for approval, sandbox processes or render diffs; callers do that around
`plan()` and `apply()`.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent.tools import patch_journal

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File:"
DELETE_FILE = "*** Delete File:"
UPDATE_FILE = "*** Update File:"
MOVE_TO = "*** Move to:"
END_OF_FILE = "*** End of File"
HUNK_HEADERS = (ADD_FILE, UPDATE_FILE, DELETE_FILE)
COMMAND_NAMES = ("apply_patch", "applypatch")

_EXPECTED_HEADER = "expected '*** Add File:', '*** Update File:' or '*** Delete File:'"


class PatchError(Exception):
    """A patch that cannot be parsed or applied; str(e) is a precise message for the model, naming the
    file and, for a failed hunk, the lines that were expected."""


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One `@@` section of an Update: `old_lines` (context + removed) are replaced by `new_lines`.

    `lines` keeps each diff line with its marker (' ', '-' or '+'); `contexts` are the `@@ <text>` lines."""

    contexts: tuple[str, ...]
    lines: tuple[str, ...]
    end_of_file: bool = False

    @property
    def old_lines(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.lines if line[0] in " -")

    @property
    def new_lines(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.lines if line[0] in " +")


@dataclass(frozen=True)
class AddFile:
    path: str
    content: str


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class UpdateFile:
    path: str
    chunks: tuple[Chunk, ...]
    move_to: str | None = None


Hunk = AddFile | DeleteFile | UpdateFile


@dataclass(frozen=True)
class FileChange:
    path: Path
    kind: Literal["add", "delete", "update"]
    old_content: str | None
    new_content: str | None
    move_to: Path | None = None
    add_over_existing: bool = False  # an Add File hunk over an existing file (kind "update"): summarised `A`


@dataclass(frozen=True)
class _Line:
    number: int
    text: str

    @property
    def stripped(self) -> str:
        return self.text.strip()


@dataclass
class _ChunkBuilder:
    contexts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    started: bool = False  # an '@@' line or a change line has been seen

    @property
    def has_lines(self) -> bool:
        return bool(self.lines)

    def add(self, line: str) -> None:
        self.lines.append(line or " ")  # an empty line is an empty context line
        self.started = True

    def build(self, end_of_file: bool = False) -> Chunk:
        return Chunk(tuple(self.contexts), tuple(self.lines), end_of_file)


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def parse(text: str) -> list[Hunk]:
    """Parse patch text into hunks, or raise PatchError with the offending line number."""
    lines = _unwrap(text)
    if not lines:
        raise PatchError(f"Invalid patch: the patch is empty; it must start with '{BEGIN_PATCH}'")
    if lines[0].stripped != BEGIN_PATCH:
        raise PatchError(
            f"Invalid patch: line {lines[0].number}: the first line must be '{BEGIN_PATCH}', "
            f"got {lines[0].text!r}"
        )
    hunks: list[Hunk] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        if not line.stripped:
            i += 1
        elif line.stripped == END_PATCH:
            _check_nothing_after_end(lines[i + 1 :])
            break
        else:
            hunk, i = _parse_hunk(lines, i, hunks[-1] if hunks else None)
            hunks.append(hunk)
    if not hunks:
        raise PatchError(f"Invalid patch: no file changes between '{BEGIN_PATCH}' and '{END_PATCH}'")
    return hunks


def _unwrap(text: str) -> list[_Line]:
    """Number the lines and peel off the ``` fences and heredoc wrappers that models add."""
    raw = text.replace("\r\n", "\n").split("\n")
    lines = _trim_blank([_Line(n, t) for n, t in enumerate(raw, 1)])
    for _ in range(2):
        lines = _trim_blank(_strip_heredoc(_trim_blank(_strip_fence(lines))))
    return lines


def _trim_blank(lines: list[_Line]) -> list[_Line]:
    start, end = 0, len(lines)
    while start < end and not lines[start].stripped:
        start += 1
    while end > start and not lines[end - 1].stripped:
        end -= 1
    return lines[start:end]


def _strip_fence(lines: list[_Line]) -> list[_Line]:
    if not lines or not lines[0].stripped.startswith(("```", "~~~")):
        return lines
    fence = lines[0].stripped[:3]
    end = -1 if len(lines) > 1 and lines[-1].stripped == fence else len(lines)
    return lines[1:end]


_HEREDOC_START = re.compile(r"^(?:(?:apply_patch|applypatch)\s*)?<<-?\s*(['\"]?)([A-Za-z_][\w.-]*)\1$")


def _strip_heredoc(lines: list[_Line]) -> list[_Line]:
    match = _HEREDOC_START.match(lines[0].stripped) if lines else None
    if match is None:
        return lines
    end = -1 if len(lines) > 1 and lines[-1].stripped == match.group(2) else len(lines)
    return lines[1:end]


def _check_nothing_after_end(rest: list[_Line]) -> None:
    for line in rest:
        if line.stripped:
            raise PatchError(
                f"Invalid patch: line {line.number}: unexpected text after '{END_PATCH}': {line.text!r}"
            )


def _parse_hunk(lines: list[_Line], i: int, previous: Hunk | None) -> tuple[Hunk, int]:
    line = lines[i]
    header = next((h for h in HUNK_HEADERS if line.stripped.startswith(h)), None)
    if header is None:
        hint = "; every line of an added file must start with '+'" if isinstance(previous, AddFile) else ""
        raise PatchError(f"Invalid patch: line {line.number}: {_EXPECTED_HEADER}, got {line.text!r}{hint}")
    path = _header_path(line, header)
    if header == ADD_FILE:
        return _parse_add(lines, i + 1, path)
    if header == DELETE_FILE:
        return DeleteFile(path), i + 1
    return _parse_update(lines, i + 1, path)


def _header_path(line: _Line, header: str) -> str:
    path = line.stripped[len(header) :].strip()
    if not path:
        raise PatchError(f"Invalid patch: line {line.number}: '{header}' must be followed by a path")
    return path


def _parse_add(lines: list[_Line], i: int, path: str) -> tuple[AddFile, int]:
    content: list[str] = []
    while i < len(lines):
        text = lines[i].text
        if text.startswith("+"):
            content.append(text[1:])
        elif not lines[i].stripped and _next_nonblank_is_added(lines, i):
            content.append("")  # a blank line inside the file where the model forgot the '+'
        else:
            break
        i += 1
    return AddFile(path, "".join(f"{line}\n" for line in content)), i


def _next_nonblank_is_added(lines: list[_Line], i: int) -> bool:
    following = next((line for line in lines[i:] if line.stripped), None)
    return following is not None and following.text.startswith("+")


def _parse_update(lines: list[_Line], i: int, path: str) -> tuple[UpdateFile, int]:
    header_line = lines[i - 1]
    move_to = None
    if i < len(lines) and lines[i].stripped.startswith(MOVE_TO):
        move_to = _header_path(lines[i], MOVE_TO)
        i += 1
    chunks: list[Chunk] = []
    builder = _ChunkBuilder()
    while i < len(lines) and not _ends_hunk(lines[i]):
        builder = _parse_update_line(lines[i], builder, chunks, path)
        i += 1
    if builder.has_lines:
        chunks.append(builder.build())
    elif builder.contexts:
        raise PatchError(
            f"Invalid patch: line {lines[i - 1].number}: '@@ {builder.contexts[-1]}' in {path} "
            "is not followed by any ' ', '-' or '+' lines"
        )
    if not chunks and move_to is None:
        raise PatchError(f"Invalid patch: line {header_line.number}: '{UPDATE_FILE} {path}' has no changes")
    return UpdateFile(path, tuple(chunks), move_to), i


def _ends_hunk(line: _Line) -> bool:
    return line.stripped == END_PATCH or line.stripped.startswith(HUNK_HEADERS)


def _parse_update_line(line: _Line, builder: _ChunkBuilder, chunks: list[Chunk], path: str) -> _ChunkBuilder:
    """Feed one body line of an Update; returns the builder for the chunk now in progress."""
    if line.stripped.startswith("@@"):
        if builder.has_lines:
            chunks.append(builder.build())
            builder = _ChunkBuilder()
        builder.started = True
        context = _context_of(line.stripped)
        if context:
            builder.contexts.append(context)
    elif line.stripped == END_OF_FILE:
        if not builder.has_lines:
            raise PatchError(
                f"Invalid patch: line {line.number}: '{END_OF_FILE}' must follow the lines of a chunk"
            )
        chunks.append(builder.build(end_of_file=True))
        builder = _ChunkBuilder()
    elif not line.stripped and not builder.started:
        pass  # blank separator before a chunk
    elif line.text == "" or line.text[0] in " +-":
        builder.add(line.text)
    else:
        raise PatchError(
            f"Invalid patch: line {line.number}: in '{UPDATE_FILE} {path}' every line must start with "
            f"' ' (context), '-' (removed) or '+' (added), or be an '@@' line; got {line.text!r}"
        )
    return builder


_GIT_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@(.*)$")


def _context_of(marker: str) -> str:
    """The search text of an `@@` line ('' for a bare `@@`); git-style line numbers are ignored. Indentation after
    `@@ ` is kept, as in Codex, so that `@@     def method()` finds the indented line before an unindented one."""
    git = _GIT_HUNK_HEADER.match(marker)
    if git:
        return git.group(1).strip()
    return marker[3:] if marker.startswith("@@ ") else marker[2:].strip()


# --------------------------------------------------------------------------------------------------
# Recognising apply_patch inside shell calls
# --------------------------------------------------------------------------------------------------

_SHELLS = ("bash", "sh", "zsh")
_POWERSHELLS = ("powershell", "pwsh")
_HEREDOC_SCRIPT = re.compile(
    r"^\s*(?:apply_patch|applypatch)\s*<<(-?)\s*(['\"]?)([A-Za-z_][\w.-]*)\2[ \t]*\n(.*)$", re.DOTALL
)
# `cd DIR && ` before the heredoc: one word, or one quoted string, and `&&` (not `;`, `||` or `|`), as Codex
_CD_PREFIX = re.compile(r"""^\s*cd\s+('[^']*'|"(?:[^"\\]|\\.)*"|[^\s'";&|<>()`$]+)\s*&&[ \t]*""")
_SNAPSHOT_WRAPPER = '. "$0" && exec "$@"'  # Codex runs commands through its shell snapshot like this


@dataclass(frozen=True)
class PatchInvocation:
    """A shell call that is really an apply_patch call: the patch and the directory its paths are relative to
    (the `cd DIR` before it; None for the working directory)."""

    patch: str
    workdir: str | None = None


def extract_patch_from_command(command: list[str] | str) -> str | None:
    """If a shell tool call is really an apply_patch call, return the patch text, else None.

    After `cd DIR &&` the patch's paths are rewritten to DIR/path, so the patch applies where the shell would
    have applied it (and DIR goes through the same writable-root checks as every path)."""
    invocation = parse_invocation(command)
    if invocation is None:
        return None
    return relocate_patch(invocation.patch, invocation.workdir) if invocation.workdir else invocation.patch


def parse_invocation(command: list[str] | str) -> PatchInvocation | None:
    """The apply_patch call inside a shell tool call (see the module docstring for the forms), else None."""
    if isinstance(command, str):
        return _invocation_from_script(command)
    argv = list(command)
    if len(argv) == 2 and os.path.basename(argv[0]) in COMMAND_NAMES:
        body = argv[1]
        return _invocation_from_script(f"apply_patch {body}") if body.lstrip().startswith("<<") else \
            PatchInvocation(body)
    if len(argv) >= 5 and argv[2] == _SNAPSHOT_WRAPPER and _shell_name(argv[0]) in _SHELLS:
        return parse_invocation(argv[4:])
    script = _shell_script(argv)
    if script is not None:
        return _invocation_from_script(script)
    if len(argv) == 1:
        return _invocation_from_script(argv[0])
    return None


def _shell_name(program: str) -> str:
    """`/bin/bash` -> bash, `powershell.exe` -> powershell."""
    return Path(program.replace("\\", "/")).stem.lower()


def _shell_script(argv: list[str]) -> str | None:
    """The script of `bash -lc S`, `pwsh [-NoProfile] -Command S` or `cmd /c S`; None for other argv."""
    if len(argv) < 3:
        return None
    name, flags = _shell_name(argv[0]), argv[1:-1]
    if name in _SHELLS and _are_script_flags(flags):
        return argv[-1]
    if name in _POWERSHELLS and [flag.lower() for flag in flags] in (["-command"], ["-noprofile", "-command"]):
        return argv[-1]
    if name == "cmd" and [flag.lower() for flag in flags] == ["/c"]:
        return argv[-1]
    return None


def _are_script_flags(flags: list[str]) -> bool:
    """`-c`, `-lc` or `-l -c`: the last argument is a script to run."""
    return bool(flags) and all(re.fullmatch(r"-[a-z]+", flag) for flag in flags) and "c" in flags[-1]


def _invocation_from_script(script: str) -> PatchInvocation | None:
    workdir = None
    if cd := _CD_PREFIX.match(script):
        workdir = _unquote(cd.group(1))
        script = script[cd.end():]
        if not _HEREDOC_SCRIPT.match(script):
            return None  # only `cd DIR && apply_patch <<EOF` is a patch; `cd DIR && anything` is a command
    patch = _patch_from_script(script)
    return PatchInvocation(patch, workdir) if patch is not None else None


def _unquote(word: str) -> str:
    if word[:1] == "'":
        return word[1:-1]
    if word[:1] == '"':
        return re.sub(r"\\(.)", r"\1", word[1:-1])
    return word


def relocate_patch(patch: str, workdir: str) -> str:
    """The patch with every file header's path taken relative to workdir (`*** Add File: a` -> `dir/a`)."""
    headers = (*HUNK_HEADERS, MOVE_TO)
    lines = []
    for line in patch.split("\n"):
        stripped = line.strip()
        header = next((h for h in headers if stripped.startswith(h)), None)
        if header is not None and (path := stripped[len(header):].strip()):
            line = f"{header} {posixpath.normpath(posixpath.join(workdir, path))}"
        lines.append(line)
    return "\n".join(lines)


def _patch_from_script(script: str) -> str | None:
    match = _HEREDOC_SCRIPT.match(script)
    if match is None:
        return _patch_from_quoted_argument(script)
    strip_tabs, delimiter, rest = match.group(1) == "-", match.group(3), match.group(4)
    lines = [line.lstrip("\t") if strip_tabs else line for line in rest.split("\n")]
    end = next((i for i, line in enumerate(lines) if line.strip() == delimiter), None)
    if end is None:
        chained = re.compile(rf"{re.escape(delimiter)}\s*(?:&&|\|\||[;|&])")
        if any(chained.match(line.strip()) for line in lines):
            return None  # `PATCH && echo done`: more commands follow the heredoc
        end = len(lines)  # a missing closing delimiter is tolerated
    if any(line.strip() for line in lines[end + 1 :]):
        return None  # more commands follow the heredoc: not a plain apply_patch call
    return "\n".join(lines[:end]).rstrip("\n") + "\n"


def _patch_from_quoted_argument(script: str) -> str | None:
    """`apply_patch '*** Begin Patch ...'` written as a one-line shell command."""
    if not script.lstrip().startswith(COMMAND_NAMES):
        return None
    try:
        words = shlex.split(script)
    except ValueError:
        return None
    if len(words) == 2 and words[0] in COMMAND_NAMES and BEGIN_PATCH in words[1]:
        return words[1]
    return None


# --------------------------------------------------------------------------------------------------
# Planning: resolve paths and compute new contents without writing
# --------------------------------------------------------------------------------------------------


@dataclass
class _Planner:
    cwd: Path
    roots: tuple[Path, ...]
    contents: dict[Path, str | None] = field(default_factory=dict)  # state after the hunks so far

    def resolve(self, raw: str) -> Path:
        if os.path.isabs(raw) or raw.startswith("~"):
            raise PatchError(f"Invalid path {raw!r}: use a path relative to the working directory")
        path = (self.cwd / raw).resolve()
        if not any(path.is_relative_to(root) for root in self.roots):
            allowed = ", ".join(str(root) for root in self.roots) or "none"
            raise PatchError(f"Invalid path {raw!r}: it is outside the writable directories ({allowed})")
        return path

    def current(self, path: Path, raw: str, strict: bool = False) -> str | None:
        """The file's content as the earlier hunks left it; None if it does not exist.

        `strict` refuses files that are not UTF-8 (they cannot be edited line by line)."""
        if path in self.contents:
            return self.contents[path]
        if not path.exists():
            return None
        if not path.is_file():
            raise PatchError(f"Cannot change {raw}: it is a directory or special file, not a regular file")
        return _read_text(path, raw, strict)

    def add(self, hunk: AddFile) -> FileChange:
        path = self.resolve(hunk.path)
        self.check_creatable(path, hunk.path)
        old = self.current(path, hunk.path)
        self.contents[path] = hunk.content
        kind: Literal["add", "update"] = "add" if old is None else "update"
        return FileChange(path, kind, old, hunk.content, add_over_existing=old is not None)

    def delete(self, hunk: DeleteFile) -> FileChange:
        path = self.resolve(hunk.path)
        if path not in self.contents and (self.cwd / hunk.path).is_symlink():
            raise PatchError(f"Cannot delete {hunk.path}: it is a symlink, not a regular file")
        old = self.current(path, hunk.path)
        if old is None:
            raise PatchError(f"Cannot delete {hunk.path}: the file does not exist")
        self.contents[path] = None
        return FileChange(path, "delete", old, None)

    def update(self, hunk: UpdateFile) -> FileChange:
        path = self.resolve(hunk.path)
        old = self.current(path, hunk.path, strict=True)
        if old is None:
            raise PatchError(
                f"Cannot update {hunk.path}: the file does not exist (use '{ADD_FILE}' to create it)"
            )
        new = apply_chunks(old, hunk.chunks, hunk.path)
        move_to = self.resolve(hunk.move_to) if hunk.move_to else None
        if move_to == path:
            move_to = None
        if move_to is not None:
            self.check_creatable(move_to, hunk.move_to or "")
            self.contents[path] = None
        self.contents[move_to or path] = new
        return FileChange(path, "update", old, new, move_to)

    def check_creatable(self, path: Path, raw: str) -> None:
        if self.contents.get(path) is not None:
            return
        if path.is_dir():
            raise PatchError(f"Cannot write {raw}: it is a directory")
        for parent in path.parents:
            if self.contents.get(parent) is not None or (parent.exists() and not parent.is_dir()):
                raise PatchError(f"Cannot write {raw}: {parent.name} is a file, not a directory")
            if parent.exists():
                return


def _read_text(path: Path, raw: str, strict: bool) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PatchError(f"Cannot read {raw}: {e.strerror or e}") from e
    try:
        return data.decode("utf-8", errors="strict" if strict else "replace")
    except UnicodeDecodeError as e:
        raise PatchError(f"Cannot change {raw}: it is not a UTF-8 text file") from e


def plan(patch_text: str, cwd: Path, writable_roots: Sequence[Path]) -> list[FileChange]:
    """Parse the patch and compute every file's new content, reading files but writing nothing."""
    hunks = parse(patch_text)
    planner = _Planner(cwd.resolve(), tuple(Path(root).resolve() for root in writable_roots))
    changes: list[FileChange] = []
    for hunk in hunks:
        try:
            if isinstance(hunk, AddFile):
                changes.append(planner.add(hunk))
            elif isinstance(hunk, DeleteFile):
                changes.append(planner.delete(hunk))
            else:
                changes.append(planner.update(hunk))
        except (OSError, ValueError) as e:  # unreadable paths, names too long, NUL bytes...
            raise PatchError(f"Cannot use path {hunk.path!r}: {e}") from e
    return changes


# --------------------------------------------------------------------------------------------------
# Applying chunks to text
# --------------------------------------------------------------------------------------------------

_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", " "),
        **dict.fromkeys("\u202f\u205f\u3000", " "),
    }
)


def _ascii_punctuation(line: str) -> str:
    return line.strip().translate(_PUNCTUATION).strip()


_TOLERANCE_LADDER: tuple[Callable[[str], str], ...] = (
    lambda line: line,
    str.rstrip,
    str.strip,
    _ascii_punctuation,
)


def seek(lines: Sequence[str], pattern: Sequence[str], start: int, at_end: bool = False) -> int | None:
    """Index of the first match of `pattern` at or after `start` (only at the very end if `at_end`),
    trying each tolerance level over the whole range before the next, looser one."""
    if not pattern:
        return start
    last = len(lines) - len(pattern)
    if last < 0:
        return None
    first = last if at_end else start
    for normalise in _TOLERANCE_LADDER:
        wanted = [normalise(line) for line in pattern]
        normalised = [normalise(line) for line in lines]
        for i in range(first, last + 1):
            if normalised[i : i + len(wanted)] == wanted:
                return i
    return None


@dataclass(frozen=True)
class _Text:
    """A file's text as lines without their endings, each line's own ending ("\\n", "\\r\\n", or "" for a last
    line without one), the file's majority ending and its BOM, so all of them survive the edit."""

    lines: list[str]
    endings: list[str]
    eol: str
    bom: str

    @classmethod
    def of(cls, content: str) -> _Text:
        bom = "\ufeff" if content.startswith("\ufeff") else ""
        content = content.removeprefix(bom)
        eol = "\r\n" if content.count("\r\n") * 2 > content.count("\n") else "\n"
        pieces = content.split("\n")
        lines, endings = [], []
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            if last and piece == "":
                break
            crlf = not last and piece.endswith("\r")
            lines.append(piece[:-1] if crlf else piece)
            endings.append("" if last else "\r\n" if crlf else "\n")
        return cls(lines, endings, eol, bom)

    def ending_before(self, index: int) -> str:
        return (self.endings[index - 1] or self.eol) if index > 0 else self.eol

    def render(self, lines: list[tuple[str, str]]) -> str:
        return self.bom + "".join(line + (ending or self.eol) for line, ending in lines)


def apply_chunks(content: str, chunks: Sequence[Chunk], display_path: str) -> str:
    """The file content after the chunks; the result always ends with a line ending."""
    text = _Text.of(content)
    replacements: list[tuple[int, int, list[tuple[str, str]]]] = []
    position = 0
    for number, chunk in enumerate(chunks, 1):
        position = _seek_contexts(text.lines, chunk, position, display_path, number)
        start, diff_lines = _locate(text.lines, chunk, position, display_path, number)
        old_len = sum(1 for line in diff_lines if line[0] in " -")
        replacements.append((start, old_len, _replacement(diff_lines, text, start)))
        if chunk.old_lines or chunk.contexts:  # a context-free addition goes to the end; the search goes on
            position = start + old_len
    lines = list(zip(text.lines, text.endings, strict=True))
    for start, old_len, new in reversed(sorted(replacements, key=lambda r: r[0])):
        lines[start : start + old_len] = new
    return text.render(lines)


def _seek_contexts(lines: list[str], chunk: Chunk, position: int, path: str, number: int) -> int:
    for context in chunk.contexts:
        found = seek(lines, [context], position)
        if found is None:
            raise PatchError(f"Failed to find context line '@@ {context}' in {path} (hunk {number})")
        position = found + 1
    return position


def _locate(
    lines: list[str], chunk: Chunk, position: int, path: str, number: int
) -> tuple[int, tuple[str, ...]]:
    """Where the chunk's old lines start, and the diff lines that matched there."""
    if not chunk.old_lines:
        return (position if chunk.contexts else len(lines)), chunk.lines
    diff_lines = chunk.lines
    found = seek(lines, chunk.old_lines, position, chunk.end_of_file)
    while found is None and _ends_with_blank_context(diff_lines):
        diff_lines = diff_lines[:-1]  # a trailing blank line the model added as a separator
        found = seek(lines, [line[1:] for line in diff_lines if line[0] in " -"], position, chunk.end_of_file)
    if found is None:
        where = "at the end of " if chunk.end_of_file else "in "
        expected = "\n".join(f"    {line}" for line in chunk.old_lines)
        raise PatchError(f"Failed to find expected lines {where}{path} (hunk {number}):\n{expected}")
    return found, diff_lines


def _ends_with_blank_context(diff_lines: Sequence[str]) -> bool:
    """True if the last line is blank context and dropping it still leaves lines to match."""
    last = diff_lines[-1]
    return last[0] == " " and not last.strip() and any(line[0] in " -" for line in diff_lines[:-1])


def _replacement(diff_lines: Sequence[str], text: _Text, start: int) -> list[tuple[str, str]]:
    """The new (line, ending) pairs. Context lines keep the file's own text (which a tolerant match may not
    equal) and ending; a '+' line after '-' lines takes the ending of the line it replaces, any other '+' line
    the ending of the line before it."""
    new: list[tuple[str, str]] = []
    replaced: list[str] = []  # endings of the '-' lines not yet paired with a '+' line
    index = start
    for line in diff_lines:
        if line[0] == " ":
            new.append((text.lines[index], text.endings[index]))
            replaced.clear()
            index += 1
        elif line[0] == "-":
            replaced.append(text.endings[index])
            index += 1
        else:
            ending = replaced.pop(0) if replaced else (new[-1][1] if new else text.ending_before(start))
            new.append((line[1:], ending))
    return new


# --------------------------------------------------------------------------------------------------
# Writing, all or nothing
# --------------------------------------------------------------------------------------------------


class PartlyApplied(PatchError):
    """Another process changed the tree after the patch's commit point, so some targets could not be written;
    `written` says which were. The journal's `on_written` has already run with it."""

    def __init__(self, message: str, written: patch_journal.Written) -> None:
        super().__init__(message)
        self.written = written


def apply(changes: Sequence[FileChange], cwd: Path | None = None, journal_dir: Path | None = None,
          on_written: Callable[[patch_journal.Written], None] | None = None,
          audit: bool = False) -> patch_journal.Written:
    """Write the planned changes all or nothing, through a journal (agent.tools.patch_journal) in `journal_dir`
    (default CODEX_HOME/journal), with no symlink followed on the way; raises PatchError if no file was changed.

    Every path is written exactly where `plan()` resolved it, or not at all. `on_written` runs once every file
    is in place and before the journal is removed, so whatever it records (the audit) is redone by recovery if
    the process dies first; `audit` tells recovery whether to write audit records. `cwd`, if given, makes paths
    in messages relative. A tree changed by another process after the commit point raises PartlyApplied."""
    directory = cwd.resolve() if cwd is not None else Path.cwd()
    try:
        written = patch_journal.write(final_targets(changes), journal_dir or patch_journal.default_journal_dir(),
                                      directory, audit, on_written)
    except patch_journal.NothingWritten as e:
        raise PatchError(_failure_message(e, cwd)) from e
    if written.failed:
        raise PartlyApplied(partial_message(written, cwd), written)
    return written


def final_targets(changes: Sequence[FileChange]) -> list[patch_journal.Target]:
    """Each touched path in its state after the whole patch, in the order the patch first touches it.

    A path's first update or delete must still find the text the plan read; a written file keeps the mode of
    the file it came from (itself, or a move's source), as that file was before the patch."""
    new: dict[Path, str | None] = {}
    mode_of: dict[Path, Path | None] = {}  # None: a new file's default mode
    expected: dict[Path, str] = {}
    for change in changes:
        if change.kind != "add" and change.path not in new and change.old_content is not None:
            expected[change.path] = change.old_content
        if change.kind == "delete":
            new[change.path], mode_of[change.path] = None, None
            continue
        target = change.move_to or change.path
        mode_of[target] = mode_of.get(change.path, change.path)
        new[target] = change.new_content or ""
        if target != change.path:
            new[change.path], mode_of[change.path] = None, None
    return [patch_journal.Target(path, None if content is None else content.encode("utf-8"),
                                 mode_of.get(path), expected.get(path))
            for path, content in new.items()]


def _failure_message(error: patch_journal.NothingWritten, cwd: Path | None) -> str:
    verb = "delete" if error.deleting else "write"
    message = f"Failed to {verb} {_display(error.path, cwd)}: {error.reason}. "
    if not error.leftovers:
        return message + "No files were changed."
    names = ", ".join(_display(path, cwd) for path in error.leftovers)
    return message + f"No files were changed, but these temporary files could not be removed yet: {names}."


def partial_message(written: patch_journal.Written, cwd: Path | None) -> str:
    """The files another process kept the patch from writing after its commit point, and the ones it wrote."""
    failed = "; ".join(f"{_display(path, cwd)} ({reason})" for path, reason in written.failed.items())
    return (f"The patch was only partly applied: another process changed the tree while it was written. "
            f"Not written: {failed}. The other {len(written.done)} files were written.")


def relocation_note(written: patch_journal.Written, cwd: Path | None) -> str:
    """A sentence per directory another process moved (or removed) while the patch was written; '' if none."""
    notes = []
    for planned, now in written.relocated.items():
        where = f"its files are now in {_display(now, cwd)}" if now is not None else "it has been removed since"
        notes.append(f"Another process moved {_display(planned, cwd)} while the patch was written; {where}.")
    return " ".join(notes)


# --------------------------------------------------------------------------------------------------
# Summary and the whole tool
# --------------------------------------------------------------------------------------------------


def _display(path: Path, cwd: Path | None) -> str:
    return os.path.relpath(path, cwd.resolve()) if cwd is not None else str(path)


def summarize(changes: Sequence[FileChange], cwd: Path) -> str:
    """One line per change: `A path`, `M path` or `D path`, the added first, then the modified, then the deleted
    (each in patch order), as Codex prints them; a move shows as `M new_path`; an Add File over an existing file
    is `A`."""
    letters = {"add": "A", "update": "M", "delete": "D"}
    rows = [("A" if c.add_over_existing else letters[c.kind], _display(c.move_to or c.path, cwd)) for c in changes]
    return "\n".join(f"{letter} {path}" for letter, path in sorted(rows, key=lambda row: "AMD".index(row[0])))


def apply_patch(patch_text: str, cwd: Path, writable_roots: Sequence[Path]) -> tuple[list[FileChange], str]:
    """Plan, apply and summarise a patch; raises PatchError with nothing written on any problem."""
    changes = plan(patch_text, cwd, writable_roots)
    apply(changes, cwd)
    return changes, summarize(changes, cwd)
