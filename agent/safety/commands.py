"""Which commands are known to be safe (read-only) and which ones look dangerous.

`is_known_safe` decides whether a command may run without asking under the `untrusted` approval policy: it
must be a read-only inspection tool from a short list (`ls`, `cat`, `grep`, `git status`, ...) used with
flags that keep it read-only. A `bash -lc` / `sh -c` / `zsh -lc` script is parsed with tree-sitter-bash,
never pattern-matched: it is safe only if it is plainly a list of simple commands joined by `&&`, `||`,
`;` or `|`, each of them safe, with no redirection, substitution, expansion, assignment or anything else
the parser reports. When in doubt the answer is "not safe", which only means the user is asked.

`danger_flags` gives human-readable warnings for the approval dialog (`rm -rf`, `sudo`, `curl | sh`, ...).
It is advice, best effort, and never a reason to approve anything: an empty list does not mean safe.

This module is not a sandbox. A known-safe command still runs inside the sandbox the policy chooses, and
nothing here executes, resolves paths or looks at the file system.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from itertools import pairwise

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

Rule = Callable[[list[str]], bool]
DangerCheck = Callable[[str, list[str]], list[str]]


class _Unsupported(Exception):
    """The script holds a construct we cannot vouch for."""


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def is_known_safe(argv: Sequence[str]) -> bool:
    """True if the command (direct argv or a `bash -lc script` wrapper) only reads, so it may run unasked."""
    argv = list(argv)
    script = _wrapped_script(argv)
    if script is None:
        return _is_safe_argv(argv)
    commands = split_script(script)
    return commands is not None and all(_is_safe_argv(command) for command in commands)


def runs_git(argv: Sequence[str]) -> bool:
    """True if the command, or a simple command of its `bash -lc` script, is git (see git_programs)."""
    argv = list(argv)
    script = _wrapped_script(argv)
    commands = [argv] if script is None else split_script(script) or []
    return any(command and os.path.basename(command[0]) == "git" for command in commands)


def danger_flags(argv: Sequence[str]) -> list[str]:
    """Warnings for the approval dialog, e.g. "deletes files recursively (rm -rf)"; [] when nothing stands out."""
    return list(dict.fromkeys(_argv_dangers(list(argv), depth=0)))


def split_script(script: str) -> list[list[str]] | None:
    """The simple commands of a shell script as argv lists, or None if it is anything more than that.

    Accepted: simple commands joined by `&&`, `||`, `;`, `|` or newlines, whose words are plain words or
    quoted strings without expansions. Unquoted glob or brace characters are accepted only for commands
    whose every option is read-only (`ls *.py`), since an expansion could otherwise smuggle in an option
    such as `find -delete`. Everything else (redirections, substitutions, variables, assignments, heredocs,
    subshells, `&`, functions, control flow, parse errors, an empty script) gives None.
    """
    try:
        source = script.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if b"\x00" in source:
        return None
    root = _parse(source)
    if root.has_error:
        return None
    try:
        commands = [_argv_of(command, source) for command in _simple_commands(root, source)]
    except _Unsupported:
        return None
    return commands or None


# --------------------------------------------------------------------------------------------------
# Parsing scripts with tree-sitter-bash
# --------------------------------------------------------------------------------------------------

_SEPARATORS = frozenset({"&&", "||", ";", "|"})
_STATEMENT_NODES = frozenset({"program", "list", "pipeline"})
_UNQUOTED_EXPANSIONS = frozenset("*?[{")  # glob and brace expansion: the shell may change the argv
_UNQUOTED_FORBIDDEN = frozenset("$`()<>;&|'\" \t\n\r")  # the parser should have made nodes of these
_DOUBLE_QUOTE_ESCAPES = frozenset('$`"\\')


@cache
def _bash() -> Language:
    return Language(tree_sitter_bash.language())


def _parse(source: bytes) -> Node:
    return Parser(_bash()).parse(source).root_node


def _simple_commands(node: Node, source: bytes) -> Iterator[Node]:
    """The `command` nodes of a tree made only of lists, pipelines and separators."""
    if node.type == "command":
        yield node
        return
    if node.type not in _STATEMENT_NODES:
        raise _Unsupported(node.type)
    start, end = (0, len(source)) if node.type == "program" else (node.start_byte, node.end_byte)
    _check_gaps(node.children, source, start, end, b" \t\n", required=False)
    for child in node.children:
        if not child.is_named and child.type not in _SEPARATORS:
            raise _Unsupported(child.type)
        if child.is_named and child.type != "comment":
            yield from _simple_commands(child, source)


def _check_gaps(children: list[Node], source: bytes, start: int, end: int, allowed: bytes, required: bool) -> None:
    """Text the parser skipped must be blanks; bash and tree-sitter disagree on `\\`-newline inside words."""
    edges = [start, *(edge for child in children for edge in (child.start_byte, child.end_byte)), end]
    for index in range(0, len(edges), 2):
        gap = source[edges[index] : edges[index + 1]].replace(b"\\\n", b"")
        between_children = 0 < index < len(edges) - 2
        if gap.strip(allowed) or (required and between_children and not gap):
            raise _Unsupported("unexpected text between words")


def _argv_of(command: Node, source: bytes) -> list[str]:
    """The words of a simple command; raises on glob or brace words the command cannot be trusted with."""
    if command.children[0].type != "command_name":
        raise _Unsupported("assignment")
    _check_gaps(command.children, source, command.start_byte, command.end_byte, b" \t", required=True)
    words = [_word(_unwrap_name(child)) for child in command.children]
    argv = [text for text, _ in words]
    if words[0][1] or (any(expands for _, expands in words) and _command_name(argv[0]) not in _ANY_ARGS):
        raise _Unsupported("expansion")
    return argv


def _unwrap_name(node: Node) -> Node:
    if node.type != "command_name":
        return node
    if len(node.children) != 1:
        raise _Unsupported("command name")
    return node.children[0]


def _word(node: Node) -> tuple[str, bool]:
    """A word's value as the shell passes it on, and whether the shell would expand it (globs, braces)."""
    text = _text(node)
    if node.type in ("word", "number"):
        return _unquoted(text)
    if node.type == "raw_string":
        return text[1:-1], False
    if node.type == "string":
        if any(child.type not in ('"', "string_content") for child in node.children):
            raise _Unsupported("expansion in string")
        return _double_quoted(text[1:-1]), False
    if node.type == "concatenation":
        if any(left.end_byte != right.start_byte for left, right in pairwise(node.children)):
            raise _Unsupported("gap in concatenation")
        parts = [_word(child) for child in node.children]
        return "".join(text for text, _ in parts), any(expands for _, expands in parts)
    raise _Unsupported(node.type)


