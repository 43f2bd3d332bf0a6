"""The `shell` tool: run one argv, stream its output, report exit code and wall time.

The process gets its own process group so a timeout or an interrupt kills everything it
started. Output goes to the model truncated in the middle (head and tail kept), because
the end of a build log matters as much as its start. Whether a command may run at all
is decided before this module is called (agent.safety.approval).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import ShellEnvironmentPolicy

DEFAULT_TIMEOUT_MS = 120_000
MODEL_MAX_BYTES = 10 * 1024
MODEL_MAX_LINES = 256
KEEP_IN_MEMORY_BYTES = 8 * 1024 * 1024
BACKGROUND_GRACE_S = 1.0  # how long to keep reading after the command itself exited
TERMINATE_GRACE_S = 0.5  # between SIGTERM and SIGKILL when a command is stopped
CORE_ENV_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP", "LANG", "TERM")
SECRET_PATTERNS = ("*KEY*", "*SECRET*", "*TOKEN*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*")

TOOL_SPEC: dict[str, Any] = {
    "name": "shell",
    "description": (
        "Run a command and get its exit code, wall time and combined stdout+stderr. "
        'Pass argv as a list, e.g. ["bash", "-lc", "ls -la src"]; use bash -lc for pipes, globs and &&. '
        "Runs in the session's working directory unless workdir is given. Long output is cut in the middle. "
        "Use apply_patch, not shell, to edit files."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "command": {"type": "array", "items": {"type": "string"},
                        "description": 'argv, e.g. ["bash", "-lc", "pytest -q"]'},
            "workdir": {"type": "string", "description": "working directory, default: the session's cwd"},
            "timeout_ms": {"type": "number", "description": "kill after this many milliseconds"},
            "with_escalated_permissions": {"type": "boolean", "description": "ask to run outside the sandbox"},
            "justification": {"type": "string", "description": "why escalation is needed, shown to the user"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
}


class ShellArgumentError(ValueError):
    """The model's arguments do not describe a command; the message tells it what to send."""


@dataclass(frozen=True)
class ShellParams:
    command: tuple[str, ...]
    workdir: str | None = None
    timeout_ms: int | None = None
    with_escalated_permissions: bool = False
    justification: str | None = None

    @property
    def display(self) -> str:
        return shlex.join(self.command)


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    interrupted: bool = False


def parse_params(args: Mapping[str, Any]) -> ShellParams:
    command = args.get("command")
    if isinstance(command, str) and command.strip():
        command = ["bash", "-lc", command]  # small models often send a string
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise ShellArgumentError('"command" must be a non-empty list of strings, e.g. ["bash", "-lc", "ls"]')
    timeout = args.get("timeout_ms")
    return ShellParams(
        command=tuple(command),
        workdir=args.get("workdir") or None,
        timeout_ms=int(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
        with_escalated_permissions=bool(args.get("with_escalated_permissions", False)),
        justification=args.get("justification") or None,
    )


def resolve_workdir(params: ShellParams, cwd: Path) -> Path:
    workdir = (cwd / params.workdir).resolve() if params.workdir else cwd
    if not workdir.is_dir():
        raise ShellArgumentError(f"workdir {params.workdir!r} is not a directory")
    return workdir


def build_env(policy: ShellEnvironmentPolicy, base: Mapping[str, str] = os.environ,
              withheld: Sequence[str] = ()) -> dict[str, str]:
    """Codex's order: inherit, default excludes, exclude, set, then include_only (patterns case-insensitive).

    `withheld` names are never inherited, whatever the policy (CODEX_HOME, the provider's key variable);
    only `set` can give a command one of them."""
    if policy.inherit == "none":
        env: dict[str, str] = {}
    elif policy.inherit == "core":
        env = {k: v for k, v in base.items() if k in CORE_ENV_VARS}
    else:
        env = dict(base)
    for name in withheld:
        env.pop(name, None)
    excluded = (*(() if policy.ignore_default_excludes else SECRET_PATTERNS), *policy.exclude)
    env = {k: v for k, v in env.items() if not _matches_any(k, excluded)}
    env.update(policy.set)
    if policy.include_only:
        env = {k: v for k, v in env.items() if _matches_any(k, policy.include_only)}
    return env


def _matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in patterns)


Spawn = Callable[[Sequence[str], Path, Mapping[str, str]], "subprocess.Popen[bytes]"]


