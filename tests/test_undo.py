"""agent/undo.py with real files: a turn's edits are undone exactly, turn by turn, inside and outside git,
without touching the index, the branch or the user's other changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.errors import UserError
from agent.tools.apply_patch import apply, plan
from agent.undo import UndoLog
from tests.conftest import git


def files_on_disk(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def dirs_on_disk(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir() and ".git" not in p.parts}


def edit(log: UndoLog, turn: str, writes: dict[Path, str | None]) -> None:
    """One apply_patch-like edit: announce the paths, then write (None deletes)."""
    log.before_edit(turn, list(writes))
    for path, text in writes.items():
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


@pytest.fixture
def session_dir(tmp_path: Path) -> Path:
    return tmp_path / "codex-home" / "sessions" / "thread-1"


def test_undo_restores_the_pre_turn_tree_and_keeps_the_index(git_repo: Path, session_dir: Path) -> None:
    repo = git_repo
    (repo / ".gitignore").write_text("*.log\n.env\n")
    for name in ("staged.txt", "unstaged.txt", "doomed.txt", "moving.txt", "unrelated.txt"):
        (repo / name).write_text(f"{name} as committed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    (repo / "staged.txt").write_text("staged change\n")
    git(repo, "add", "staged.txt")
    (repo / "unstaged.txt").write_text("unstaged change\n")
    (repo / "untracked.txt").write_text("untracked\n")
    (repo / "debug.log").write_text("ignored log\n")
    (repo / ".env").write_text("SECRET=1\n")
    cached, index = git(repo, "diff", "--cached"), git(repo, "ls-files", "--stage")
    head, branch = git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD")
    before, before_dirs = files_on_disk(repo), dirs_on_disk(repo)

    log = UndoLog(repo, session_dir, "thread-1")
    edit(log, "turn-1", {repo / "staged.txt": "agent edit of staged\n", repo / "unstaged.txt": "agent edit\n"})
    edit(log, "turn-1", {repo / "src" / "pkg" / "new.py": "print('new')\n", repo / "doomed.txt": None})
    edit(log, "turn-1", {repo / "moving.txt": None, repo / "moved" / "moving.txt": "moving.txt as committed\n"})
    edit(log, "turn-1", {repo / "untracked.txt": "agent edit of untracked\n", repo / ".env": "SECRET=2\n"})
    (repo / "unrelated.txt").write_text("the user's change after the turn\n")
    states = {f.path.relative_to(repo).as_posix(): f.state for f in log.checkpoints[-1].files}
    assert states["staged.txt"] == states["untracked.txt"] == "snapshot"  # the git snapshot keeps them
    assert states[".env"] == "copy" and states["src/pkg/new.py"] == "absent"  # ignored: copied; new: absent

    restored = log.undo_last()

    expected = {**before, "unrelated.txt": b"the user's change after the turn\n"}
    assert files_on_disk(repo) == expected
    assert dirs_on_disk(repo) == before_dirs  # src/pkg and moved/ are gone again
    assert set(restored) == {repo / "staged.txt", repo / "unstaged.txt", repo / "src" / "pkg" / "new.py",
                             repo / "doomed.txt", repo / "moving.txt", repo / "moved" / "moving.txt",
                             repo / "untracked.txt", repo / ".env"}
    assert git(repo, "diff", "--cached") == cached and git(repo, "ls-files", "--stage") == index
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "symbolic-ref", "HEAD") == branch
    assert git(repo, "rev-parse", "--verify", "refs/codex/snapshots/thread-1")  # the snapshot stays on its ref
    assert git(repo, "for-each-ref", "refs/heads") == f"{head.strip()} commit\trefs/heads/main\n"


def test_an_edit_through_the_real_apply_patch_is_undone(git_repo: Path, session_dir: Path) -> None:
    (git_repo / "app.py").write_text("x = 1\n")
    patch = ("*** Begin Patch\n*** Update File: app.py\n*** Move to: lib/app.py\n@@\n-x = 1\n+x = 2\n"
             "*** Add File: notes.md\n+hello\n*** End Patch\n")
    before = files_on_disk(git_repo)
    log = UndoLog(git_repo, session_dir, "thread-1")
    changes = plan(patch, git_repo, [git_repo])
    log.before_edit("turn-1", [p for change in changes for p in (change.path, change.move_to) if p is not None])
    apply(changes, git_repo)
    assert (git_repo / "lib" / "app.py").read_text() == "x = 2\n"
    log.undo_last()
    assert files_on_disk(git_repo) == before and not (git_repo / "lib").exists()


def test_undo_goes_back_turn_by_turn_then_says_nothing_to_undo(git_repo: Path, session_dir: Path) -> None:
    readme = git_repo / "README.md"
    log = UndoLog(git_repo, session_dir, "thread-1")
    edit(log, "turn-1", {readme: "first\n"})
    edit(log, "turn-2", {readme: "second\n", git_repo / "extra.txt": "extra\n"})

    assert log.undo_last() == [readme, git_repo / "extra.txt"]
    assert readme.read_text() == "first\n" and not (git_repo / "extra.txt").exists()
    assert log.undo_last() == [readme]
    assert readme.read_text() == "# demo\n"
    with pytest.raises(UserError, match="Nothing to undo"):
        log.undo_last()
    assert git(git_repo, "status", "--porcelain") == ""


def test_a_new_process_can_load_the_log_and_undo_the_last_turn(git_repo: Path, session_dir: Path) -> None:
    readme = git_repo / "README.md"
    log = UndoLog(git_repo, session_dir, "thread-1")
    edit(log, "turn-1", {readme: "first\n"})
    edit(log, "turn-2", {readme: "second\n"})

    loaded = UndoLog.load(git_repo, session_dir, "thread-1")
    assert [c.turn_id for c in loaded.checkpoints] == ["turn-1", "turn-2"]
    assert loaded.undo_last() == [readme]
    assert readme.read_text() == "first\n"
    assert [c.turn_id for c in UndoLog.load(git_repo, session_dir, "thread-1").checkpoints] == ["turn-1"]


def test_loading_a_session_that_never_edited_gives_an_empty_log(tmp_path: Path, session_dir: Path) -> None:
    with pytest.raises(UserError, match="Nothing to undo"):
        UndoLog.load(tmp_path, session_dir, "thread-1").undo_last()


def test_a_repository_without_commits(tmp_path: Path, session_dir: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    (repo / "b.txt").write_text("b\n")
    status = git(repo, "status", "--porcelain")
    log = UndoLog(repo, session_dir, "thread-1")
    edit(log, "turn-1", {repo / "a.txt": "A\n", repo / "b.txt": None, repo / "c.txt": "c\n"})
    assert log.checkpoints[0].snapshot is not None
    log.undo_last()
    assert files_on_disk(repo) == {"a.txt": b"a\n", "b.txt": b"b\n"}
    assert git(repo, "status", "--porcelain") == status


def test_outside_git_files_are_backed_up_under_the_session(tmp_path: Path, session_dir: Path) -> None:
    work = tmp_path / "plain"
    work.mkdir()
    (work / "keep.txt").write_text("keep\n")
    (work / "edit.txt").write_text("original\n")
    (work / "gone.txt").write_text("will be deleted\n")
    before = files_on_disk(work)
    log = UndoLog(work, session_dir, "thread-1")
    edit(log, "turn-1", {work / "edit.txt": "changed\n", work / "gone.txt": None, work / "new" / "n.txt": "n\n"})
    checkpoint = log.checkpoints[0]
    assert checkpoint.snapshot is None
    assert checkpoint.backup_dir == session_dir / "backups" / "turn-1" and checkpoint.backup_dir.is_dir()

    log.undo_last()
    assert files_on_disk(work) == before and not (work / "new").exists()
    assert not checkpoint.backup_dir.exists()


def test_only_the_first_touch_of_a_path_in_a_turn_counts(tmp_path: Path, session_dir: Path) -> None:
    (tmp_path / "f.txt").write_text("before\n")
    log = UndoLog(tmp_path, session_dir, "thread-1")
    edit(log, "turn-1", {tmp_path / "f.txt": "first edit\n"})
    edit(log, "turn-1", {tmp_path / "f.txt": "second edit\n"})
    assert len(log.checkpoints) == 1
    log.undo_last()
    assert (tmp_path / "f.txt").read_text() == "before\n"


def test_bytes_that_git_filters_would_change_are_still_restored_exactly(git_repo: Path, session_dir: Path) -> None:
    (git_repo / ".gitattributes").write_text("* text=auto\n")
    git(git_repo, "add", ".gitattributes")
    git(git_repo, "commit", "-q", "-m", "attributes")
    windows = git_repo / "windows.txt"
    windows.write_bytes(b"line one\r\nline two\r\n")  # the snapshot stores it as LF
    log = UndoLog(git_repo, session_dir, "thread-1")
    edit(log, "turn-1", {windows: "rewritten\n"})
    assert log.checkpoints[0].files[0].state == "copy"
    log.undo_last()
    assert windows.read_bytes() == b"line one\r\nline two\r\n"


def test_a_snapshot_works_where_commits_must_be_signed(git_repo: Path, session_dir: Path) -> None:
    git(git_repo, "config", "commit.gpgSign", "true")
    git(git_repo, "config", "gpg.program", "false")
    log = UndoLog(git_repo, session_dir, "thread-1")
    edit(log, "turn-1", {git_repo / "README.md": "changed\n"})
    assert log.checkpoints[0].snapshot is not None
    log.undo_last()
    assert (git_repo / "README.md").read_text() == "# demo\n"


def test_modes_and_symlinks_come_back(git_repo: Path, session_dir: Path) -> None:
    script = git_repo / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    link = git_repo / "link.txt"
    link.symlink_to("README.md")
    log = UndoLog(git_repo, session_dir, "thread-1")
    edit(log, "turn-1", {script: "#!/bin/sh\necho bye\n"})
    script.chmod(0o644)
    log.before_edit("turn-1", [link])
    link.unlink()
    link.write_text("now a regular file\n")
    log.undo_last()
    assert script.read_text() == "#!/bin/sh\necho hi\n" and (script.stat().st_mode & 0o777) == 0o750
    assert link.is_symlink() and os.readlink(link) == "README.md"


def test_a_failed_restore_keeps_the_turn_so_undo_can_be_retried(tmp_path: Path, session_dir: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("before\n")
    log = UndoLog(tmp_path, session_dir, "thread-1")
    edit(log, "turn-1", {target: "after\n"})
    target.unlink()
    target.mkdir()
    (target / "blocker").write_text("")  # a non-empty directory now sits where the file was
    with pytest.raises(UserError, match="could not restore"):
        log.undo_last()
    assert len(log.checkpoints) == 1
    (target / "blocker").unlink()
    log.undo_last()
    assert target.read_text() == "before\n"


def test_saving_the_log_never_writes_through_a_symlink_planted_at_its_temporary_name(tmp_path: Path,
                                                                                     session_dir: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    session_dir.mkdir(parents=True)
    (session_dir / "undo.json.tmp").symlink_to(victim)
    target = tmp_path / "f.txt"
    target.write_text("before\n")
    log = UndoLog(tmp_path, session_dir, "thread-1")
    edit(log, "turn-1", {target: "after\n"})
    assert victim.read_text() == "precious\n"
    assert not (session_dir / "undo.json.tmp").is_symlink()
    assert [c.turn_id for c in UndoLog.load(tmp_path, session_dir, "thread-1").checkpoints] == ["turn-1"]
