"""The kernel sandbox: policies from config, and real processes confined by Landlock and namespaces."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config
from agent.errors import UserError
from agent.safety import sandbox
from agent.safety.sandbox import (
    SandboxPolicy,
    SandboxUnavailable,
    check_available,
    describe,
    landlock_abi,
    namespace_error,
    run_sandbox_command,
    wrap_command,
)

DENIED = re.compile(r"Permission denied|Operation not permitted|Read-only file system")
KERNEL_REASON = "needs Landlock and user namespaces on this kernel"
kernel = pytest.mark.skipif(landlock_abi() < 1 or bool(namespace_error()), reason=KERNEL_REASON)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with a file, a subdirectory and a .git directory (no git needed)."""
    root = tmp_path / "ws"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "src").mkdir()
    (root / "notes.txt").write_text("hello\n")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    return path


def config_for(tmp_path: Path, cwd: Path, mode: str, *overrides: str, add_dirs: Sequence[Path] = ()) -> Config:
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    return load_config(
        Overrides(cwd=cwd, sandbox_mode=mode, add_dirs=tuple(add_dirs), config_overrides=overrides),
        env={"CODEX_HOME": str(home), "HOME": str(tmp_path)},
    )


def policy_for(tmp_path: Path, cwd: Path, mode: str, *overrides: str, env: dict[str, str] | None = None,
               add_dirs: Sequence[Path] = ()) -> SandboxPolicy:
    return SandboxPolicy.from_config(config_for(tmp_path, cwd, mode, *overrides, add_dirs=add_dirs), env=env or {})


def run(policy: SandboxPolicy, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(wrap_command(["bash", "-c", script], policy), cwd=cwd, capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL)


def assert_denied(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0, result
    assert DENIED.search(result.stderr), result.stderr


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A listening socket on 127.0.0.1 in the test's own network namespace; the kernel completes handshakes."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


# ---------------------------------------------------------------------------------------------------
# Policies from config


def test_read_only_policy_has_no_writable_roots_and_no_network(tmp_path: Path, workspace: Path) -> None:
    policy = policy_for(tmp_path, workspace, "read-only")
    assert (policy.mode, policy.writable_roots, policy.network) == ("read-only", (), False)
    assert policy.private_tmp is not None and policy.private_tmp.is_dir()  # scratch space, not the real /tmp
    assert policy.private_paths == ((tmp_path / "codex-home").resolve(),)  # CODEX_HOME is hidden
    assert policy.hidden_paths == (Path("/run").resolve(),)


def test_workspace_write_policy_lists_roots_temp_dirs_and_existing_git(tmp_path: Path, workspace: Path,
                                                                       outside: Path) -> None:
    extra = tmp_path / "extra"
    (extra / ".codex").mkdir(parents=True)
    policy = policy_for(tmp_path, workspace, "workspace-write", f'sandbox_workspace_write.writable_roots=["{extra}"]',
                        env={"TMPDIR": str(outside)}, add_dirs=[outside])
    assert policy.writable_roots == (workspace, outside, extra)
    assert policy.private_tmp is not None and policy.private_tmp.parent != workspace
    assert policy.guarded_paths == tuple(root / name for root in (workspace, outside, extra)
                                         for name in (".git", ".codex"))
    assert not policy.network


def test_workspace_write_policy_honours_temp_exclusions_and_network_access(tmp_path: Path, workspace: Path,
                                                                           outside: Path) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write", "sandbox_workspace_write.exclude_slash_tmp=true",
                        "sandbox_workspace_write.exclude_tmpdir_env_var=true",
                        "sandbox_workspace_write.network_access=true", env={"TMPDIR": str(outside)})
    assert policy.writable_roots == (workspace,) and policy.private_tmp is None
    assert policy.network and policy.hidden_paths == ()


def test_danger_full_access_leaves_the_command_unchanged(tmp_path: Path, workspace: Path) -> None:
    policy = policy_for(tmp_path, workspace, "danger-full-access")
    assert wrap_command(["ls", "-la"], policy) == ["ls", "-la"]
    assert describe(policy) == "danger-full-access: no sandbox"


def test_describe_is_one_line_naming_roots_and_network(tmp_path: Path, workspace: Path) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write", "sandbox_workspace_write.exclude_slash_tmp=true")
    assert describe(policy) == f"workspace-write: writes to {workspace} (.codex, .git read-only); no network"
    assert describe(SandboxPolicy("read-only")) == "read-only: no writes; no network"


def test_policy_rejects_unknown_modes_and_relative_paths() -> None:
    with pytest.raises(ValueError, match="not one of"):
        SandboxPolicy("workspace")
    with pytest.raises(ValueError, match="absolute"):
        SandboxPolicy("workspace-write", (Path("src"),))


# ---------------------------------------------------------------------------------------------------
# Refusing when the kernel cannot enforce the policy


def test_missing_landlock_refuses_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    with pytest.raises(SandboxUnavailable) as caught:
        wrap_command(["true"], SandboxPolicy("read-only"))
    message = str(caught.value)
    assert "Landlock" in message and "-s danger-full-access" in message
    assert isinstance(caught.value, UserError) and "\n" not in message


def test_missing_user_namespaces_refuses_every_sandboxed_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 7)
    monkeypatch.setattr(sandbox, "namespace_error", lambda: "creating user namespaces failed: No space left")
    for policy in (SandboxPolicy("workspace-write", (Path("/w"),)), SandboxPolicy("read-only"),
                   SandboxPolicy("workspace-write", (Path("/w"),), network=True)):  # never weakened silently
        with pytest.raises(SandboxUnavailable, match="namespaces.*No space left.*danger-full-access"):
            check_available(policy)


