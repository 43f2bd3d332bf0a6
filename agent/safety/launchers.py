"""Sandboxed commands started from a launcher that is already running.

Every sandboxed command goes through the launcher (sandbox_exec.py), a Python process that confines
itself and then execs the command. Most of its cost is the interpreter's own start (8-10 ms of the
12-16 ms it adds to a command here; benchmarks/sandbox.py). So a session keeps one launcher started
ahead of need, with `--await FD`: when a command comes, it gets the policy, the command, the working
directory and the environment over that pipe, confines itself and runs it; when the command has ended,
another launcher is started in the background for the next one (not before: on a small machine an
interpreter starting beside the command slows it down). The kernel-enforced confinement is exactly that of
`wrap_command`; only the moment the interpreter starts changes.

The spare is started with the stdio a command gets (stdin /dev/null, stdout and stderr one pipe, its
own session), so the `Popen` returned is the command's, pid and process group included. A spare
whose policy no longer matches (the user switched sandbox modes) is told to exit and replaced.
Every launcher also holds the read end of this process's lifeline pipe: when the agent dies, even by
SIGKILL, the launcher sees end of file and kills its command (spares are started from short-lived
threads, so PR_SET_PDEATHSIG, which follows the parent thread, cannot be used).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import marshal
import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.fileio import write_all
from agent.processes import popen
from agent.safety import sandbox

SPARE_EXIT_TIMEOUT_S = 2.0


@dataclass
class _Spare:
    policy: sandbox.SandboxPolicy
    process: subprocess.Popen[bytes]
    control: int  # write end of the pipe the launcher waits on

    def send(self, message: bytes) -> None:
        try:  # the launcher is already reading, so a message larger than the pipe's buffer is fine
            write_all(self.control, message)
        finally:
            os.close(self.control)

    def dismiss(self) -> None:
        """Close its pipe without a command: it exits at once; reap it."""
        with contextlib.suppress(OSError):
            os.close(self.control)
        try:
            self.process.wait(SPARE_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass(frozen=True)
class _Starting:
    thread: threading.Thread
    spawning: threading.Event  # set once the command it waited for has ended


class Launchers:
    """Starts sandboxed commands; keeps one launcher ready for the next command's policy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: _Spare | None = None
        self._starting: _Starting | None = None
        atexit.register(self.close)

    def start(self, policy: sandbox.SandboxPolicy, argv: Sequence[str], cwd: Path,
              env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start argv under policy, like `Popen(wrap_command(argv, policy), ...)` with a command's stdio.

        Raises SandboxUnavailable (before anything runs) if the kernel cannot enforce the policy.
        """
        if not argv:
            raise ValueError("a command is needed")
        sandbox.check_available(policy)
        message = marshal.dumps(([*sandbox.policy_args(policy), "--", *argv], str(cwd), dict(env)))
        spare = self._take(policy)
        if spare is not None:
            try:
                spare.send(message)
            except BrokenPipeError:  # it died after all (killed from outside): start one now
                spare.dismiss()
                spare = None
        if spare is None:
            spare = _spawn(policy)
            spare.send(message)
        self._prepare(policy, after=spare.process)
        return spare.process

    def close(self) -> None:
        spare = self._pop()
        if spare is not None:
            spare.dismiss()

    def _pop(self) -> _Spare | None:
        """The spare, no longer kept; waits for one being started (normally long done by then)."""
        with self._lock:
            starting, self._starting = self._starting, None
        if starting is not None and starting.spawning.is_set():  # not while it waits for a command still running
            starting.thread.join()
        with self._lock:
            spare, self._spare = self._spare, None
        return spare

    def _take(self, policy: sandbox.SandboxPolicy) -> _Spare | None:
        """The spare, if it is alive and for this policy; any other is dismissed."""
        spare = self._pop()
        if spare is None:
            return None
        if spare.policy == policy and spare.process.poll() is None:
            return spare
        spare.dismiss()
        return None

    def warm_up(self, policy: sandbox.SandboxPolicy) -> None:
        """Have a spare ready for policy before the first command (a session calls this as it starts)."""
        with self._lock:
            if self._spare is not None or self._starting is not None:
                return
        self._prepare(policy)

    def _prepare(self, policy: sandbox.SandboxPolicy, after: subprocess.Popen[bytes] | None = None) -> None:
        """Start the next spare once `after` (the command just started) has ended: an interpreter starting
        beside the command would compete with it for the CPU."""

        spawning = threading.Event()

        def run() -> None:
            with contextlib.suppress(OSError):
                if after is not None:
                    after.wait()
            spawning.set()
            try:
                spare = _spawn(policy)
            except OSError:  # no spare then: the next command starts its launcher itself and reports the error
                return
            with self._lock:
                old, self._spare = self._spare, spare
            if old is not None:
                old.dismiss()

        thread = threading.Thread(target=run, name="codex-sandbox-spare", daemon=True)
        with self._lock:
            self._starting = _Starting(thread, spawning)
        thread.start()


@functools.cache
def _lifeline() -> int:
    """The read end of a pipe whose write end this process keeps open (and no child inherits) until it dies:
    a launcher polls it and kills its command when it reports end of file."""
    read_end, _write_end = os.pipe()
    return read_end


def _spawn(policy: sandbox.SandboxPolicy) -> _Spare:
    read_end, write_end = os.pipe()
    lifeline = _lifeline()
    try:
        # the command's stdio, as the shell tool gives it: the Popen returned for the command is this one
        process = popen([*sandbox.launcher(), "--await", str(read_end), "--lifeline", str(lifeline)], None,
                        os.environ, (read_end, lifeline))
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return _Spare(policy, process, write_end)  # os.pipe's ends are not inherited by later children


_shared: Launchers | None = None
_shared_lock = threading.Lock()


def shared() -> Launchers:
    """The process's launchers (one spare at a time is plenty: commands of a session run one by one)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Launchers()
        return _shared
