"""The process runner behind the `shell` tool: run one argv to its end, a timeout or an interrupt, streaming
its output, and say what happened in the text the model gets.

The process gets its own process group (agent.processes.popen) so a timeout or an interrupt kills
everything it started. Output goes to the model cut in the middle (agent.tools.truncation). Whether a
command may run at all, and in which sandbox, is decided before this module is called
(agent.safety.approval, agent.tools.shell_tool); this module never raises for a failing command.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.processes import Spawn, popen
from agent.tools.truncation import truncate_middle

DEFAULT_TIMEOUT_MS = 120_000
KEEP_IN_MEMORY_BYTES = 8 * 1024 * 1024
BACKGROUND_GRACE_S = 1.0  # how long to keep reading after the command itself exited
TERMINATE_GRACE_S = 0.5  # between SIGTERM and SIGKILL when a command is stopped


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    output: str
    duration_s: float
    timed_out: bool = False
    interrupted: bool = False


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


def format_for_model(result: ShellResult) -> str:
    notes = []
    if result.timed_out:
        notes.append("command timed out and was killed")
    if result.interrupted:
        notes.append("command was interrupted by the user")
    header = [f"Exit code: {result.exit_code}", f"Wall time: {result.duration_s:.1f} seconds"]
    header += [f"Note: {n}" for n in notes]
    return "\n".join(header) + "\nOutput:\n" + truncate_middle(result.output)