def _unquoted(text: str) -> tuple[str, bool]:
    value, expands, chars = [], False, iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise _Unsupported("trailing backslash")
            value.append("" if escaped == "\n" else escaped)
        elif char in _UNQUOTED_FORBIDDEN:
            raise _Unsupported(char)
        else:
            expands = expands or char in _UNQUOTED_EXPANSIONS
            value.append(char)
    return "".join(value), expands


def _double_quoted(content: str) -> str:
    value, chars = [], iter(content)
    for char in chars:
        if char in "$`":
            raise _Unsupported(char)
        if char != "\\":
            value.append(char)
            continue
        escaped = next(chars, "")
        if escaped == "\n":
            continue
        value.append(escaped if escaped in _DOUBLE_QUOTE_ESCAPES else char + escaped)
    return "".join(value)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8")


# --------------------------------------------------------------------------------------------------
# The safe list
# --------------------------------------------------------------------------------------------------

_SCRIPT_SHELLS = frozenset({"bash", "sh", "zsh"})
_SCRIPT_FLAGS = frozenset({"-c", "-lc"})
_STANDARD_DIRS = frozenset({"/bin", "/usr/bin"})

# Read-only whatever their arguments: no option writes, deletes or runs another program.
_ANY_ARGS = frozenset({
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "true", "false", "which", "whoami", "id", "uname",
    "nl", "cut", "tr", "diff", "cmp", "stat", "du", "df", "grep", "egrep", "fgrep",
})  # fmt: skip

