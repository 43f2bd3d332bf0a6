"""The escape suite: real commands through `codex sandbox` and through the agent, under workspace-write.

Every escape must be blocked; legitimate work must succeed. Network tests only ever reach 127.0.0.1;
the non-local connect runs only after the command has checked it is inside a namespace with loopback
alone, so a broken sandbox can never send a packet off the machine.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import RunCodex, git, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

NON_LOCAL = "192.0.2.1"  # TEST-NET-1: never routed; and we only try it when no interface but lo exists
ISOLATED_CONNECT = f"""
import socket, sys, time
names = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]
if names != ['lo']:
    print('not isolated', names); sys.exit(3)
started = time.monotonic()
try:
    socket.create_connection(('{NON_LOCAL}', 80), timeout=10)
except OSError as e:
    print(type(e).__name__, round(time.monotonic() - started, 2)); sys.exit(1)
sys.exit(0)
"""


@pytest.fixture
def workspace(git_repo: Path, tmp_path: Path) -> dict[str, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside\n")
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(outside, git_repo / "link-out")
    return {"repo": git_repo, "outside": outside, "home": home}


def sandboxed(run_codex: RunCodex, ws: dict[str, Path], script: str, *extra: str):
    no_tmp = ["-c", "sandbox_workspace_write.exclude_slash_tmp=true",
              "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]  # the outside dir lives in /tmp
    return run_codex(["sandbox", "-s", "workspace-write", *no_tmp, *extra, "--", "bash", "-c", script],
                     ws["repo"], env={"HOME": str(ws["home"])})


ESCAPES = {
    "absolute path": "echo x > {outside}/abs.txt",
    "dot-dot": "echo x > ../outside/dotdot.txt",
    "planted symlink": "echo x > link-out/via-link.txt",
    "into .git": "echo x > .git/hooks/pre-commit",
    "rewrite .git/HEAD": "echo ref: refs/heads/evil > .git/HEAD",
    "into $HOME": "echo x > $HOME/.bashrc",
    "hard link to outside file": "ln {outside}/secret.txt hard && echo y >> hard",
    "child process": "bash -c 'bash -c \"echo x > {outside}/child.txt\"'",
    "python child": "python3 -c \"open('{outside}/py.txt', 'w').write('x')\"",
    "delete outside": "rm {outside}/secret.txt",
}


@pytest.mark.parametrize("script", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_is_blocked_under_workspace_write(script: str, workspace, run_codex: RunCodex):
    before_head = (workspace["repo"] / ".git/HEAD").read_text()
    run = sandboxed(run_codex, workspace, script.format(**{k: str(v) for k, v in workspace.items()}))

    assert run.returncode != 0, run.stdout + run.stderr
    assert sorted(p.name for p in workspace["outside"].iterdir()) == ["secret.txt"]
    assert (workspace["outside"] / "secret.txt").read_text() == "outside\n"
    assert (workspace["repo"] / ".git/HEAD").read_text() == before_head
    assert not (workspace["repo"] / ".git/hooks/pre-commit").exists()
    assert list(workspace["home"].iterdir()) == []


LEGITIMATE = {
    "build in the workspace": "mkdir -p build && echo 'int main(){{return 0;}}' > build/m.c && cat build/m.c",
    "git status": "git status --short",
    "read outside the workspace": "head -1 /etc/os-release",
}


@pytest.mark.parametrize("script", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_legitimate_work_succeeds(script: str, workspace, run_codex: RunCodex):
    run = sandboxed(run_codex, workspace, script.format(**{k: str(v) for k, v in workspace.items()}))
    assert run.returncode == 0, run.stdout + run.stderr


def test_writing_to_tmp_succeeds_by_default(workspace, run_codex: RunCodex, tmp_path: Path):
    run = run_codex(["sandbox", "-s", "workspace-write", "--", "bash", "-c", "echo ok > /tmp/s && cat /tmp/s"],
                    workspace["repo"])
    assert (run.returncode, run.stdout) == (0, "ok\n"), run.stderr


def test_the_real_tmp_is_reachable_when_added_as_a_root(workspace, run_codex: RunCodex, tmp_path: Path):
    target = tmp_path / "scratch.txt"
    run = run_codex(["sandbox", "-s", "workspace-write", "--add-dir", "/tmp", "--", "bash", "-c",
                     f"cat {workspace['outside']}/secret.txt && echo ok > {target}"], workspace["repo"])
    assert (run.returncode, run.stdout) == (0, "outside\n"), run.stderr
    assert target.read_text() == "ok\n"


@pytest.fixture
def loopback_server():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(5)
        accepted = threading.Thread(target=lambda: _accept_one(server), daemon=True)
        accepted.start()
        yield server.getsockname()[1]


def _accept_one(server: socket.socket) -> None:
    try:
        connection, _ = server.accept()
        connection.close()
    except OSError:
        pass


def connect_script(port: int) -> str:
    return f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""


def test_loopback_of_the_host_is_unreachable_without_network(workspace, run_codex: RunCodex, loopback_server):
    run = sandboxed(run_codex, workspace, connect_script(loopback_server))
    assert run.returncode != 0 and "ConnectionRefused" in run.stderr


def test_loopback_is_reachable_with_network_access(workspace, run_codex: RunCodex, loopback_server):
    run = sandboxed(run_codex, workspace, connect_script(loopback_server),
                    "-c", "sandbox_workspace_write.network_access=true")
    assert run.returncode == 0, run.stderr


def test_non_local_address_fails_fast(workspace, run_codex: RunCodex):
    run = sandboxed(run_codex, workspace, f"python3 -c \"{ISOLATED_CONNECT}\"")
    assert run.returncode == 1, run.stdout + run.stderr  # 3 would mean "not isolated": nothing was tried
    error, seconds = run.stdout.split()
    assert error == "OSError" and float(seconds) < 1.0


def test_the_agents_commands_get_the_same_sandbox(workspace, codex_home: Path, run_codex: RunCodex):
    outside = workspace["outside"]
    escapes = [f"echo x > {outside}/agent.txt", "echo x > .git/agent", "echo x > link-out/agent.txt"]
    calls = tuple(ToolCall("shell", {"command": ["bash", "-c", script]}) for script in escapes)
    no_tmp = ["-c", "sandbox_workspace_write.exclude_slash_tmp=true",
              "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]
    with ScriptedServer([Reply(tool_calls=calls), Reply(text="all blocked")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--full-auto", *no_tmp, "--json", "escape"], workspace["repo"])

    assert run.returncode == 0, run.stderr
    commands = [e["item"] for e in map(json.loads, run.stdout.splitlines())
                if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"]
    assert [c["status"] for c in commands] == ["failed"] * 3
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not (workspace["repo"] / ".git/agent").exists()
    assert git(workspace["repo"], "status", "--short") == "?? link-out\n"