def test_danger_full_access_needs_no_kernel_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "landlock_abi", lambda: 0)
    check_available(SandboxPolicy("danger-full-access"))


@kernel
def test_launcher_never_runs_the_command_when_it_cannot_confine(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = subprocess.run(  # a --guard below a missing directory cannot be set up
        [sys.executable, "-I", "-S", str(sandbox.LAUNCHER), "--guard", str(tmp_path / "no" / "such"), "--",
         "touch", str(marker)], capture_output=True, text=True, timeout=10,
    )
    assert result.returncode == 125
    assert "was not run" in result.stderr
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------
# read-only, with real processes


@kernel
def test_read_only_blocks_creating_files_in_the_workspace(workspace: Path) -> None:
    assert_denied(run(SandboxPolicy("read-only"), "touch new.txt", workspace))
    assert not (workspace / "new.txt").exists()


@kernel
def test_read_only_allows_reading_files_and_writing_dev_null(workspace: Path) -> None:
    result = run(SandboxPolicy("read-only"), "cat notes.txt && echo gone > /dev/null && echo ok", workspace)
    assert (result.returncode, result.stdout) == (0, "hello\nok\n"), result.stderr


@kernel
def test_read_only_has_a_private_scratch_tmp_and_nothing_else(tmp_path: Path, workspace: Path,
                                                              outside: Path) -> None:
    # What a test run needs (pytest's capture files live in the temporary directory); the real /tmp, the cwd
    # (here beneath /tmp) and every other file stay unwritable.
    policy = policy_for(tmp_path, workspace, "read-only")
    assert policy.private_tmp is not None
    result = run(policy, "python3 -c 'import tempfile; tempfile.TemporaryFile().write(b\"x\")' && echo t > /tmp/t",
                 workspace)
    assert result.returncode == 0, result.stderr
    assert (policy.private_tmp / "t").read_text() == "t\n" and not (outside.parent / "t").exists()
    assert_denied(run(policy, "touch new.txt", workspace))
    assert run(policy, f"touch {outside}/new.txt", workspace).returncode != 0  # the real /tmp is not even visible
    assert not (workspace / "new.txt").exists() and not (outside / "new.txt").exists()


@kernel
def test_read_only_confines_grandchildren(workspace: Path) -> None:
    assert_denied(run(SandboxPolicy("read-only"), "bash -c 'bash -c \"echo x >> notes.txt\"'", workspace))
    assert (workspace / "notes.txt").read_text() == "hello\n"


@kernel
def test_missing_command_exits_127_like_a_shell(workspace: Path) -> None:
    result = subprocess.run(wrap_command(["no-such-command-xyz"], SandboxPolicy("read-only")), cwd=workspace,
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 127
    assert "no-such-command-xyz: command not found" in result.stderr


# ---------------------------------------------------------------------------------------------------
# workspace-write, with real processes


@kernel
def test_workspace_write_allows_writes_under_the_root_and_tmp(tmp_path: Path, workspace: Path,
                                                              outside: Path) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write")
    result = run(policy, "echo more >> notes.txt && mkdir -p src/a && touch src/a/b && echo t > /tmp/t", workspace)
    assert result.returncode == 0, result.stderr
    assert (workspace / "src/a/b").exists() and (policy.private_tmp / "t").read_text() == "t\n"


@kernel
def test_workspace_write_blocks_writes_outside_the_roots(tmp_path: Path, workspace: Path, outside: Path) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write", "sandbox_workspace_write.exclude_slash_tmp=true")
    assert run(policy, f"touch {outside}/t", workspace).returncode != 0  # the real /tmp is not even visible
    assert_denied(run(policy, "touch /tmp/t", workspace))
    assert_denied(run(policy, f"touch {outside}/t", tmp_path))  # the cwd, in /tmp, is visible but not writable
    assert not (outside / "t").exists()


@kernel
def test_kept_directories_and_the_cwd_under_the_private_tmp_stay_read_only(tmp_path: Path, workspace: Path,
                                                                        outside: Path) -> None:
    # /tmp is the session's private, writable directory here; `outside` and the cwd are real /tmp directories
    # bound back beneath it, so only a read-only mount keeps them from the /tmp write right.
    policy = dataclasses.replace(policy_for(tmp_path, workspace, "workspace-write"), visible_paths=(outside,))
    assert policy.private_tmp is not None
    assert_denied(run(policy, f"touch {outside}/kept", workspace))
    assert_denied(run(policy, "touch here", outside))
    assert run(policy, "touch /tmp/private && touch made", workspace).returncode == 0  # the rest still works
    assert not (outside / "kept").exists() and not (outside / "here").exists() and (workspace / "made").exists()


@kernel
@pytest.mark.parametrize("kept", ["/tmp", "/"])
def test_a_kept_directory_above_the_workspace_does_not_hide_it(tmp_path: Path, workspace: Path, kept: str) -> None:
    # pyenv exports PYENV_DIR=$PWD, so `codex` started from /tmp (or /) asks to keep /tmp visible: that used to
    # swallow the workspace beneath it, and every command failed with "the sandbox's init failed".
    policy = dataclasses.replace(policy_for(tmp_path, workspace, "workspace-write"), visible_paths=(Path(kept),))
    result = run(policy, "touch made && ls", workspace)
    assert result.returncode == 0, result.stderr
    assert (workspace / "made").exists() and "notes.txt" in result.stdout


@kernel
def test_tmpdir_is_writable_unless_excluded(tmp_path: Path, workspace: Path, outside: Path) -> None:
    no_tmp = "sandbox_workspace_write.exclude_slash_tmp=true"
    env = {"TMPDIR": str(outside)}
    allowed = policy_for(tmp_path, workspace, "workspace-write", no_tmp, env=env)
    assert run(allowed, f"touch {outside}/a", workspace).returncode == 0
    excluded = policy_for(tmp_path, workspace, "workspace-write", no_tmp,
                          "sandbox_workspace_write.exclude_tmpdir_env_var=true", env=env)
    assert run(excluded, f"touch {outside}/b", workspace).returncode != 0
    assert not (outside / "b").exists()


@kernel
def test_git_dir_stays_read_only_inside_a_writable_workspace(tmp_path: Path, workspace: Path) -> None:
    (workspace / ".codex").mkdir()
    policy = policy_for(tmp_path, workspace, "workspace-write")
    assert_denied(run(policy, "echo x > .git/HEAD", workspace))
    assert_denied(run(policy, "touch .git/newfile", workspace))
    assert_denied(run(policy, "touch .codex/config.toml", workspace))
    assert_denied(run(policy, "touch newfile", workspace / ".git"))  # cwd inside .git sees the read-only mount
    assert (workspace / ".git/HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (workspace / ".git/newfile").exists()
    assert run(policy, "touch top-level-file && rm notes.txt", workspace).returncode == 0


@kernel
def test_add_dir_root_is_writable(tmp_path: Path, workspace: Path, outside: Path) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write", "sandbox_workspace_write.exclude_slash_tmp=true",
                        add_dirs=[outside])
    assert run(policy, f"touch {outside}/added", workspace).returncode == 0


@kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="only root can own a file as another user")
def test_root_keeps_writing_files_other_users_own(tmp_path: Path, workspace: Path) -> None:
    os.chown(workspace / "notes.txt", 12345, 12345)
    policy = policy_for(tmp_path, workspace, "workspace-write")
    result = run(policy, "echo more >> notes.txt && stat -c %u notes.txt", workspace)
    assert (result.returncode, result.stdout) == (0, "12345\n"), result.stderr


# ---------------------------------------------------------------------------------------------------
# Network


@kernel
def test_no_network_cannot_reach_a_server_outside_the_sandbox(tmp_path: Path, workspace: Path,
                                                              tcp_server: int) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write")
    result = run(policy, f"exec 3<>/dev/tcp/127.0.0.1/{tcp_server}", workspace)
    assert result.returncode != 0
    assert "Connection refused" in result.stderr or "unreachable" in result.stderr, result.stderr


@kernel
def test_network_access_reaches_the_server(tmp_path: Path, workspace: Path, tcp_server: int) -> None:
    policy = policy_for(tmp_path, workspace, "workspace-write", "sandbox_workspace_write.network_access=true")
    result = run(policy, f"exec 3<>/dev/tcp/127.0.0.1/{tcp_server}", workspace)
    assert result.returncode == 0, result.stderr


@kernel
def test_no_network_still_lets_a_command_talk_to_its_own_loopback_server(workspace: Path) -> None:
    script = "import socket; s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname())"
    command = wrap_command([sys.executable, "-I", "-S", "-c", script], SandboxPolicy("read-only"))
    result = subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------------
# codex sandbox -- CMD


@kernel
def test_sandbox_command_inherits_stdio_and_returns_the_exit_code(capfd: pytest.CaptureFixture[str], tmp_path: Path,
                                                                  workspace: Path) -> None:
    config = config_for(tmp_path, workspace, "read-only")
    assert run_sandbox_command(config, ["sh", "-c", "cat notes.txt; touch x; exit 3"]) == 3
    out, err = capfd.readouterr()
    assert out == "hello\n" and DENIED.search(err)


@kernel
def test_sandbox_command_reports_a_signal_like_a_shell(tmp_path: Path, workspace: Path) -> None:
    config = config_for(tmp_path, workspace, "read-only")
    assert run_sandbox_command(config, ["sh", "-c", "kill -TERM $$"]) == 128 + 15


def test_sandbox_command_needs_a_command(tmp_path: Path, workspace: Path) -> None:
    with pytest.raises(UserError, match="needs a command"):
        run_sandbox_command(config_for(tmp_path, workspace, "read-only"), [])


@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM])
def test_the_launcher_ends_like_a_command_killed_by_a_signal(number: int) -> None:
    # os.WTERMSIG(number) == number: a wait status for "killed by that signal". SIGKILL's handler cannot be set,
    # which once turned such an exit into an OSError traceback in the command's output.
    code = f"from agent.safety.sandbox_exec import _exit_like; _exit_like({int(number)})"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == -number