_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"})
_GIT_READ_ONLY = frozenset({"status", "log", "diff", "show", "branch", "rev-parse", "ls-files", "blame", "grep"})
_GIT_WRITING_OPTIONS = ("output", "ext-diff", "open-files-in-pager")
_BRANCH_FLAGS = frozenset({
    "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "--show-current", "--color", "--no-color",
    "--column", "--no-column", "-i", "--ignore-case", "-l", "--list", "--contains", "--no-contains",
    "--merged", "--no-merged", "--points-at",
})  # fmt: skip
_BRANCH_LIST_MODE = frozenset({"-l", "--list", "--contains", "--no-contains", "--merged", "--no-merged", "--points-at"})
_BRANCH_VALUE_PREFIXES = (
    "--sort=", "--format=", "--color=", "--column=", "--abbrev=",
    "--contains=", "--no-contains=", "--merged=", "--no-merged=", "--points-at=",
)  # fmt: skip
_VERSION_QUERIES = {
    "python": ("--version", "-V"), "python3": ("--version", "-V"), "node": ("--version", "-v"),
    "npm": ("--version", "-v"), "cargo": ("--version", "-V"), "rustc": ("--version", "-V"),
    "go": ("version",), "java": ("-version", "--version"), "ruby": ("--version",), "perl": ("--version",),
    "pip": ("--version",), "pip3": ("--version",), "gcc": ("--version",), "clang": ("--version",),
    "make": ("--version",), "cmake": ("--version",), "uv": ("--version",), "deno": ("--version",),
}  # fmt: skip


def _wrapped_script(argv: list[str]) -> str | None:
    """The script of `bash -lc SCRIPT` (also `-c`, `sh`, `zsh`), else None."""
    if len(argv) == 3 and _command_name(argv[0]) in _SCRIPT_SHELLS and argv[1] in _SCRIPT_FLAGS:
        return argv[2]
    return None


def _command_name(program: str) -> str | None:
    """`ls` or `/usr/bin/ls` → `ls`; `./ls` or `/tmp/ls` → None (not the tool we know)."""
    directory, name = os.path.split(program)
    return name if directory in ("", *_STANDARD_DIRS) and name else None


def _is_safe_argv(argv: list[str]) -> bool:
    if not argv:
        return False
    name = _command_name(argv[0])
    if name in _VERSION_QUERIES:
        return len(argv) == 2 and argv[1] in _VERSION_QUERIES[name]
    rule = _SAFE_RULES.get(name or "")
    return rule is not None and rule(argv[1:])


def _uses_option(args: list[str], short: str, long: tuple[str, ...]) -> bool:
    """Does any argument name one of these options? Long names may be abbreviated, as GNU getopt allows."""
    for arg in args:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name and any(option.startswith(name) for option in long):
                return True
        elif arg.startswith("-") and any(letter in short for letter in arg[1:]):
            return True
    return False


def _without(short: str, *long: str) -> Rule:
    return lambda args: not _uses_option(args, short, long)


def _find(args: list[str]) -> bool:
    return not _FIND_ACTIONS.intersection(args)


def _sed(args: list[str]) -> bool:
    """Only `sed -n 1,20p [file...]`: print a line or a range of lines."""
    return (
        len(args) >= 2
        and args[0] == "-n"
        and _is_print_script(args[1])
        and not any(arg.startswith("-") for arg in args[2:])
    )


def _is_print_script(script: str) -> bool:
    addresses = script.removesuffix("p").split(",")
    return script.endswith("p") and len(addresses) <= 2 and all(_is_line_address(a) for a in addresses)


