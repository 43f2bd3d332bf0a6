"""agent/git.py against real temporary repositories: snapshots leave the user's repository alone,
restores touch only the paths asked for, and /diff shows untracked files but not ignored ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import git as repo_git
from tests.conftest import git

REF = "refs/codex/snapshots/thread-1"


def user_state(repo: Path) -> dict[str, str]:
    """Everything a snapshot must not change, as git reports it."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "cached": git(repo, "diff", "--cached"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "index": git(repo, "ls-files", "--stage"),
        "branches": git(repo, "for-each-ref", "refs/heads"),
    }


def snapshot_files(repo: Path, commit: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", commit).split())


@pytest.fixture
def busy_repo(git_repo: Path) -> Path:
    """A repository with a tracked, modified, staged, staged-new, deleted, untracked and ignored file."""
    (git_repo / ".gitignore").write_text("*.log\nbuild/\n")
    (git_repo / "modified.txt").write_text("one\n")
    (git_repo / "staged.txt").write_text("one\n")
    (git_repo / "deleted.txt").write_text("doomed\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "files")
    (git_repo / "modified.txt").write_text("two\n")
    (git_repo / "staged.txt").write_text("staged two\n")
    git(git_repo, "add", "staged.txt")
    (git_repo / "staged.txt").write_text("staged then changed again\n")
    (git_repo / "new-staged.txt").write_text("new and staged\n")
    git(git_repo, "add", "new-staged.txt")
    (git_repo / "deleted.txt").unlink()
    (git_repo / "untracked.txt").write_text("untracked\n")
    (git_repo / "dir").mkdir()
    (git_repo / "dir" / "nested.txt").write_text("nested untracked\n")
    (git_repo / "debug.log").write_text("ignored\n")
    (git_repo / "build").mkdir()
    (git_repo / "build" / "out.bin").write_bytes(b"ignored too")
    return git_repo


def test_repo_facts(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "sub" / "deeper").mkdir(parents=True)
    assert repo_git.repo_root(git_repo / "sub" / "deeper") == git_repo
    assert repo_git.repo_root(git_repo / "sub" / "not-yet" / "file.py") == git_repo
    assert repo_git.repo_root(tmp_path) is None
    assert repo_git.current_branch(git_repo) == "main"
    assert repo_git.head_commit(git_repo) == git(git_repo, "rev-parse", "HEAD").strip()
    git(git_repo, "checkout", "-q", "--detach")
    assert repo_git.current_branch(git_repo) is None
    assert repo_git.current_branch(tmp_path) is None and repo_git.head_commit(tmp_path) is None


def test_repo_root_is_the_nearest_git_entry_with_symlinks_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / ".git").mkdir(parents=True)
    (real / "a").mkdir()
    (tmp_path / "link").symlink_to(real)
    assert repo_git.repo_root(tmp_path / "link" / "a" / "not-yet.py") == real
    (real / "a" / "sub").mkdir()
    (real / "a" / "sub" / ".git").write_text("gitdir: ../../.git/worktrees/sub\n")  # a worktree or submodule
    assert repo_git.repo_root(real / "a" / "sub" / "file.py") == real / "a" / "sub"


def test_a_git_entry_gitpython_cannot_open_has_a_root_but_no_branch_or_head(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / ".git").write_text("gitdir: /nowhere/at/all\n")
    assert repo_git.repo_root(tmp_path / "w") == tmp_path / "w"
    assert repo_git.current_branch(tmp_path / "w") is None and repo_git.head_commit(tmp_path / "w") is None


def test_importing_agent_git_and_finding_a_root_imports_no_gitpython(git_repo: Path) -> None:
    script = ("import sys; from pathlib import Path; from agent.git import repo_root; "
              "print(repo_root(Path(sys.argv[1])), 'git' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script, str(git_repo)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert run.stdout.split() == [str(git_repo.resolve()), "False"], run.stderr


def test_snapshot_holds_the_working_tree_and_changes_nothing_of_the_users(busy_repo: Path) -> None:
    before = user_state(busy_repo)
    contents = {p: p.read_bytes() for p in busy_repo.rglob("*") if p.is_file() and ".git" not in p.parts}

    commit = repo_git.snapshot(busy_repo, "codex snapshot", REF)

    assert user_state(busy_repo) == before
    assert {p: p.read_bytes() for p in busy_repo.rglob("*") if p.is_file() and ".git" not in p.parts} == contents
    assert git(busy_repo, "rev-parse", REF).strip() == commit
    assert snapshot_files(busy_repo, commit) == {
        ".gitignore", "README.md", "modified.txt", "staged.txt", "new-staged.txt", "untracked.txt", "dir/nested.txt"}
    assert git(busy_repo, "show", f"{commit}:modified.txt") == "two\n"
    assert git(busy_repo, "show", f"{commit}:staged.txt") == "staged then changed again\n"  # the disk, not the index


def test_snapshots_of_a_thread_form_a_chain_on_the_private_ref(busy_repo: Path) -> None:
    first = repo_git.snapshot(busy_repo, "first", REF)
    (busy_repo / "untracked.txt").write_text("changed\n")
    second = repo_git.snapshot(busy_repo, "second", REF)
    assert git(busy_repo, "rev-list", REF).split() == [second, first]
    assert git(busy_repo, "log", "--format=%an <%ae>", "-1", REF).strip() == "Codex <codex@localhost>"
    assert git(busy_repo, "branch", "--contains", second).strip() == ""  # on no branch of the user's


def test_snapshot_in_a_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    git(tmp_path, "add", "a.txt")
    commit = repo_git.snapshot(tmp_path, "snap", REF)
    assert snapshot_files(tmp_path, commit) == {"a.txt", "b.txt"}
    assert git(tmp_path, "status", "--porcelain") == "A  a.txt\n?? b.txt\n"
    assert repo_git.head_commit(tmp_path) is None and repo_git.current_branch(tmp_path) == "main"


def test_snapshot_leaves_out_huge_untracked_files_and_crowded_untracked_directories(git_repo: Path) -> None:
    (git_repo / "model.gguf").write_bytes(b"x" * 2048)
    (git_repo / "venv").mkdir()
    for n in range(5):
        (git_repo / "venv" / f"{n}.py").write_text("")
    (git_repo / "small.txt").write_text("kept\n")
    commit = repo_git.snapshot(git_repo, "snap", REF, max_untracked_file_bytes=1024, max_untracked_dir_files=5)
    assert snapshot_files(git_repo, commit) == {"README.md", "small.txt"}
    everything = repo_git.snapshot(git_repo, "snap", REF, max_untracked_file_bytes=None, max_untracked_dir_files=None)
    assert "model.gguf" in snapshot_files(git_repo, everything) and "venv/4.py" in snapshot_files(git_repo, everything)


def test_restore_paths_puts_back_only_the_given_paths(busy_repo: Path) -> None:
    tool = busy_repo / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    commit = repo_git.snapshot(busy_repo, "snap", REF)
    before = user_state(busy_repo)
    (busy_repo / "modified.txt").write_text("edited by the agent\n")
    (busy_repo / "untracked.txt").unlink()
    tool.unlink()
    (busy_repo / "added" / "deep").mkdir(parents=True)
    (busy_repo / "added" / "deep" / "new.txt").write_text("new\n")
    (busy_repo / "README.md").write_text("the user's unrelated change\n")

    repo_git.restore_paths(busy_repo, commit, [busy_repo / "modified.txt", busy_repo / "untracked.txt", tool,
                                               busy_repo / "added" / "deep" / "new.txt"])

    assert (busy_repo / "modified.txt").read_text() == "two\n"
    assert (busy_repo / "untracked.txt").read_text() == "untracked\n"
    assert tool.read_text() == "#!/bin/sh\n" and os.access(tool, os.X_OK)
    assert not (busy_repo / "added" / "deep" / "new.txt").exists()
    assert (busy_repo / "README.md").read_text() == "the user's unrelated change\n"
    assert (busy_repo / "debug.log").read_text() == "ignored\n"
    assert user_state(busy_repo)["cached"] == before["cached"]
    assert user_state(busy_repo)["index"] == before["index"]


def test_restore_paths_rejects_a_path_outside_the_repository(git_repo: Path, tmp_path: Path) -> None:
    commit = repo_git.snapshot(git_repo, "snap", REF)
    with pytest.raises(ValueError):
        repo_git.restore_paths(git_repo, commit, [tmp_path / "elsewhere.txt"])


def test_diff_shows_modified_and_untracked_files_but_not_ignored_ones(busy_repo: Path) -> None:
    before = user_state(busy_repo)
    diff = repo_git.diff_including_untracked(busy_repo)
    assert "diff --git a/modified.txt b/modified.txt" in diff and "-one\n+two\n" in diff
    assert "diff --git a/untracked.txt b/untracked.txt\nnew file mode 100644" in diff and "+untracked\n" in diff
    assert "+nested untracked\n" in diff
    assert "deleted file mode" in diff and "-doomed\n" in diff
    assert "+new and staged\n" in diff
    assert "debug.log" not in diff and "out.bin" not in diff
    assert user_state(busy_repo) == before


def test_diff_in_a_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "first.py").write_text("print('hi')\n")
    diff = repo_git.diff_including_untracked(tmp_path)
    assert "new file mode 100644" in diff and "+print('hi')\n" in diff
    assert git(tmp_path, "status", "--porcelain") == "?? first.py\n"
