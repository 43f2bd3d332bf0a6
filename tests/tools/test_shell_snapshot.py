"""Shell snapshots: a session runs the login shell's rc files once (in the commands' own sandbox) and its
`bash -lc` commands get their functions, aliases and exports from the snapshot; the snapshot cannot be
changed from the sandbox, brings back no withheld variable, is not used by unconfined commands of a
sandboxed session, and `[features] shell_snapshot = false` turns it off. Real processes, real sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config
from agent.protocol import CommandExecution, Event, ItemCompleted
from agent.safety import sandbox
from agent.tools import shell_snapshot, shell_tool
from agent.tools.context import ToolContext

PROFILE = '. ~/.bashrc\necho run >> ~/rc.log\n'
BASHRC = ("shopt -s expand_aliases\ngreet() { echo \"hi $1\"; }\nalias hello='echo aliased'\n"
          "export SNAP_TEST_VAR=from-rc\n")
USES_RC = "greet snapshot; hello; echo \"var=$SNAP_TEST_VAR\""
MakeConfig = Callable[..., Config]

needs_sandbox = pytest.mark.skipif(
    bool(sandbox.landlock_abi() < 1 or sandbox.namespace_error()), reason="this kernel cannot run the sandbox")


@pytest.fixture
def home(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with a login profile that logs each run, inside the workspace (a sandbox hides the rest of /tmp)."""
    path = git_repo / "home"
    path.mkdir()
    (path / ".bash_profile").write_text(PROFILE)
    (path / ".bashrc").write_text(BASHRC)
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture
def make_config(git_repo: Path, codex_home: Path) -> MakeConfig:
    def make(mode: str, *settings: str, approval: str = "never") -> Config:
        overrides = Overrides(cwd=git_repo, sandbox_mode=mode, approval_policy=approval, config_overrides=settings)
        return load_config(overrides, dict(os.environ, CODEX_HOME=str(codex_home)))

    return make


def run(config: Config, command: list[str], events: list[Event] | None = None, **args: object) -> str:
    sink = events if events is not None else []
    ids = iter(range(1, 1000))
    ctx = ToolContext(config, sink.append, lambda: f"item_{next(ids)}", threading.Event(), lambda request: "approve")
    return shell_tool.run_shell({"command": command, **args}, ctx)


def rc_runs(home: Path) -> int:
    log = home / "rc.log"
    return log.read_text().count("run") if log.exists() else 0


def snapshot_files(home: Path) -> list[Path]:
    return [path for path in shell_snapshot.snapshot_dir().iterdir() if f"export HOME={home}\n" in path.read_text()]


@needs_sandbox
@pytest.mark.parametrize("mode", ["workspace-write", "read-only", "danger-full-access"])
def test_rc_functions_aliases_and_exports_reach_bash_lc_and_the_rc_files_run_once(
        mode: str, home: Path, make_config: MakeConfig) -> None:
    config = make_config(mode)
    shell_tool.prepare(config)  # what the session's warm-up runs in the background
    outputs = [run(config, ["bash", "-lc", USES_RC]) for _ in range(3)]
    for output in outputs:
        assert output.startswith("Exit code: 0") and "hi snapshot\naliased\nvar=from-rc\n" in output, output
    if mode != "read-only":  # a read-only sandbox refuses the rc file's own log line
        assert rc_runs(home) == 1
    assert len(snapshot_files(home)) == 1


@needs_sandbox
def test_arguments_and_exit_codes_pass_through_the_rewritten_command(home: Path, make_config: MakeConfig) -> None:
    config = make_config("workspace-write")
    shell_tool.prepare(config)
    output = run(config, ["/bin/bash", "-lc", 'greet "$1"; echo "$0 $#"; exit 7', "zero", "one two"])
    assert output.startswith("Exit code: 7") and "hi one two\nzero 1\n" in output, output
    assert rc_runs(home) == 1


@needs_sandbox
@pytest.mark.parametrize(("mode", "snapshot_parent_writable"),
                         [("workspace-write", False), ("workspace-write", True),
                          ("read-only", False)])  # read-only has a writable private /tmp too
def test_a_sandboxed_command_cannot_change_the_snapshot(
        mode: str, snapshot_parent_writable: bool, home: Path, make_config: MakeConfig) -> None:
    parent = shell_snapshot.snapshot_dir().parent
    settings = [f'sandbox_workspace_write.writable_roots=["{parent}"]'] if snapshot_parent_writable else []
    config = make_config(mode, *settings)
    shell_tool.prepare(config)
    [snapshot] = snapshot_files(home)
    before = (snapshot.read_bytes(), snapshot.stat().st_mode, sorted(os.listdir(snapshot.parent)))
    script = "; ".join([
        f"f={snapshot}", 'd="${f%/*}"', 'test -r "$f" && echo readable',
        '(echo evil >> "$f") 2>/dev/null && echo appended', '(: > "$f") 2>/dev/null && echo truncated',
        'chmod 777 "$f" 2>/dev/null && echo chmodded', 'rm -f "$f" 2>/dev/null && echo removed',
        'mv "$f" "$f.x" 2>/dev/null && echo moved', '(echo x > "$d/new.sh") 2>/dev/null && echo created',
        'chmod 777 "$d" 2>/dev/null && echo dir-chmodded', "true",
    ])
    output = run(config, ["bash", "-c", script])
    assert "readable" in output
    for verb in ("appended", "truncated", "chmodded", "removed", "moved", "created", "dir-chmodded"):
        assert verb not in output, output
    assert (snapshot.read_bytes(), snapshot.stat().st_mode, sorted(os.listdir(snapshot.parent))) == before
    assert snapshot.stat().st_mode & 0o777 == 0o600 and snapshot.parent.stat().st_mode & 0o777 == 0o700


