"""Behaviour of agent.instructions: AGENTS.md discovery order, overrides, budget and the message text."""

import subprocess
import sys
from pathlib import Path

import pytest

from agent.git import repo_root
from agent.instructions import discover_agents_files, load_project_docs


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "codex-home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    (path / ".git").mkdir(parents=True)
    (path / "pkg" / "sub").mkdir(parents=True)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def section(path: Path, text: str) -> str:
    return f"# AGENTS.md instructions from {path}\n\n{text}"


def wrapped(*sections: str) -> str:
    return "<user_instructions>\n\n" + "\n\n".join(sections) + "\n\n</user_instructions>"


# --- repo root -----------------------------------------------------------------------------------------


def test_repo_root_is_the_nearest_ancestor_with_git(repo: Path) -> None:
    assert repo_root(repo / "pkg" / "sub") == repo
    assert repo_root(repo) == repo


def test_git_file_marks_a_worktree_root(tmp_path: Path) -> None:
    write(tmp_path / "wt" / ".git", "gitdir: /elsewhere\n")
    (tmp_path / "wt" / "a").mkdir()
    assert repo_root(tmp_path / "wt" / "a") == tmp_path / "wt"


def test_no_repo_root_outside_git(tmp_path: Path) -> None:
    assert repo_root(tmp_path) is None


def test_loading_agents_md_in_a_repository_does_not_import_gitpython(repo: Path, home: Path) -> None:
    write(repo / "AGENTS.md", "root rules")
    script = ("import sys; from pathlib import Path; from agent.instructions import load_project_docs; "
              "docs = load_project_docs(Path(sys.argv[1]), Path(sys.argv[2])); "
              "print(len(docs.files), 'git' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script, str(repo / "pkg"), str(home)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert run.stdout.split() == ["1", "False"], run.stderr


# --- discovery order -----------------------------------------------------------------------------------


def test_files_run_from_global_then_repo_root_down_to_cwd(repo: Path, home: Path, tmp_path: Path) -> None:
    write(tmp_path / "AGENTS.md", "above the repo: never read")
    global_file = write(home / "AGENTS.md", "global")
    root = write(repo / "AGENTS.md", "root")
    sub = write(repo / "pkg" / "sub" / "AGENTS.md", "sub")
    assert discover_agents_files(repo / "pkg" / "sub", home) == [global_file, root, sub]
    docs = load_project_docs(repo / "pkg" / "sub", home)
    assert docs.files == (global_file, root, sub)
    assert docs.text == wrapped(section(global_file, "global"), section(root, "root"), section(sub, "sub"))
    assert not docs.truncated


def test_override_file_replaces_agents_md_in_its_directory(repo: Path, home: Path) -> None:
    write(home / "AGENTS.md", "global")
    global_override = write(home / "AGENTS.override.md", "global override")
    write(repo / "AGENTS.md", "root")
    root_override = write(repo / "AGENTS.override.md", "root override")
    pkg = write(repo / "pkg" / "AGENTS.md", "pkg")
    docs = load_project_docs(repo / "pkg", home)
    assert docs.files == (global_override, root_override, pkg)
    assert "root override" in docs.text
    assert "\n\nroot\n\n" not in docs.text


def test_empty_files_are_skipped_and_an_empty_override_silences_agents_md(repo: Path, home: Path) -> None:
    write(home / "AGENTS.md", "  \n")
    write(repo / "AGENTS.md", "root")
    write(repo / "AGENTS.override.md", "")
    pkg = write(repo / "pkg" / "AGENTS.md", "pkg")
    docs = load_project_docs(repo / "pkg", home)
    assert docs.files == (pkg,)
    assert docs.text == wrapped(section(pkg, "pkg"))


def test_outside_git_only_the_cwd_is_searched(tmp_path: Path, home: Path) -> None:
    write(tmp_path / "AGENTS.md", "parent: not read")
    cwd = tmp_path / "project"
    here = write(cwd / "AGENTS.md", "here")
    assert load_project_docs(cwd, home).files == (here,)


def test_global_file_alone(tmp_path: Path, home: Path) -> None:
    global_file = write(home / "AGENTS.md", "be terse\n")
    docs = load_project_docs(tmp_path, home)
    assert docs.files == (global_file,)
    assert docs.text == wrapped(section(global_file, "be terse"))


def test_no_files_gives_empty_text(tmp_path: Path, home: Path) -> None:
    docs = load_project_docs(tmp_path, home)
    assert (docs.files, docs.text, docs.truncated) == ((), "", False)


def test_cwd_inside_codex_home_does_not_repeat_the_global_file(home: Path) -> None:
    global_file = write(home / "AGENTS.md", "global")
    assert load_project_docs(home, home).files == (global_file,)


def test_text_is_byte_stable_for_the_same_files(repo: Path, home: Path) -> None:
    write(repo / "AGENTS.md", "root\n")
    write(home / "AGENTS.md", "global\n")
    assert load_project_docs(repo, home).text == load_project_docs(repo, home).text


# --- budget --------------------------------------------------------------------------------------------


def test_budget_cuts_the_file_that_crosses_it_and_drops_later_ones(repo: Path, home: Path) -> None:
    root = write(repo / "AGENTS.md", "a" * 10)
    pkg = write(repo / "pkg" / "AGENTS.md", "b" * 10)
    write(repo / "pkg" / "sub" / "AGENTS.md", "c" * 10)
    docs = load_project_docs(repo / "pkg" / "sub", home, max_bytes=15)
    assert docs.files == (root, pkg)
    assert docs.text == wrapped(section(root, "a" * 10), section(pkg, "b" * 5))
    assert docs.truncated


def test_budget_exactly_used_then_a_later_file_marks_truncated(repo: Path, home: Path) -> None:
    root = write(repo / "AGENTS.md", "a" * 10)
    write(repo / "pkg" / "AGENTS.md", "b")
    docs = load_project_docs(repo / "pkg", home, max_bytes=10)
    assert docs.files == (root,)
    assert docs.truncated


def test_files_within_budget_are_not_truncated(repo: Path, home: Path) -> None:
    write(repo / "AGENTS.md", "a" * 10)
    assert not load_project_docs(repo, home, max_bytes=10).truncated


def test_truncation_never_splits_a_utf8_character(repo: Path, home: Path) -> None:
    root = write(repo / "AGENTS.md", "ab\u00e9\u00e9")  # 2 + 2 + 2 bytes
    docs = load_project_docs(repo, home, max_bytes=5)
    assert docs.text == wrapped(section(root, "ab\u00e9"))
    assert docs.truncated


def test_budget_applies_to_project_files_only(repo: Path, home: Path) -> None:
    global_file = write(home / "AGENTS.md", "g" * 100)
    root = write(repo / "AGENTS.md", "r" * 100)
    docs = load_project_docs(repo, home, max_bytes=10)
    assert docs.files == (global_file, root)
    assert docs.text == wrapped(section(global_file, "g" * 100), section(root, "r" * 10))


def test_zero_budget_disables_project_files_but_keeps_the_global_one(repo: Path, home: Path) -> None:
    global_file = write(home / "AGENTS.md", "global")
    write(repo / "AGENTS.md", "root")
    docs = load_project_docs(repo, home, max_bytes=0)
    assert docs.files == (global_file,)
    assert not docs.truncated
