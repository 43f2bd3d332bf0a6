"""The patch journal: a real writer process paused at a chosen moment (CODEX_TEST_PATCH_PAUSE) and killed with
SIGKILL, or whose tree another process changes, then `recover` in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.tools import patch_journal

WRITER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from agent.tools import apply_patch
    workspace, home = Path(sys.argv[1]), Path(sys.argv[2])
    changes = apply_patch.plan(sys.stdin.read(), workspace, [workspace])
    try:
        written = apply_patch.apply(changes, workspace, home / "journal", audit=True)
    except apply_patch.PatchError as e:
        print(json.dumps({"error": str(e)}))
    else:
        print(json.dumps({"relocated": {str(k): str(v) for k, v in written.relocated.items()}}))
""")


def patch(count: int) -> str:
    """Updates a.txt, moves m.txt to moved/m.txt, deletes gone.txt and adds `count` files under new/."""
    lines = ["*** Begin Patch", "*** Update File: a.txt", "-a", "+A", "*** Update File: m.txt",
             "*** Move to: moved/m.txt", "@@", "-m", "+M", "*** Delete File: gone.txt"]
    for i in range(count):
        lines += [f"*** Add File: new/f{i}.txt", f"+{i}"]
    return "\n".join([*lines, "*** End Patch"]) + "\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "m.txt").write_text("m\n")
    (root / "gone.txt").write_text("bye\n")
    return root.resolve()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return (tmp_path / "home").resolve()