def _is_line_address(address: str) -> bool:
    return address == "$" or (address.isascii() and address.isdigit())


def _uniq(args: list[str]) -> bool:
    """`uniq INPUT OUTPUT` writes OUTPUT: allow at most one file."""
    return sum(1 for arg in args if arg == "-" or not arg.startswith("-")) <= 1


def _git(args: list[str]) -> bool:
    """Read-only subcommands only; no global options (`-c`, `-C`, `--git-dir`) except `--no-pager`."""
    while args[:1] == ["--no-pager"]:
        args = args[1:]
    if args == ["--version"]:
        return True
    if not args or args[0] not in _GIT_READ_ONLY or _uses_option(args[1:], "", _GIT_WRITING_OPTIONS):
        return False
    subcommand, rest = args[0], args[1:]
    if subcommand == "grep":
        return not _uses_option(rest, "O", ())
    return subcommand != "branch" or _is_branch_listing(rest)


def _is_branch_listing(args: list[str]) -> bool:
    """`git branch` that only lists: known listing flags, and patterns only in list mode."""
    options = [arg for arg in args if arg.startswith("-")]
    if not all(arg in _BRANCH_FLAGS or arg.startswith(_BRANCH_VALUE_PREFIXES) for arg in options):
        return False
    list_mode = any(arg.split("=", 1)[0] in _BRANCH_LIST_MODE for arg in options)
    return list_mode or len(options) == len(args)


_SAFE_RULES: dict[str, Rule] = {
    **dict.fromkeys(_ANY_ARGS, lambda args: True),
    "printf": _without("v"),  # the bash builtin's -v assigns a variable (PATH, say)
    "date": _without("s", "set"),
    "sort": _without("o", "output", "compress-program"),
    "file": _without("C", "compile"),
    "tree": _without("oR"),  # -o writes the listing to a file, -R writes 00Tree.html files
    "rg": _without("z", "pre", "pre-glob", "search-zip", "hostname-bin"),
    "uniq": _uniq,
    "find": _find,
    "sed": _sed,
    "git": _git,
}


# --------------------------------------------------------------------------------------------------
# Danger flags (best effort, for the approval dialog)
# --------------------------------------------------------------------------------------------------

_MAX_DEPTH = 4
_ANY_SHELL = frozenset({"bash", "sh", "zsh", "dash", "ksh", "fish"})
_INTERPRETERS = _ANY_SHELL | {"python", "python3", "perl", "ruby", "node"}
_DOWNLOADERS = frozenset({"curl", "wget"})
_PRIVILEGE_TOOLS = frozenset({"sudo", "doas", "pkexec"})
# Commands that run the rest of their arguments as a command, with their options that take a value.
_PREFIX_COMMANDS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-T", "-U"}),
    "doas": frozenset({"-u", "-C"}),
    "pkexec": frozenset({"--user"}),
    "env": frozenset({"-u", "-C", "-S"}),
    "nice": frozenset({"-n"}),
    "timeout": frozenset({"-s", "-k"}),
    "xargs": frozenset({"-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a"}),
    "nohup": frozenset(), "time": frozenset(), "command": frozenset(), "exec": frozenset(),
}  # fmt: skip
_GIT_GLOBAL_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})
_HARMLESS_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&"})
_HOME_OR_ROOT = frozenset({"/", "/*", "~", "~/", "~/*", "$HOME", "$HOME/", "$HOME/*", "${HOME}", "${HOME}/*"})


def _argv_dangers(argv: list[str], depth: int) -> list[str]:
    inner, flags = _unwrap(argv)
    if not inner:
        return flags
    name, args = os.path.basename(inner[0]), inner[1:]
    script = " ".join(args) if name == "eval" else _any_shell_script(inner)
    if script is not None:
        return flags + _script_dangers(script, depth + 1)
    check = _DANGER_CHECKS.get("mkfs" if name.startswith("mkfs.") else name)
    return flags + (check(name, args) if check else [])


