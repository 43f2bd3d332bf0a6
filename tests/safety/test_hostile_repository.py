"""Attacks a hostile repository (or a model it steered) makes through the agent's own commands.

Every test drives a real `codex exec` with the scripted model server: the "model" issues the attacker's
commands, which run through the real launcher, namespaces and Landlock. Each attack must fail, and the
legitimate work beside it must still succeed. Issue 11's numbered holes, one section each.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.safety.sandbox import landlock_abi, launcher, namespace_error
from tests.conftest import GIT_ENV, RunCodex, codex_command, git, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

pytestmark = pytest.mark.skipif(landlock_abi() < 1 or bool(namespace_error()),
                                reason="needs Landlock and user namespaces on this kernel")


def shell(script: str) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-c", script]})


def attack(run_codex: RunCodex, codex_home: Path, repo: Path, *scripts: str, flags: tuple[str, ...] = ("--full-auto",),
           env: dict[str, str] | None = None, extra: str = "") -> list[dict]:
    """Run the scripts as the model's commands (one step each); the completed command items."""
    steps = [Reply(tool_calls=(shell(script),)) for script in scripts] + [Reply(text="done")]
    with ScriptedServer(steps) as server:
        write_provider_config(codex_home, server, extra=extra)
        run = run_codex(["exec", "--json", *flags, "attack"], repo, env=env)
    assert run.returncode == 0, run.stderr
    return command_items(run.stdout)


def command_items(stdout: str) -> list[dict]:
    events = [json.loads(line) for line in stdout.splitlines()]
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"]


# ---------------------------------------------------------------------------------------------------
# 1. The launcher and the agent's own files cannot be swapped


def test_commands_get_a_private_tmp_and_cannot_see_the_real_one(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                            tmp_path: Path):
    marker = tmp_path / "outside-marker"
    marker.write_text("host /tmp\n")
    items = attack(run_codex, codex_home, git_repo,
                   "ls -d /tmp/codex-* 2>&1; cat " + str(marker),
                   "echo x > /tmp/own",
                   "cat /tmp/own && readlink /proc/self/ns/net")
    assert items[0]["exit_code"] != 0 and "host /tmp" not in items[0]["aggregated_output"]
    assert items[2]["exit_code"] == 0 and items[2]["aggregated_output"].startswith("x\n")  # its own /tmp persists
    assert all(item["sandboxed"] for item in items)
    own_net = os.readlink("/proc/self/ns/net")
    assert items[2]["aggregated_output"].split()[-1] != own_net  # the third command still ran confined


def test_the_launcher_is_loaded_from_no_file_a_command_could_write(git_repo: Path, codex_home: Path,
                                                                     run_codex: RunCodex):
    argv = launcher()
    assert argv[0] == os.path.realpath(sys.executable) and argv[1:4] == ["-I", "-S", "-c"]  # code in the argv
    items = attack(run_codex, codex_home, git_repo,
                   "echo evil > /tmp/escape-attempt-$$ && echo wrote-real-tmp",
                   "readlink /proc/self/ns/net", flags=("--full-auto", "--add-dir", "/tmp"))
    assert "wrote-real-tmp" in items[0]["aggregated_output"]  # --add-dir /tmp is honoured...
    assert items[1]["aggregated_output"].strip() != os.readlink("/proc/self/ns/net")  # ...and still confined