def start_writer(workspace: Path, home: Path, text: str, pause: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CODEX_TEST_PATCH_PAUSE": pause}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(workspace), str(home)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(text)
    proc.stdin.close()
    return proc


def kill_when_paused(proc: subprocess.Popen[str], pause_line: str) -> None:
    """SIGKILL the writer once it says it paused (it is killed in any case)."""
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert line == pause_line, line + proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(*roots: Path) -> list[str]:
    return [str(p) for root in roots for p in root.rglob("*") if p.name.startswith(patch_journal.STAGE_PREFIX)
            or p.name.endswith((".tmp", ".lock", ".new"))]


def test_kill_after_some_renames_is_rolled_forward(workspace: Path, home: Path) -> None:
    kill_when_paused(start_writer(workspace, home, patch(20), "renamed:5"), "codex-test-pause: renamed 5\n")
    assert (workspace / "a.txt").read_text() == "A\n" and (workspace / "gone.txt").exists()

    [result] = patch_journal.recover(home)

    assert result.message() == f"rolled forward an interrupted edit of 24 files in {workspace}"
    assert files(workspace) == {"a.txt": "A\n", "moved/m.txt": "M\n", **{f"new/f{i}.txt": f"{i}\n" for i in range(20)}}
    assert leftovers(workspace, home / "journal") == []
    assert patch_journal.recover(home) == []


def test_kill_while_staging_is_rolled_back_and_leaves_nothing(workspace: Path, home: Path) -> None:
    before = files(workspace)
    kill_when_paused(start_writer(workspace, home, patch(20), "staged:12"), "codex-test-pause: staged 12\n")
    assert leftovers(workspace)  # staged files and the journal are there

    [result] = patch_journal.recover(home)

    assert result.message() == f"rolled back an interrupted edit of 24 files in {workspace}; no file was changed"
    assert files(workspace) == before
    assert sorted(p.name for p in workspace.iterdir()) == ["a.txt", "gone.txt", "m.txt"]  # no new/ nor moved/
    assert leftovers(workspace, home / "journal") == []


def test_a_live_writer_is_left_alone(workspace: Path, home: Path, tmp_path: Path) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    proc = start_writer(workspace, home, patch(3), f"renamed:2:{signals}")
    assert proc.stderr is not None and proc.stderr.readline() == "codex-test-pause: renamed 2\n"

    assert patch_journal.recover(home) == []

    (signals / "resume").touch()
    assert proc.wait(timeout=30) == 0
    assert json.loads(proc.stdout.read() if proc.stdout else "") == {"relocated": {}}
    assert files(workspace)["moved/m.txt"] == "M\n" and leftovers(workspace, home / "journal") == []


def test_roll_forward_keeps_a_file_the_user_changed_after_the_kill(workspace: Path, home: Path) -> None:
    kill_when_paused(start_writer(workspace, home, patch(5), "renamed:1"), "codex-test-pause: renamed 1\n")
    (workspace / "new").mkdir(exist_ok=True)
    (workspace / "gone.txt").write_text("the user's new text\n")

    [result] = patch_journal.recover(home)

    assert result.action == "rolled forward"
    assert result.problems == (f"{workspace}/gone.txt changed after the interrupted edit; not deleted",)
    assert (workspace / "gone.txt").read_text() == "the user's new text\n"
    assert files(workspace)["new/f4.txt"] == "4\n" and leftovers(workspace, home / "journal") == []


def test_roll_forward_refuses_a_staged_copy_another_process_changed(workspace: Path, home: Path) -> None:
    kill_when_paused(start_writer(workspace, home, patch(5), "renamed:1"), "codex-test-pause: renamed 1\n")
    staged = [p for p in workspace.rglob(patch_journal.STAGE_PREFIX + "*") if p.parent.name == "new"]
    staged[0].write_text("planted\n")

    [result] = patch_journal.recover(home)

    assert "its staged copy was changed by another process; not written" in result.problems[0]
    assert [p.split(" ")[0] for p in result.problems[1:]] == [f"{workspace}/m.txt", f"{workspace}/gone.txt"]
    after = files(workspace)
    assert "planted\n" not in after.values() and leftovers(workspace, home / "journal") == []
    assert after["m.txt"] == "m\n" and after["moved/m.txt"] == "M\n"  # with a file missing, nothing is deleted


def test_recovery_audits_every_file_it_rolled_forward(workspace: Path, home: Path) -> None:
    kill_when_paused(start_writer(workspace, home, patch(2), "renamed:2"), "codex-test-pause: renamed 2\n")

    patch_journal.recover(home)

    lines = [json.loads(line) for file in (home / "audit").glob("*.jsonl") for line in file.read_text().splitlines()]
    changed = {r["path"]: r["change"] for r in lines if r["kind"] == "file_changed"}
    assert changed == {str(workspace / "a.txt"): "update", str(workspace / "moved/m.txt"): "add",
                       str(workspace / "new/f0.txt"): "add", str(workspace / "new/f1.txt"): "add",
                       str(workspace / "m.txt"): "delete", str(workspace / "gone.txt"): "delete"}


def swap_for_symlink(directory: Path, outside: Path) -> None:
    directory.rename(directory.with_name(directory.name + ".moved"))
    directory.symlink_to(outside)


@pytest.mark.parametrize("pause", ["staged:3", "renamed:3"])
def test_a_directory_swapped_for_a_symlink_never_sends_a_write_outside(workspace: Path, home: Path,
                                                                       tmp_path: Path, pause: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "new").mkdir()
    signals = tmp_path / "signals"
    signals.mkdir()
    proc = start_writer(workspace, home, patch(10), f"{pause}:{signals}")
    while not (signals / "paused").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    swap_for_symlink(workspace / "new", outside)
    (signals / "resume").touch()
    assert proc.wait(timeout=30) == 0
    result = json.loads(proc.stdout.read() if proc.stdout else "")

    assert list(outside.iterdir()) == []
    assert leftovers(workspace, home / "journal") == []
    if pause.startswith("staged"):  # before the commit point: nothing at all changes
        assert "was moved or replaced by another process" in result["error"]
        assert "No files were changed." in result["error"]
        assert files(workspace) == {"a.txt": "a\n", "gone.txt": "bye\n", "m.txt": "m\n"}
    else:  # after it: the files land in the directory that was opened, and the result says where it is now
        assert result == {"relocated": {str(workspace / "new"): str(workspace / "new.moved")}}
        assert files(workspace / "new.moved") == {f"f{i}.txt": f"{i}\n" for i in range(10)}


def test_a_target_turned_into_a_directory_after_the_commit_is_reported_and_nothing_is_lost(
        workspace: Path, home: Path, tmp_path: Path) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    proc = start_writer(workspace, home, patch(2), f"renamed:1:{signals}")
    while not (signals / "paused").exists():
        time.sleep(0.01)
    (workspace / "moved/m.txt").mkdir()  # another process takes the move's destination
    (signals / "resume").touch()
    assert proc.wait(timeout=30) == 0
    error = json.loads(proc.stdout.read() if proc.stdout else "")["error"]

    assert error == ("The patch was only partly applied: another process changed the tree while it was written. "
                     "Not written: moved/m.txt (Is a directory); m.txt (not deleted, since not every file of the "
                     "patch could be written); gone.txt (not deleted, since not every file of the patch could be "
                     "written). The other 3 files were written.")
    assert files(workspace) == {"a.txt": "A\n", "m.txt": "m\n", "gone.txt": "bye\n", "new/f0.txt": "0\n",
                                "new/f1.txt": "1\n"}
    assert leftovers(workspace, home / "journal") == []
