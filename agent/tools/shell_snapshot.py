"""Shell snapshots: run the user's login shell once, save what its rc files set up, and run each later
`bash -lc SCRIPT` as `bash -c '. SNAPSHOT; SCRIPT'`, so the rc files (pyenv, nvm, ...: 100-300 ms) do not run
again for every command. Codex does the same (`[features] shell_snapshot`).

What is captured: the exported variables (not those that belong to one process: PWD, SHLVL, RANDOM, ...),
`unset` for variables the command's environment had and the rc files removed, aliases, functions, the
umask, `shopt` and `set -o` options. Not captured: traps, non-exported variables, a `cd` in the rc files.

Trust, by construction (docs/sandbox.md): a confined snapshot is taken by the commands' own launcher (the
same sandbox) and every snapshot with the commands' environment, the agent itself writes the file
from that process's output into a directory only it writes (mode 0700, the file 0600, kept visible and
read-only inside the sandbox, removed at exit), and a snapshot is only used for commands of the same kind
(policy, environment, working directory) as the process that made it. Which commands may use one is the
shell tool's decision (agent.tools.shell_tool); this module rewrites argv and takes snapshots.

The rewrite sources the snapshot best effort (`. SNAP >/dev/null 2>&1 || :`, as Codex does) and then runs
SCRIPT on the next line, whatever the sourcing did: a snapshot that fails to load costs the rc set-up, never
the command's result. The newline lets aliases from the snapshot apply to SCRIPT (bash parses `-c` text one
line at a time); SCRIPT's line numbers are one higher than under `bash -lc`.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import secrets
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import UserError
from agent.processes import Spawn
from agent.tools import process_runner

TAKE_TIMEOUT_MS = 5_000
READY_WAIT_S = 1.0  # how long a command waits for a snapshot being taken before it runs plain `bash -lc`
EXIT_WAIT_S = 1.0  # how long the agent's exit waits for one (see Snapshots.settle)
BASH_PATHS = ("bash", "/bin/bash", "/usr/bin/bash")
# Set per process by bash or the caller; a snapshot must not freeze them.
PER_COMMAND_VARS = frozenset({
    "PWD", "OLDPWD", "SHLVL", "_", "RANDOM", "SRANDOM", "LINENO", "BASHPID", "PPID", "UID", "EUID", "SECONDS",
    "EPOCHSECONDS", "EPOCHREALTIME", "BASH_COMMAND", "BASH_SUBSHELL", "BASH_EXECUTION_STRING", "BASH_ARGV0",
    "BASHOPTS", "SHELLOPTS", "COLUMNS", "LINES", "HISTCMD", "COMP_WORDBREAKS",
})
_EXPORT = re.compile(r"^export ([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotKey:
    """What a snapshot is valid for: the starter's kind and policy (any hashable), the directory and the
    environment. A command of another kind never uses it."""

    kind: object
    cwd: Path
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, kind: object, cwd: Path, env: Mapping[str, str]) -> SnapshotKey:
        return cls(kind, Path(os.path.realpath(cwd)), tuple(sorted(env.items())))


def login_script(argv: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """(SCRIPT, ARG0 ARGS...) for exactly `bash -lc SCRIPT [ARG0 ARGS...]` or `bash -l -c ...` (bash, /bin/bash
    or /usr/bin/bash); None for anything else."""
    if not argv or argv[0] not in BASH_PATHS:
        return None
    if len(argv) >= 3 and argv[1] == "-lc":
        return argv[2], tuple(argv[3:])
    if len(argv) >= 4 and argv[1] == "-l" and argv[2] == "-c":
        return argv[3], tuple(argv[4:])
    return None


def rewrite(argv: Sequence[str], snapshot: Path) -> list[str] | None:
    """`bash -c '. SNAP >/dev/null 2>&1 || :<newline>SCRIPT' [ARG0 ARGS...]` for a login-shell argv, else None."""
    found = login_script(argv)
    if found is None:
        return None
    script, rest = found
    return [argv[0], "-c", f". {shlex.quote(str(snapshot))} >/dev/null 2>&1 || :\n{script}", *rest]


@functools.cache
def snapshot_dir() -> Path:
    """This process's snapshot directory (mode 0700, only the agent writes it), removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="codex-shell-snapshot-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(os.path.realpath(path))


