"""AGENTS.md discovery: which instruction files apply to a working directory, and the message they make.

Order, most general first (so deeper files win when they disagree):

1. the global file: `$CODEX_HOME/AGENTS.override.md` if it exists, else `$CODEX_HOME/AGENTS.md`;
2. one file per directory from the git root (`agent.git.repo_root`: the nearest ancestor holding a `.git`
   entry; the working directory itself when not in a repository) down to the working directory:
   `AGENTS.override.md` if it exists, else `AGENTS.md`, else the first existing file of `fallback_filenames`
   (config `project_doc_fallback_filenames`, e.g. `CLAUDE.md`), in the order given.

An existing override file always wins, so an empty `AGENTS.override.md` silences that directory's
`AGENTS.md`. Files whose text is only whitespace are skipped; unreadable files are skipped too.

`max_bytes` (config `project_doc_max_bytes`) budgets the project files only, counted in UTF-8 bytes of
file content across all of them, as Codex does: the global file is always included whole, a file that
crosses the budget is cut on a character boundary, later files are dropped, and `truncated` says so.
`max_bytes = 0` disables project files (the global file is still read).

The message is byte-stable for the same files, so the model's prompt prefix stays cacheable. This module
does not run git, watch files, or build the system prompt.
"""

from dataclasses import dataclass
from pathlib import Path

from agent.git import repo_root

OVERRIDE_FILENAME = "AGENTS.override.md"
DEFAULT_FILENAME = "AGENTS.md"
OPEN_TAG = "<user_instructions>"
CLOSE_TAG = "</user_instructions>"


@dataclass(frozen=True)
class ProjectDocs:
    """The instruction files that apply and the user-instructions message they make."""

    files: tuple[Path, ...]  # the files actually included, in order
    text: str  # the user-instructions message body sent to the model ("" if none)
    truncated: bool


def discover_agents_files(cwd: Path, codex_home: Path, fallback_filenames: tuple[str, ...] = ()) -> list[Path]:
    """The candidate files in order: the global one, then one per directory from the repo root to cwd."""
    global_file = _pick(codex_home)
    return ([global_file] if global_file else []) + _project_files(cwd, global_file, fallback_filenames)


def load_project_docs(cwd: Path, codex_home: Path, max_bytes: int = 32768,
                      fallback_filenames: tuple[str, ...] = ()) -> ProjectDocs:
    """Read the AGENTS.md chain for cwd into one user-instructions message (see the module docstring)."""
    sections: list[tuple[Path, str]] = []
    global_file = _pick(codex_home)
    if global_file and (data := _read(global_file)):
        sections.append((global_file, data.decode("utf-8", errors="replace")))
    budget, truncated = max(max_bytes, 0), False
    for path in _project_files(cwd, global_file, fallback_filenames) if budget else []:
        data = _read(path)
        if not data:
            continue
        if budget == 0:
            truncated = True
            break
        kept = _cut(data, budget)
        budget -= len(kept)
        truncated = truncated or len(kept) < len(data)
        if kept.strip():
            sections.append((path, kept.decode("utf-8", errors="replace")))
    return ProjectDocs(tuple(path for path, _ in sections), render_user_instructions(sections), truncated)


def render_user_instructions(sections: list[tuple[Path, str]]) -> str:
    """Wrap (path, text) sections as the user-instructions message; "" when there are none."""
    if not sections:
        return ""
    body = "\n\n".join(f"# AGENTS.md instructions from {path}\n\n{text.strip()}" for path, text in sections)
    return f"{OPEN_TAG}\n\n{body}\n\n{CLOSE_TAG}"


def _pick(directory: Path, fallback_filenames: tuple[str, ...] = ()) -> Path | None:
    for name in (OVERRIDE_FILENAME, DEFAULT_FILENAME, *fallback_filenames):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _project_dirs(cwd: Path) -> list[Path]:
    cwd = cwd.resolve()
    root = repo_root(cwd) or cwd
    chain = []
    for directory in (cwd, *cwd.parents):
        chain.append(directory)
        if directory == root:
            break
    return chain[::-1]


def _project_files(cwd: Path, global_file: Path | None, fallback_filenames: tuple[str, ...] = ()) -> list[Path]:
    names = tuple(name for name in fallback_filenames if name and "/" not in name)
    found = [_pick(directory, names) for directory in _project_dirs(cwd)]
    seen = {global_file.resolve()} if global_file else set()
    return [path for path in found if path and path.resolve() not in seen]


def _read(path: Path) -> bytes:
    """The file's bytes, or b"" when it is only whitespace or cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return b""
    return data if data.strip() else b""


def _cut(data: bytes, limit: int) -> bytes:
    """At most limit bytes of data, never splitting a UTF-8 character."""
    if len(data) <= limit:
        return data
    end = limit
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end]


def with_developer_instructions(base: str, developer: str | None) -> str:
    """The system instructions with config `developer_instructions` after them, as Codex sends them after its
    base instructions (in a developer message); base alone when there are none."""
    if not developer or not developer.strip():
        return base
    return f"{base.rstrip()}\n\n<developer_instructions>\n{developer.strip()}\n</developer_instructions>\n"
