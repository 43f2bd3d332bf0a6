"""Sessions that survive, end to end with the real `codex` process: rollouts, resume after SIGKILL,
undo, --ephemeral, and the prompt history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import GIT_ENV, RunCodex, codex_command, git, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

FULL_ACCESS = ["--sandbox", "danger-full-access"]


def rollouts(codex_home: Path) -> list[Path]:
    return sorted((codex_home / "sessions").rglob("rollout-*.jsonl"))


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_rollout_records_the_session_as_it_happens(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(tool_calls=(ToolCall("shell", {"command": ["echo", "hi"]}),)),
                         Reply(text="said hi")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", *FULL_ACCESS, "FIRST-PROMPT"], git_repo)

    assert run.returncode == 0, run.stderr
    [path] = rollouts(codex_home)
    assert path.relative_to(codex_home / "sessions").parts[:3] == tuple(time.strftime("%Y/%m/%d").split("/"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    meta = lines[0]
    assert meta["type"] == "session_meta"
    assert meta["payload"]["cwd"] == str(git_repo) and meta["payload"]["git"]["branch"] == "main"
    kinds = [line["type"] for line in lines]
    assert "response_item" in kinds and "event_msg" in kinds
    assert any(line["payload"].get("type") == "turn.completed" for line in lines if line["type"] == "event_msg")
    history = [json.loads(line) for line in (codex_home / "history.jsonl").read_text().splitlines()]
    assert history[-1]["text"] == "FIRST-PROMPT"


def test_ephemeral_writes_no_rollout(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="ok")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--ephemeral", "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    assert rollouts(codex_home) == []


def test_resume_after_sigkill_continues_with_the_full_history(git_repo: Path, codex_home: Path,
                                                              run_codex: RunCodex):
    slow = ToolCall("shell", {"command": ["bash", "-c", "echo started-slow-step; sleep 60"]})
    with ScriptedServer([Reply(text="Looking around.", tool_calls=(slow,)), Reply(text="never")]) as server:
        write_provider_config(codex_home, server)
        proc = subprocess.Popen([*codex_command(), "exec", *FULL_ACCESS, "KILLED-TURN-PROMPT"], cwd=git_repo,
                                env={**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        wait_for(lambda: rollouts(codex_home) and "command_execution" in rollouts(codex_home)[0].read_text())
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    subprocess.run(["pkill", "-f", "echo started-slow-step"], check=False)

    with ScriptedServer([Reply(text="Finished the job.")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "resume", "--last", "NEXT-PROMPT"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Finished the job.\n"
    request = json.dumps(server.requests[-1].body["messages"])
    for expected in ("KILLED-TURN-PROMPT", "Looking around.", "started-slow-step", "NEXT-PROMPT",
                     "before this call finished"):
        assert expected in request
    assert len(rollouts(codex_home)) == 1  # the same thread, appended to


def test_resume_by_id_and_unknown_id(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="first"), Reply(text="second")]) as server:
        write_provider_config(codex_home, server)
        first = run_codex(["exec", "--json", "ONE"], git_repo)
        thread_id = first.events()[0]["thread_id"]
        second = run_codex(["exec", "resume", thread_id[:8], "TWO"], git_repo)
        missing = run_codex(["exec", "resume", "ffffffff-nope", "THREE"], git_repo)

    assert second.returncode == 0, second.stderr
    assert "ONE" in json.dumps(server.requests[-1].body["messages"])
    assert f"resumed  session {thread_id}" in second.stderr  # says which session it continued
    assert missing.returncode == 2 and "ffffffff-nope" in missing.stderr
    assert len(server.requests) == 2  # one per turn: the bad id failed before any request


def test_codex_undo_restores_the_tree_and_keeps_the_index(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / ".gitignore").write_text("ignored.log\n")
    (git_repo / "staged.txt").write_text("staged v1\n")
    (git_repo / "unstaged.txt").write_text("unstaged v1\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "files")
    (git_repo / "staged.txt").write_text("staged v2\n")
    git(git_repo, "add", "staged.txt")
    (git_repo / "unstaged.txt").write_text("unstaged v2\n")
    (git_repo / "untracked.txt").write_text("untracked\n")
    (git_repo / "ignored.log").write_text("ignored\n")
    files_before = {p.name: p.read_bytes() for p in git_repo.iterdir() if p.is_file()}
    index_before = git(git_repo, "diff", "--cached")
    patch = (
        "*** Begin Patch\n"
        "*** Update File: staged.txt\n@@\n-staged v2\n+staged by agent\n"
        "*** Update File: unstaged.txt\n@@\n-unstaged v2\n+unstaged by agent\n"
        "*** Delete File: untracked.txt\n"
        "*** Add File: new.txt\n+new\n"
        "*** End Patch\n"
    )
    with ScriptedServer([Reply(tool_calls=(ToolCall("apply_patch", {"input": patch}),)), Reply(text="edited")]) as s:
        write_provider_config(codex_home, s)
        run = run_codex(["exec", "--full-auto", "edit"], git_repo)
    assert run.returncode == 0, run.stderr
    assert (git_repo / "new.txt").exists()

    undo = run_codex(["undo"], git_repo)

    assert undo.returncode == 0, undo.stderr
    assert {p.name: p.read_bytes() for p in git_repo.iterdir() if p.is_file()} == files_before
    assert git(git_repo, "diff", "--cached") == index_before
    assert git(git_repo, "rev-parse", "--abbrev-ref", "HEAD") == "main\n"
    assert f"removed {git_repo / 'new.txt'}" in undo.stdout  # an added file is removed, not "restored"
    assert f"restored {git_repo / 'staged.txt'}" in undo.stdout
    again = run_codex(["undo"], git_repo)
    assert again.returncode == 1 and "Nothing to undo" in again.stderr