def capture_script(nonce: str) -> str:
    """The `-c` text run by the login shell: prints the state between two marker lines (rc output may precede
    it on the same pipe). Values are quoted by `printf %q`, so each variable takes one line."""
    skipped = "|".join(sorted(PER_COMMAND_VARS))
    return "\n".join([
        "builtin compgen -e >/dev/null || exit 97",  # no programmable completion: no list of exports, no snapshot
        f"printf '\\n%s\\n' '{nonce}-begin'",
        "for __codex_n in $(compgen -e); do",
        f"  case $__codex_n in {skipped}) continue;; esac",
        '  case ${!__codex_n@a} in *r*) continue;; esac',
        "  printf 'export %s=%q\\n' \"$__codex_n\" \"${!__codex_n}\"",
        "done",
        "alias -p",
        "declare -f",
        "printf 'umask %s\\n' \"$(umask)\"",
        "shopt -p",
        "set +o",
        f"printf '%s\\n' '{nonce}-end'",
    ])


def snapshot_text(output: str, nonce: str, env: Mapping[str, str]) -> str | None:
    """The file's text from the login shell's output, or None when the markers are missing or the output was
    not valid UTF-8. Variables of `env` the rc files removed are unset by it, as `bash -lc` would have them."""
    begin, end = f"\n{nonce}-begin\n", f"\n{nonce}-end\n"
    start = output.rfind(begin)
    stop = output.find(end, start + len(begin) - 1) if start >= 0 else -1
    if start < 0 or stop < 0 or "\ufffd" in output:
        return None
    body = re.sub(r"^shopt -[su] login_shell\n", "", output[start + len(begin):stop + 1], flags=re.MULTILINE)
    exported = set(_EXPORT.findall(body))
    if "PATH" in env and "PATH" not in exported:  # the listing failed somehow; unsetting everything would be worse
        return None
    removed = [name for name in sorted(env) if name not in exported and name not in PER_COMMAND_VARS
               and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
    unsets = "".join(f"unset -v {name}\n" for name in removed)
    return f"# shell snapshot written by codex-local; sourced before `bash -lc` commands\n{unsets}{body}"


def take(spawn: Spawn, cwd: Path, env: Mapping[str, str]) -> Path | None:
    """Run `bash -lc` once through spawn (the commands' own starter) and write its snapshot; None on any failure."""
    nonce = secrets.token_hex(16)
    result = process_runner.run(["bash", "-lc", capture_script(nonce)], cwd, env, TAKE_TIMEOUT_MS, spawn=spawn)
    text = snapshot_text(result.output, nonce, env) if result.exit_code == 0 and not result.timed_out else None
    if text is None:
        _log.debug("no shell snapshot: bash -lc exited %s", result.exit_code)
        return None
    path = snapshot_dir() / f"snapshot-{nonce}.sh"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        _log.debug("no shell snapshot: writing %s failed: %s", path, exc)
        return None
    return path


@dataclass
class _Entry:
    ready: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None


class Snapshots:
    """The snapshots of one session (one per key), each taken once, in the background or by `ensure`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[SnapshotKey, _Entry] = {}
        self._closed = False
        atexit.register(self.settle)

    def settle(self, timeout_s: float | None = None) -> None:
        """Wait (at most timeout_s) for snapshots still being taken: at exit the launcher would kill the login
        shell in the middle of its rc files, and some leave a lock behind then (pyenv rehash's
        shims/.pyenv-shim: every later login shell waits 60 s for it). A session shorter than its rc files
        ends up to this much later."""
        with self._lock:
            self._closed = True  # none starts after this
            pending = [entry for entry in self._entries.values() if not entry.ready.is_set()]
        deadline = time.monotonic() + (EXIT_WAIT_S if timeout_s is None else timeout_s)
        for entry in pending:
            entry.ready.wait(max(0.0, deadline - time.monotonic()))

    def ensure(self, key: SnapshotKey, spawn: Spawn) -> Path | None:
        """Take key's snapshot now unless it is taken or being taken (then wait for it, briefly)."""
        entry, mine = self._claim(key)
        if not mine:
            entry.ready.wait(READY_WAIT_S)
            return entry.path
        try:
            entry.path = take(spawn, key.cwd, dict(key.env))
        except (OSError, UserError) as exc:  # the directory could not be made, the sandbox refused to start
            _log.debug("no shell snapshot: %s", exc)
        finally:
            entry.ready.set()
        return entry.path

    def get(self, key: SnapshotKey, spawn: Spawn) -> Path | None:
        """key's snapshot if it is ready (waiting briefly for one being taken); else None, and it is taken in
        the background for the next command of this key."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            threading.Thread(target=self.ensure, args=(key, spawn), name="codex-shell-snapshot", daemon=True).start()
            return None
        entry.ready.wait(READY_WAIT_S)
        return entry.path if entry.path is not None and entry.path.is_file() else None

    def _claim(self, key: SnapshotKey) -> tuple[_Entry, bool]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                return entry, False
            if self._closed:
                closed = _Entry()
                closed.ready.set()
                return closed, False
            entry = self._entries[key] = _Entry()
            return entry, True


_shared = Snapshots()


def shared() -> Snapshots:
    """The process's snapshots (a process runs one session)."""
    return _shared

