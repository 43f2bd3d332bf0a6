"""End to end: a real `codex exec` writing a long patch is killed with SIGKILL, or has a directory swapped for a
symlink under it by another process, at a moment chosen with the writer's test-only pause
(CODEX_TEST_PATCH_PAUSE, agent/tools/patch_journal.py); then the next real `codex` start recovers."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, RunCodex, codex_command, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

FILES = 400
STAGE_PREFIX = ".codex-patch-"


def long_patch(count: int = FILES, directory: str = "gen") -> str:
    """Adds `count` files under `directory` (ten per subdirectory) and updates app.py."""
    lines = ["*** Begin Patch", "*** Update File: app.py", "@@", "-x = 1", "+x = 2"]
    for i in range(count):
        lines += [f"*** Add File: {directory}/d{i // 10}/f{i}.txt", f"+content {i}"]
    return "\n".join([*lines, "*** End Patch"]) + "\n"


def start_codex(args: list[str], cwd: Path, codex_home: Path, pause: str) -> subprocess.Popen[str]:
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1",
           "CODEX_TEST_PATCH_PAUSE": pause}
    return subprocess.Popen([*codex_command(), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60) -> str:
    """Read the process's stderr until a line starts with `prefix`."""
    assert proc.stderr is not None
    seen = []
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stderr.readline()
            if not line:
                break
            if line.startswith(prefix):
                return line
            seen.append(line)
    proc.kill()
    raise AssertionError(f"no line starting with {prefix!r} on stderr; got: {''.join(seen)}")