@needs_sandbox
def test_a_withheld_variable_does_not_come_back_through_the_snapshot(
        home: Path, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAP_API_TOKEN", "secret-by-default")  # default excludes: *TOKEN*
    monkeypatch.setenv("SNAP_EXCLUDED", "excluded-by-policy")
    config = make_config("workspace-write", 'shell_environment_policy.exclude=["SNAP_EXCLUDED"]')
    shell_tool.prepare(config)
    output = run(config, ["bash", "-lc", 'echo "token=${SNAP_API_TOKEN-absent} excluded=${SNAP_EXCLUDED-absent}"'])
    assert "token=absent excluded=absent" in output and rc_runs(home) == 1, output
    [snapshot] = snapshot_files(home)
    assert "secret-by-default" not in snapshot.read_text() and "excluded-by-policy" not in snapshot.read_text()


@needs_sandbox
def test_an_unconfined_command_of_a_sandboxed_session_runs_plain_bash_lc(home: Path, make_config: MakeConfig) -> None:
    config = make_config("workspace-write", approval="on-request")
    shell_tool.prepare(config)
    assert "hi snapshot" in run(config, ["bash", "-lc", USES_RC]) and rc_runs(home) == 1
    events: list[Event] = []
    output = run(config, ["bash", "-lc", USES_RC], events, with_escalated_permissions=True, justification="test")
    [item] = [e.item for e in events if isinstance(e, ItemCompleted) and isinstance(e.item, CommandExecution)]
    assert item.sandboxed is False and "hi snapshot" in output
    assert rc_runs(home) == 2  # its own login shell ran the rc files, unconfined


@needs_sandbox
def test_turning_it_off_restores_plain_bash_lc(home: Path, make_config: MakeConfig) -> None:
    config = make_config("workspace-write", "features.shell_snapshot=false")
    assert config.shell_snapshot is False and not config.warnings
    shell_tool.prepare(config)
    for _ in range(2):
        assert "hi snapshot" in run(config, ["bash", "-lc", USES_RC])
    assert rc_runs(home) == 2 and snapshot_files(home) == []


def test_a_failing_login_shell_means_no_snapshot_and_plain_bash_lc(home: Path, make_config: MakeConfig) -> None:
    (home / ".bash_profile").write_text(PROFILE + "exit 3\n")
    config = make_config("danger-full-access")
    shell_tool.prepare(config)
    for _ in range(2):
        assert run(config, ["bash", "-lc", "echo unreachable"]).startswith("Exit code: 3")
    assert rc_runs(home) == 3 and snapshot_files(home) == []  # the attempt, then each command's own


def test_only_the_login_shell_shapes_are_rewritten(tmp_path: Path) -> None:
    snap = tmp_path / "snap.sh"
    for argv in (["bash", "-lc", "ls"], ["/bin/bash", "-lc", "ls", "a0"], ["/usr/bin/bash", "-l", "-c", "ls"]):
        rewritten = shell_snapshot.rewrite(argv, snap)
        assert rewritten is not None and rewritten[:2] == [argv[0], "-c"] and rewritten[2].endswith("\nls")
    for argv in (["bash", "-c", "ls"], ["sh", "-lc", "ls"], ["zsh", "-lc", "ls"], ["bash", "-lc"], ["ls", "-lc", "x"],
                 ["bash", "--login", "-c", "ls"], ["bash", "-lic", "ls"], ["/tmp/bash", "-lc", "ls"]):
        assert shell_snapshot.rewrite(argv, snap) is None


def test_a_snapshot_that_fails_to_load_does_not_change_the_result(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sh"
    broken.write_text("echo noise >&2; if then fi\n")
    for snap in (broken, tmp_path / "missing.sh"):
        argv = shell_snapshot.rewrite(["bash", "-lc", 'echo "ran $1"; exit 4', "zero", "x"], snap)
        assert argv is not None
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        assert (result.returncode, result.stdout, result.stderr) == (4, "ran x\n", "")


EXITS_AT_ONCE = """
import atexit, os, sys, time
from pathlib import Path
from agent.config import Overrides, load_config
from agent.tools import shell_tool
shell_tool.warm_up(load_config(Overrides(cwd=Path(sys.argv[1]), sandbox_mode="danger-full-access")))
time.sleep(0.2)  # the login shell is in its rc files now
atexit._run_exitfuncs()  # as `codex` ends (agent.cli.run)
os._exit(0)
"""


def test_the_agent_exit_lets_a_snapshot_being_taken_finish_its_rc_files(home: Path, git_repo: Path) -> None:
    # a login shell killed inside its rc files may leave a lock behind (pyenv rehash: every later one waits 60 s)
    (home / ".bash_profile").write_text("echo start >> ~/rc.log\nsleep 0.4\necho run >> ~/rc.log\n")
    subprocess.run([sys.executable, "-c", EXITS_AT_ONCE, str(git_repo)], check=True, timeout=30, env=os.environ)
    assert (home / "rc.log").read_text() == "start\nrun\n"