def test_a_virtualenv_inside_the_workspace_is_read_only_to_commands(git_repo: Path, codex_home: Path,
                                                                     tmp_path: Path):
    venv = git_repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    bin_python = venv / "bin" / "python"
    before = os.readlink(bin_python)
    script = [Reply(tool_calls=(shell(f"echo 'import os' > {site}/sitecustomize.py"),)),
              Reply(tool_calls=(shell(f"rm -f {bin_python} && printf '#!/bin/sh\\n' > {bin_python}"),)),
              Reply(tool_calls=(shell("echo fine > ok.txt"),)), Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "PYTHONPATH": str(Path.cwd())}
        run = subprocess.run([str(bin_python), "-m", "agent.cli", "exec", "--json", "--full-auto", "x"], cwd=git_repo,
                             env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    items = command_items(run.stdout)
    assert [item["exit_code"] != 0 for item in items] == [True, True, False]
    assert not (site / "sitecustomize.py").exists() and os.readlink(bin_python) == before
    assert (git_repo / "ok.txt").read_text() == "fine\n"


# ---------------------------------------------------------------------------------------------------
# 3. CODEX_HOME: hidden from commands, wherever it is


def test_codex_home_inside_the_workspace_cannot_be_read_or_rewritten(git_repo: Path, run_codex: RunCodex,
                                                                      codex_home: Path):
    home = git_repo / "codex-home"
    home.mkdir()
    items = attack(run_codex, home, git_repo,
                   "ls -A codex-home; cat codex-home/config.toml",
                   "printf 'sandbox_mode = \"danger-full-access\"\\n' >> codex-home/config.toml",
                   "echo forged >> codex-home/audit/audit-$(date -u +%Y-%m).jsonl",
                   'echo "home=${CODEX_HOME:-unset}"',
                   env={"CODEX_HOME": str(home)})
    assert items[0]["aggregated_output"].strip() == "cat: codex-home/config.toml: No such file or directory"
    assert all(item["exit_code"] != 0 for item in items[1:3])
    assert items[3]["aggregated_output"] == "home=unset\n"
    assert "danger-full-access" not in (home / "config.toml").read_text()
    lines = [line for p in (home / "audit").glob("audit-*.jsonl") for line in p.read_text().splitlines()]
    assert lines and all(json.loads(line)["kind"] for line in lines)  # no forged line among them


def test_codex_home_elsewhere_is_hidden_too(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    items = attack(run_codex, codex_home, git_repo, f"ls -A {codex_home}; cat {codex_home}/config.toml",
                   flags=("--full-auto", "--add-dir", str(codex_home.parent)))
    assert items[0]["exit_code"] != 0 and "model_provider" not in items[0]["aggregated_output"]


# ---------------------------------------------------------------------------------------------------
# 4. No process outlives its command, or the agent


def pids_running(marker: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def wait_until_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := pids_running(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
@pytest.mark.parametrize("mode", [("--full-auto",), ("--sandbox", "danger-full-access")], ids=["sandboxed", "full"])
def test_background_processes_die_with_their_command(mode, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    marker = f"31{os.getpid() % 1000}.25"
    items = attack(run_codex, codex_home, git_repo,
                   f"sleep {marker} & setsid sleep {marker} & (sleep {marker} &) ; echo started",
                   "sleep 0.5; ls .", flags=mode)
    assert items[0]["exit_code"] == 0
    assert wait_until_gone(marker, 2.0) == []


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
@pytest.mark.parametrize("mode", [("--full-auto",), ("--sandbox", "danger-full-access")], ids=["sandboxed", "full"])
def test_commands_die_when_the_agent_is_killed(mode, git_repo: Path, codex_home: Path):
    marker = f"32{os.getpid() % 1000}.75"
    script = [Reply(tool_calls=(shell(f"setsid sleep {marker} & sleep {marker}"),)), Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home)}
        agent = subprocess.Popen([*codex_command(), "exec", *mode, "x"], cwd=git_repo, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(pids_running(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pids_running(marker)) >= 2
        agent.kill()
        agent.wait()
    assert wait_until_gone(marker) == []


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the same user outside the sandbox, standing in for the agent and the user's others."""
    process = subprocess.Popen(["sleep", "120"], stdout=subprocess.DEVNULL)
    yield process
    process.kill()
    process.wait()


def test_commands_cannot_see_signal_or_read_processes_outside(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                               victim: subprocess.Popen[bytes]):
    items = attack(run_codex, codex_home, git_repo,
                   f"kill -9 {victim.pid}; kill -9 {os.getpid()}; cat /proc/{victim.pid}/cmdline",
                   "ls /proc | grep -c '^[0-9]'; pkill -9 sleep; echo $?")
    assert victim.poll() is None  # still alive, and so is this test
    assert "No such process" in items[0]["aggregated_output"] and "sleep" not in items[0]["aggregated_output"]
    visible, pkill_status = items[1]["aggregated_output"].split()
    assert int(visible) <= 6 and pkill_status == "1"  # init, bash, ls, grep...; pkill found nothing


# ---------------------------------------------------------------------------------------------------
# 5. Repository-configured programs under -a untrusted


def test_git_status_asks_when_the_repository_configures_a_program(git_repo: Path, codex_home: Path,
                                                                   run_codex: RunCodex, tmp_path: Path):
    marker = git_repo / "fsmonitor-ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git(git_repo, "config", "core.fsmonitor", str(hook))
    items = attack(run_codex, codex_home, git_repo, "git status --short", "git log --oneline",
                   flags=("-a", "untrusted", "-s", "workspace-write"))
    assert [item["status"] for item in items] == ["declined", "declined"]
    assert "core.fsmonitor" in items[0]["reason"]
    assert not marker.exists()


def test_git_status_runs_unasked_in_an_ordinary_repository(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    items = attack(run_codex, codex_home, git_repo, "git status --short", flags=("-a", "untrusted"))
    assert [item["status"] for item in items] == ["completed"]


def test_an_included_config_file_in_the_worktree_counts_too(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / "extra.cfg").write_text("[diff]\n\texternal = /bin/false\n")
    git(git_repo, "config", "include.path", "../extra.cfg")
    items = attack(run_codex, codex_home, git_repo, "git diff", flags=("-a", "untrusted"))
    assert items[0]["status"] == "declined" and "diff.external" in items[0]["reason"]


def test_the_agents_own_git_commands_run_none_of_the_repositorys_programs(git_repo: Path, codex_home: Path,
                                                                         run_codex: RunCodex, tmp_path: Path):
    ran = tmp_path / "ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {ran}\ncat\n")
    hook.chmod(0o755)
    for key in ("filter.x.clean", "filter.x.smudge", "diff.x.textconv", "core.fsmonitor"):
        git(git_repo, "config", key, f"{hook} {key}")
    git(git_repo, "config", "filter.y.process", f"{hook} process")
    (git_repo / ".gitattributes").write_text("*.txt filter=x diff=x\n*.dat filter=y\n")
    (git_repo / "a.txt").write_text("a\n")
    (git_repo / "b.dat").write_text("b\n")
    patch = "*** Begin Patch\n*** Add File: new.txt\n+new\n*** End Patch\n"
    steps = [Reply(tool_calls=(ToolCall("apply_patch", {"input": patch}),)), Reply(text="done")]
    with ScriptedServer(steps) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--full-auto", "edit"], git_repo)  # snapshots the tree before the edit
        assert run.returncode == 0, run.stderr
        undo = run_codex(["undo"], git_repo)
    assert undo.returncode == 0, undo.stderr
    assert not (git_repo / "new.txt").exists()
    assert not ran.exists(), ran.read_text()


# ---------------------------------------------------------------------------------------------------
# 6. Smaller holes


def test_git_and_codex_dirs_cannot_be_created_in_a_workspace_without_them(tmp_path: Path, codex_home: Path,
                                                                          run_codex: RunCodex):
    workspace = tmp_path / "plain"
    workspace.mkdir()
    items = attack(run_codex, codex_home, workspace,
                   "mkdir -p .git/hooks && echo evil > .git/hooks/pre-commit",
                   "mkdir -p .codex && echo 'approval_policy = \"never\"' > .codex/config.toml",
                   "rmdir .git; mv .git gone; echo made > file.txt",
                   flags=("--full-auto", "--skip-git-repo-check"))
    assert items[0]["exit_code"] != 0 and items[1]["exit_code"] != 0
    assert items[2]["exit_code"] == 0
    assert sorted(p.name for p in workspace.iterdir()) == ["file.txt"]  # placeholders gone afterwards


def test_commands_cannot_write_to_other_terminals(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    master, slave = pty.openpty()
    try:
        name = os.ttyname(slave)
        script = f"printf '\\033]0;pwned\\007' > {name} && echo wrote; ls /dev/pts"
        items = attack(run_codex, codex_home, git_repo, script)
        os.set_blocking(master, False)
        try:
            received = os.read(master, 1024)
        except BlockingIOError:
            received = b""
    finally:
        os.close(master)
        os.close(slave)
    assert "wrote" not in items[0]["aggregated_output"] and received == b""
    assert items[0]["aggregated_output"].split()[-1] == "ptmx"  # a devpts of its own, with no terminal in it


def test_secrets_and_the_agents_variables_do_not_reach_commands(git_repo: Path, codex_home: Path,
                                                                 run_codex: RunCodex):
    env = {"DB_PASSWORD": "hunter2", "AWS_CREDENTIALS": "c", "SCRIPTED_KEY_VAR": "sk-local",
           "PROVIDER_PASS": "pp", "PLAIN": "visible"}
    extra = "[shell_environment_policy]\ninherit = \"all\"\n"
    steps = [Reply(tool_calls=(shell("env"),)), Reply(text="done")]
    with ScriptedServer(steps) as server:
        config = write_provider_config(codex_home, server, extra=extra)
        config.write_text(config.read_text() + 'env_key = "PROVIDER_PASS"\n')
        run = run_codex(["exec", "--json", "--full-auto", "x"], git_repo, env=env)
    assert run.returncode == 0, run.stderr
    output = command_items(run.stdout)[0]["aggregated_output"]
    assert "PLAIN=visible" in output
    for secret in ("hunter2", "DB_PASSWORD", "AWS_CREDENTIALS", "SCRIPTED_KEY_VAR", "PROVIDER_PASS", "CODEX_HOME"):
        assert secret not in output


@pytest.fixture
def host_sockets(tmp_path: Path) -> Iterator[list[str]]:
    """Listening unix sockets outside the workspace, in the real /tmp and in /run (as the user can)."""
    paths = [str(tmp_path / "ssh-agent.sock")]
    run_dir = Path("/run") / f"codex-test-{os.getpid()}"
    if os.access("/run", os.W_OK):
        run_dir.mkdir(exist_ok=True)
        paths.append(str(run_dir / "docker.sock"))
    servers = []
    for path in paths:
        server = socket.socket(socket.AF_UNIX)
        server.bind(path)
        server.listen()
        servers.append(server)
    yield paths
    for server in servers:
        server.close()
    shutil.rmtree(run_dir, ignore_errors=True)


def test_unix_sockets_outside_the_workspace_are_unreachable_without_network(git_repo: Path, codex_home: Path,
                                                                             run_codex: RunCodex,
                                                                             host_sockets: list[str]):
    probes = [f"python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('{path}')\" && echo reached"
              for path in host_sockets]
    items = attack(run_codex, codex_home, git_repo, *probes, 'echo "agent=${SSH_AUTH_SOCK:-unset}"',
                   env={"SSH_AUTH_SOCK": host_sockets[0]})
    for item in items[:-1]:
        assert item["exit_code"] != 0 and "reached" not in item["aggregated_output"]
    assert items[-1]["aggregated_output"] == "agent=unset\n"


@pytest.mark.parametrize("bad", ["/", "~", "/no/such/dir"])
def test_add_dir_refuses_root_home_and_missing_paths(bad: str, git_repo: Path, run_codex: RunCodex, tmp_path: Path):
    run = run_codex(["exec", "--add-dir", bad, "hello"], git_repo, env={"HOME": str(tmp_path)})
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--add-dir" in run.stderr


def test_sandbox_check_reports_what_the_kernel_supports(run_codex: RunCodex, tmp_path: Path):
    run = run_codex(["sandbox", "--check"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "workspace-write: enforced" in run.stdout and f"Landlock ABI {landlock_abi()}" in run.stdout


def test_killing_the_process_group_on_timeout_kills_what_left_it(git_repo: Path, codex_home: Path,
                                                                 run_codex: RunCodex):
    marker = f"33{os.getpid() % 1000}.5"
    call = ToolCall("shell", {"command": ["bash", "-c", f"setsid sleep {marker} & sleep {marker}"],
                              "timeout_ms": 500})
    with ScriptedServer([Reply(tool_calls=(call,)), Reply(text="done")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "--sandbox", "danger-full-access", "x"], git_repo)
    assert run.returncode == 0, run.stderr
    assert wait_until_gone(marker, 2.0) == []
    assert command_items(run.stdout)[0]["status"] == "failed"


# ---------------------------------------------------------------------------------------------------
# Legitimate work still succeeds


def test_build_tools_write_the_workspace_and_tmp(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    build = ("mkdir -p build && cc -x c -o build/hello - <<'EOF'\nint main(void){return 0;}\nEOF\n"
             "./build/hello && python3 -c \"import tempfile; f = tempfile.NamedTemporaryFile(); print('tmp ok')\"")
    items = attack(run_codex, codex_home, git_repo, build if shutil.which("cc") else "mkdir -p build && echo ok",
                   "mkdir -p /tmp/cache && echo kept > /tmp/cache/x && python3 -m pytest --version >/dev/null; "
                   "cat /tmp/cache/x")
    assert [item["exit_code"] for item in items] == [0, 0], items
    assert items[1]["aggregated_output"].strip().endswith("kept")  # /tmp persists between a session's commands
    assert (git_repo / "build").is_dir()


def test_git_commit_works_under_danger_full_access(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    items = attack(run_codex, codex_home, git_repo, "echo change > new.txt && git add new.txt && "
                   "git commit -q -m 'from the agent' && git log --oneline | head -1",
                   flags=("--sandbox", "danger-full-access"), env=GIT_ENV)
    assert items[0]["exit_code"] == 0 and "from the agent" in items[0]["aggregated_output"]
    assert items[0]["sandboxed"] is False


def test_git_commit_is_refused_inside_the_sandbox(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    items = attack(run_codex, codex_home, git_repo, "echo change > new.txt && git add new.txt", env=GIT_ENV)
    assert items[0]["exit_code"] != 0 and "Read-only file system" in items[0]["aggregated_output"]


def test_a_server_started_in_the_background_serves_its_own_command(git_repo: Path, codex_home: Path,
                                                                  run_codex: RunCodex):
    script = ("python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 & "
              "for i in $(seq 50); do python3 -c \"import urllib.request as u; "
              "print(u.urlopen('http://127.0.0.1:8765/').status)\" 2>/dev/null && break; sleep 0.1; done")
    items = attack(run_codex, codex_home, git_repo, script)
    assert items[0]["exit_code"] == 0 and items[0]["aggregated_output"].strip() == "200"
