"""Sandboxed commands started from a launcher that was started ahead of need: real processes, real kernel."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.safety.launchers import Launchers
from agent.safety.sandbox import SandboxPolicy, landlock_abi, namespace_error

pytestmark = pytest.mark.skipif(landlock_abi() < 1 or bool(namespace_error()),
                                reason="needs Landlock and user namespaces on this kernel")

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GREETING": "hello from the env"}


@pytest.fixture
def launchers() -> Iterator[Launchers]:
    pool = Launchers()
    yield pool
    pool.close()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    return root


def workspace_write(root: Path) -> SandboxPolicy:
    return SandboxPolicy("workspace-write", (root,), (root / ".git",))


def run(launchers: Launchers, policy: SandboxPolicy, script: str, cwd: Path) -> tuple[int, str]:
    process = launchers.start(policy, ["bash", "-c", script], cwd, ENV)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output.decode()


def spare_pid(launchers: Launchers) -> int:
    """The pid of the launcher started (in the background) after the last command."""
    if launchers._starting is not None:
        launchers._starting.thread.join()
    assert launchers._spare is not None
    return launchers._spare.process.pid


def test_command_runs_confined_in_its_directory_with_its_environment(launchers: Launchers, workspace: Path,
                                                                     tmp_path: Path):
    (workspace / "src").mkdir()
    script = ('pwd; echo "$GREETING"; echo ok > made.txt; echo no > ../outside.txt; echo no > ../ws/.git/x;'
              'readlink /proc/self/ns/net')

    status, output = run(launchers, workspace_write(workspace), script, workspace / "src")

    lines = output.splitlines()
    assert status == 0, output
    assert lines[0] == str(workspace / "src") and lines[1] == "hello from the env"
    assert (workspace / "src" / "made.txt").read_text() == "ok\n"
    assert not (tmp_path / "outside.txt").exists() and not (workspace / ".git" / "x").exists()
    assert lines[-1] != os.readlink("/proc/self/ns/net")  # a network namespace of its own


def test_next_command_uses_the_launcher_started_after_the_previous_one(launchers: Launchers, workspace: Path):
    policy = workspace_write(workspace)
    run(launchers, policy, "true", workspace)
    ready = spare_pid(launchers)

    process = launchers.start(policy, ["bash", "-c", "echo $$"], workspace, ENV)
    output, _ = process.communicate(timeout=30)

    assert process.pid == ready and process.returncode == 0
    assert output.decode().strip() == "2"  # the command under init, in a PID namespace of its own


def test_a_spare_for_another_policy_is_dismissed_and_exits_cleanly(launchers: Launchers, workspace: Path):
    run(launchers, workspace_write(workspace), "true", workspace)
    spare_pid(launchers)
    stale = launchers._spare.process

    status, output = run(launchers, SandboxPolicy("read-only"), "echo no > x.txt", workspace)

    assert status != 0 and not (workspace / "x.txt").exists()
    assert stale.wait(5) == 0  # told to go, not killed


def test_close_lets_the_spare_exit_without_output(workspace: Path):
    pool = Launchers()
    run(pool, workspace_write(workspace), "true", workspace)
    spare_pid(pool)
    spare = pool._spare
    assert spare is not None

    pool.close()

    assert spare.process.returncode == 0 and pool._spare is None


def test_unknown_command_exits_127_and_the_process_group_can_be_killed(launchers: Launchers, workspace: Path):
    policy = workspace_write(workspace)
    missing = launchers.start(policy, ["no-such-command-xyz"], workspace, ENV)
    output, _ = missing.communicate(timeout=30)
    assert missing.returncode == 127 and b"no-such-command-xyz: command not found" in output

    sleeper = launchers.start(policy, ["bash", "-c", "sleep 60 & sleep 60"], workspace, ENV)
    os.killpg(sleeper.pid, signal.SIGKILL)  # what an interrupt does
    assert sleeper.wait(10) == -signal.SIGKILL
    sleeper.communicate(timeout=5)  # end of output: the background sleep went with the group


def test_a_spare_killed_from_outside_is_replaced(launchers: Launchers, workspace: Path):
    policy = workspace_write(workspace)
    run(launchers, policy, "true", workspace)
    pid = spare_pid(launchers)
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead (not yet reaped) before the next command comes

    status, output = run(launchers, policy, "echo still works", workspace)

    assert status == 0 and output == "still works\n"