def _unwrap(argv: list[str]) -> tuple[list[str], list[str]]:
    """Strip `sudo`, `env`, `nohup`, `xargs`... : the command that really runs, and `uses sudo` flags on the way."""
    flags = []
    while argv and (name := os.path.basename(argv[0])) in _PREFIX_COMMANDS:
        if name in _PRIVILEGE_TOOLS:
            flags.append(f"uses {name}")
        argv = _after_options(argv[1:], _PREFIX_COMMANDS[name])
        if name == "timeout":
            argv = argv[1:]  # the duration
    return argv, flags


def _after_options(args: list[str], value_options: frozenset[str]) -> list[str]:
    index = 0
    while index < len(args) and (args[index].startswith("-") or "=" in args[index]):
        if args[index] == "--":
            return args[index + 1 :]
        index += 2 if args[index] in value_options else 1
    return args[index:]


def _any_shell_script(argv: list[str]) -> str | None:
    """The script of `bash -c`, `sh -xc`, `zsh -o x -lc` ... in any form."""
    if os.path.basename(argv[0]) not in _ANY_SHELL:
        return None
    for index, arg in enumerate(argv[1:-1], start=1):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg:
            return argv[index + 1]
    return None


def _script_dangers(script: str, depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return []
    flags: list[str] = []
    for node in _descendants(_parse(script.encode("utf-8", "replace"))):
        if node.type == "command":
            flags += _argv_dangers(_loose_argv(node), depth) + _substituted_download(node)
        elif node.type == "file_redirect":
            flags += _redirect_dangers(node)
        elif node.type == "pipeline":
            flags += _piped_download(node)
    return flags


def _descendants(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _loose_argv(command: Node) -> list[str]:
    """A command's words, quotes removed where that is simple, raw text otherwise."""
    skipped = ("variable_assignment", "file_redirect", "herestring_redirect", "comment")
    return [_loose_word(child) for child in command.children if child.is_named and child.type not in skipped]


def _loose_word(node: Node) -> str:
    try:
        return _word(_unwrap_name(node))[0]
    except _Unsupported:
        return _text(node)


def _runs(command: Node) -> str:
    """The program a command node really runs, after `sudo`, `env` and the like."""
    inner, _ = _unwrap(_loose_argv(command))
    return os.path.basename(inner[0]) if inner else ""


def _substituted_download(command: Node) -> list[str]:
    """`bash <(curl ...)`, `sh -c "$(wget ...)"`."""
    if _runs(command) not in _INTERPRETERS:
        return []
    nested = (node for node in _descendants(command) if node.type == "command" and node != command)
    return ["pipes a download into a shell"] if any(_runs(node) in _DOWNLOADERS for node in nested) else []


def _piped_download(pipeline: Node) -> list[str]:
    """`curl ... | sh`, `wget -O- ... | sudo bash`."""
    stages = [
        {_runs(node) for node in _descendants(stage) if node.type == "command"}
        for stage in pipeline.children
        if stage.is_named
    ]
    downloads = [index for index, programs in enumerate(stages) if programs & _DOWNLOADERS]
    shells = [index for index, programs in enumerate(stages) if programs & _INTERPRETERS]
    return ["pipes a download into a shell"] if downloads and shells and max(shells) > min(downloads) else []


def _redirect_dangers(redirect: Node) -> list[str]:
    operators = {child.type for child in redirect.children if not child.is_named}
    destination = redirect.child_by_field_name("destination")
    if destination is None or not operators & _WRITE_REDIRECTS:
        return []
    target = _loose_word(destination)
    if target in _HARMLESS_SINKS or target.startswith(("/dev/fd/", "/tmp/")) or target.isdigit() or target == "-":
        return []
    if target.startswith("/dev/"):
        return [f"writes directly to a device ({target})"]
    if target.startswith(("/", "~", "$HOME", "${HOME}", "..")):
        return [f"writes outside the working directory via redirection to {target}"]
    return []


def _rm(name: str, args: list[str]) -> list[str]:
    recursive = _uses_option(args, "rR", ("recursive",))
    force = _uses_option(args, "f", ("force",))
    flags = [f"deletes files recursively (rm {'-rf' if force else '-r'})"] if recursive else []
    if _uses_option(args, "", ("no-preserve-root",)):
        flags.append("disables rm's protection of / (--no-preserve-root)")
    if recursive and _HOME_OR_ROOT.intersection(args):
        flags.append("deletes the root or home directory")
    return flags


def _git_dangers(name: str, args: list[str]) -> list[str]:
    rest = _after_options(args, _GIT_GLOBAL_VALUE_OPTIONS)
    subcommand, rest = (rest[0], rest[1:]) if rest else ("", [])
    flags = []
    if subcommand == "push" and (
        _uses_option(rest, "f", ("force", "force-with-lease", "force-if-includes"))
        or any(arg.startswith("+") for arg in rest)
    ):
        flags.append("force-pushes with git")
    if subcommand == "push" and (_uses_option(rest, "d", ("delete",)) or any(arg.startswith(":") for arg in rest)):
        flags.append("deletes a remote branch (git push --delete)")
    if subcommand == "reset" and "--hard" in rest:
        flags.append("discards uncommitted changes (git reset --hard)")
    if subcommand == "clean" and _uses_option(rest, "f", ("force",)):
        flags.append("deletes untracked files (git clean -f)")
    if subcommand == "branch" and _uses_option(rest, "D", ()):
        flags.append("force-deletes a branch (git branch -D)")
    return flags


def _chmod(name: str, args: list[str]) -> list[str]:
    flags = ["changes permissions recursively (chmod -R)"] if _uses_option(args, "R", ("recursive",)) else []
    modes = [arg for arg in args if not arg.startswith("-") and _is_world_writable(arg)]
    return flags + [f"makes files writable by everyone (chmod {mode})" for mode in modes[:1]]


def _is_world_writable(mode: str) -> bool:
    if mode.isascii() and mode.isdigit():
        return 3 <= len(mode) <= 4 and set(mode) <= set("01234567") and int(mode[-1]) & 2 == 2
    for clause in mode.split(","):
        operator = next((index for index, char in enumerate(clause) if char in "+="), None)
        if operator is not None and set("ao") & set(clause[:operator]) and "w" in clause[operator:]:
            return True
    return False


def _chown(name: str, args: list[str]) -> list[str]:
    return [f"changes ownership recursively ({name} -R)"] if _uses_option(args, "R", ("recursive",)) else []


def _dd(name: str, args: list[str]) -> list[str]:
    devices = [arg for arg in args if arg.startswith("of=/dev/") and arg[3:] not in _HARMLESS_SINKS]
    return [f"writes directly to a device (dd {arg})" for arg in devices]


def _find_dangers(name: str, args: list[str]) -> list[str]:
    return ["deletes files (find -delete)"] if "-delete" in args else []


def _always(message: str) -> DangerCheck:
    return lambda name, args: [message.format(name=name)]


_DISK_TOOL = _always("formats or partitions a disk ({name})")
_POWER_TOOL = _always("shuts down or reboots the machine ({name})")
_DANGER_CHECKS: dict[str, DangerCheck] = {
    "rm": _rm,
    "git": _git_dangers,
    "chmod": _chmod,
    "chown": _chown,
    "chgrp": _chown,
    "dd": _dd,
    "find": _find_dangers,
    "su": _always("uses su"),
    **dict.fromkeys(("mkfs", "mke2fs", "wipefs", "fdisk", "sfdisk", "parted"), _DISK_TOOL),
    **dict.fromkeys(("shutdown", "reboot", "halt", "poweroff"), _POWER_TOOL),
    "shred": _always("overwrites files beyond recovery (shred)"),
}