def kill_9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def files_under(root: Path) -> dict[str, str]:
    """Every file under root except .git, with its content."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def stray_files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.name.startswith(STAGE_PREFIX) or p.suffix == ".tmp"]


def audit_records(codex_home: Path, kind: str) -> list[dict]:
    records = []
    for file in sorted((codex_home / "audit").glob("audit-*.jsonl")):
        records += [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("kind") == kind]


@pytest.fixture
def workspace(git_repo: Path) -> Path:
    (git_repo / "app.py").write_text("x = 1\n")
    return git_repo


def patch_script() -> list[Reply]:
    return [Reply(tool_calls=(ToolCall("apply_patch", {"input": long_patch()}),)), Reply(text="Done.")]


def test_kill_9_after_some_renames_then_the_next_codex_start_rolls_forward(workspace: Path, codex_home: Path,
                                                                            run_codex: RunCodex):
    with ScriptedServer(patch_script()) as server:
        write_provider_config(codex_home, server)
        proc = start_codex(["exec", "--full-auto", "write the files"], workspace, codex_home, "renamed:150")
        wait_for_line(proc, "codex-test-pause: renamed 150")
        kill_9(proc)

    half = files_under(workspace)
    assert half["app.py"] == "x = 2\n"  # the update is renamed first, then the added files in patch order
    assert sum(name.startswith("gen/") and STAGE_PREFIX not in name for name in half) == 149
    assert len(stray_files(workspace)) == FILES - 149  # the staged files not yet renamed
    assert audit_records(codex_home, "file_changed") == []  # the killed writer recorded nothing

    recovery = run_codex(["audit", "verify"], workspace)

    assert recovery.returncode == 0, recovery.stderr
    assert f"codex: rolled forward an interrupted edit of {FILES + 1} files in {workspace.resolve()}\n" \
        in recovery.stderr
    after = files_under(workspace)
    assert after["app.py"] == "x = 2\n"
    assert {after[f"gen/d{i // 10}/f{i}.txt"] for i in range(FILES)} == {f"content {i}\n" for i in range(FILES)}
    assert stray_files(workspace, codex_home) == []
    assert list((codex_home / "journal").iterdir()) == []
    changed = audit_records(codex_home, "file_changed")
    assert sorted(r["path"] for r in changed) == sorted(
        [str(workspace.resolve() / "app.py")] + [str(workspace.resolve() / f"gen/d{i // 10}/f{i}.txt")
                                                 for i in range(FILES)])
    assert {r["recovered"] for r in changed} == {"rolled forward"}
    assert run_codex(["audit", "verify"], workspace).stderr == ""  # recovered once, not again


def test_kill_9_while_staging_then_the_next_codex_start_rolls_back(workspace: Path, codex_home: Path,
                                                                    run_codex: RunCodex):
    before = files_under(workspace)
    with ScriptedServer(patch_script()) as server:
        write_provider_config(codex_home, server)
        proc = start_codex(["exec", "--full-auto", "write the files"], workspace, codex_home, "staged:200")
        wait_for_line(proc, "codex-test-pause: staged 200")
        kill_9(proc)
    assert len(stray_files(workspace)) == 200

    recovery = run_codex(["audit", "verify"], workspace)

    assert f"codex: rolled back an interrupted edit of {FILES + 1} files in {workspace.resolve()}; " \
           "no file was changed\n" in recovery.stderr
    assert files_under(workspace) == before
    assert not (workspace / "gen").exists()  # the directories the edit created are gone too
    assert stray_files(workspace, codex_home) == []
    assert list((codex_home / "journal").iterdir()) == []
    assert audit_records(codex_home, "file_changed") == []


def test_codex_undo_after_a_killed_edit_rolls_it_forward_then_undoes_all_of_it(workspace: Path, codex_home: Path,
                                                                               run_codex: RunCodex):
    before = files_under(workspace)
    with ScriptedServer(patch_script()) as server:
        write_provider_config(codex_home, server)
        proc = start_codex(["exec", "--full-auto", "write the files"], workspace, codex_home, "renamed:40")
        wait_for_line(proc, "codex-test-pause: renamed 40")
        kill_9(proc)
    [undo_log] = codex_home.rglob("undo.json")
    planted = undo_log.with_name("undo.json.tmp")  # what a kill -9 inside the undo log's own save would leave
    planted.write_text("{}")
    os.utime(planted, (time.time() - 120, time.time() - 120))

    undo = run_codex(["undo"], workspace)

    assert undo.returncode == 0, undo.stderr
    assert "codex: rolled forward an interrupted edit" in undo.stderr
    assert files_under(workspace) == before
    assert stray_files(workspace, codex_home) == []


# --- another process swaps a directory of the workspace for a symlink while the patch is written ---------------


@contextlib.contextmanager
def background(script: str, signals: Path) -> Iterator[None]:
    """A real background process that waits for the writer to pause, runs `script`, then lets the writer go on;
    it must have finished by the end of the block (it is killed if not)."""
    proc = subprocess.Popen(["bash", "-c", f'while [ ! -e "{signals}/paused" ]; do sleep 0.01; done; '
                                           f'{script}; touch "{signals}/resume"'])
    try:
        yield
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def swap_script(workspace: Path, outside: Path) -> str:
    """Move gen/d3 aside and put a symlink to `outside` in its place."""
    return f'mv "{workspace}/gen/d3" "{workspace}/gen/d3.moved" && ln -s "{outside}" "{workspace}/gen/d3"'


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "precious.txt").write_text("keep\n")
    return directory


def run_with_swap(workspace: Path, codex_home: Path, outside: Path, tmp_path: Path, pause: str,
                  run_codex: RunCodex):
    signals = tmp_path / "signals"
    signals.mkdir()
    (workspace / "gen/d3").mkdir(parents=True)
    (workspace / "gen/d3/old.txt").write_text("old\n")
    script = [Reply(tool_calls=(ToolCall("apply_patch", {"input": long_patch(100)}),)), Reply(text="Done.")]
    with background(swap_script(workspace, outside), signals), ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "--full-auto", "write the files"], workspace,
                        env={"CODEX_TEST_PATCH_PAUSE": f"{pause}:{signals}"})
    return run, server


def test_a_directory_swapped_for_a_symlink_before_the_commit_changes_nothing(workspace: Path, codex_home: Path,
                                                                            outside: Path, tmp_path: Path,
                                                                            run_codex: RunCodex):
    run, server = run_with_swap(workspace, codex_home, outside, tmp_path, "staged:60", run_codex)

    assert run.returncode == 0, run.stderr
    assert files_under(outside) == {"precious.txt": "keep\n"}
    assert files_under(workspace / "gen/d3.moved") == {"old.txt": "old\n"}  # the staged files are gone again
    assert (workspace / "app.py").read_text() == "x = 1\n"
    assert not any((workspace / "gen").glob("d[0-24-9]"))
    assert stray_files(workspace, codex_home) == []
    item = next(e["item"] for e in run.events() if e["type"] == "item.completed"
                and e["item"]["type"] == "file_change")
    assert item["status"] == "failed"
    tool_output = json.dumps(server.requests[-1].body)
    assert "error: apply_patch failed: Failed to write gen/d3: this directory was moved or replaced" in tool_output
    assert "was moved or replaced by another process" in tool_output and "No files were changed." in tool_output
    assert "Rollback failed" not in tool_output
    assert audit_records(codex_home, "file_changed") == []


def test_a_directory_swapped_for_a_symlink_after_the_commit_is_written_and_reported_where_it_is(
        workspace: Path, codex_home: Path, outside: Path, tmp_path: Path, run_codex: RunCodex):
    run, server = run_with_swap(workspace, codex_home, outside, tmp_path, "renamed:10", run_codex)

    assert run.returncode == 0, run.stderr
    assert files_under(outside) == {"precious.txt": "keep\n"}  # nothing followed the symlink
    moved = workspace.resolve() / "gen/d3.moved"
    assert files_under(moved) == {"old.txt": "old\n", **{f"f{i}.txt": f"content {i}\n" for i in range(30, 40)}}
    assert stray_files(workspace, codex_home) == []
    item = next(e["item"] for e in run.events() if e["type"] == "item.completed"
                and e["item"]["type"] == "file_change")
    assert item["status"] == "completed"
    reported = {c["path"] for c in item["changes"]}
    assert {str(moved / f"f{i}.txt") for i in range(30, 40)} <= reported
    assert not any(path.startswith(f"{workspace.resolve()}/gen/d3/") for path in reported)
    audited = {r["path"]: r for r in audit_records(codex_home, "file_changed")}
    assert set(audited) == reported
    assert audited[str(moved / "f31.txt")]["sha256_after"] is not None
    assert "Another process moved gen/d3 while the patch was written; its files are now in gen/d3.moved." \
        in json.dumps(server.requests[-1].body)


def test_a_target_another_process_takes_after_the_commit_is_reported_and_not_audited(
        workspace: Path, codex_home: Path, tmp_path: Path, run_codex: RunCodex):
    signals = tmp_path / "signals"
    signals.mkdir()
    taken = workspace / "gen/d5/f55.txt"
    steps = [Reply(tool_calls=(ToolCall("apply_patch", {"input": long_patch(100)}),)), Reply(text="Done.")]
    with background(f'mkdir "{taken}"', signals), ScriptedServer(steps) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "--full-auto", "write the files"], workspace,
                        env={"CODEX_TEST_PATCH_PAUSE": f"renamed:10:{signals}"})

    assert run.returncode == 0, run.stderr
    item = next(e["item"] for e in run.events() if e["type"] == "item.completed"
                and e["item"]["type"] == "file_change")
    reported = {c["path"] for c in item["changes"]}
    assert len(reported) == 100 and str(taken.resolve()) not in reported
    assert set(audit_records_paths(codex_home)) == reported
    tool_output = json.dumps(server.requests[-1].body)
    assert "error: apply_patch failed: The patch was only partly applied" in tool_output
    assert "Not written: gen/d5/f55.txt (Is a directory)" in tool_output
    assert stray_files(workspace, codex_home) == []


def audit_records_paths(codex_home: Path) -> list[str]:
    return [r["path"] for r in audit_records(codex_home, "file_changed")]