def popen(argv: Sequence[str], cwd: Path | None, env: Mapping[str, str],
          pass_fds: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start a command as the shell tool runs it: no stdin, stdout and stderr merged, its own process group.
    (A sandbox launcher started ahead of its command, agent.safety.launchers, is started the same way.)"""
    return subprocess.Popen(
        list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, pass_fds=tuple(pass_fds),
    )


def run(
    argv: list[str] | tuple[str, ...],
    cwd: Path,
    env: Mapping[str, str],
    timeout_ms: int | None = None,
    on_output: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    spawn: Spawn = popen,
) -> ShellResult:
    """Run argv (started by spawn, e.g. in a sandbox) to completion, a timeout, or `cancel`; never raises for
    a failing command."""
    started = time.monotonic()
    try:
        proc = spawn(argv, cwd, env)
    except OSError as e:
        return ShellResult(127, f"failed to start {argv[0]}: {e.strerror or e}", time.monotonic() - started)
    deadline = started + (timeout_ms or DEFAULT_TIMEOUT_MS) / 1000
    with proc:
        output, stopped = _pump(proc, deadline, on_output, cancel)
        exit_code = proc.wait()
    duration = time.monotonic() - started
    return ShellResult(exit_code, output, duration, timed_out=stopped == "timeout", interrupted=stopped == "cancel")


def _pump(proc: subprocess.Popen[bytes], deadline: float, on_output: Callable[[str], None] | None,
          cancel: threading.Event | None) -> tuple[str, str | None]:
    """Collect output until EOF, or until a background process keeps the pipe open after the command exited."""
    assert proc.stdout is not None
    chunks: list[bytes] = []
    kept = 0
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            stop = "timeout" if now > deadline else "cancel" if cancel and cancel.is_set() else None
            if stop:
                _kill_group(proc)
                return _decode(chunks), stop
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > BACKGROUND_GRACE_S:
                return _decode(chunks), None  # e.g. `server &`: leave it running, stop reading
            if not selector.select(timeout=0.05):
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                return _decode(chunks), None
            if kept < KEEP_IN_MEMORY_BYTES:
                chunks.append(data)
                kept += len(data)
            if on_output:
                on_output(data.decode("utf-8", errors="replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process (a launcher then kills everything below it, even what left the group), then
    SIGKILL to its process group."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(TERMINATE_GRACE_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", errors="replace")


def truncate_middle(text: str, max_bytes: int = MODEL_MAX_BYTES, max_lines: int = MODEL_MAX_LINES) -> str:
    """Keep the head and tail of `text` within both budgets, saying how much was cut."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= max_lines and len(text.encode()) <= max_bytes:
        return text
    if len(lines) == 1:  # one enormous line: keep both of its ends (characters: at most 4 bytes each)
        keep = max_bytes // 8
        marker = f"\n[... {len(text) - 2 * keep} characters cut from the middle of a {len(text)}-character line ...]\n"
        return text[:keep] + marker + text[-keep:]
    head, tail = _split_budget(lines, max_lines // 2, max_bytes // 2)
    cut_lines = len(lines) - len(head) - len(tail)
    marker = f"\n[... {cut_lines} lines cut from the middle; {len(lines)} lines in total ...]\n"
    return "".join(head) + marker + "".join(tail)


def _split_budget(lines: list[str], line_budget: int, byte_budget: int) -> tuple[list[str], list[str]]:
    def take(seq: list[str]) -> list[str]:
        taken, used = [], 0
        for line in seq[:line_budget]:
            size = len(line.encode())
            if used + size > byte_budget:
                if not taken:  # one enormous line: keep a slice of it
                    taken.append(line[: byte_budget // 4] + "…\n")
                break
            taken.append(line)
            used += size
        return taken

    head = take(lines)
    tail = list(reversed(take(list(reversed(lines[len(head):])))))
    return head, tail


def format_for_model(result: ShellResult) -> str:
    notes = []
    if result.timed_out:
        notes.append("command timed out and was killed")
    if result.interrupted:
        notes.append("command was interrupted by the user")
    header = [f"Exit code: {result.exit_code}", f"Wall time: {result.duration_s:.1f} seconds"]
    header += [f"Note: {n}" for n in notes]
    return "\n".join(header) + "\nOutput:\n" + truncate_middle(result.output)
