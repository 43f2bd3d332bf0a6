"""Directory-fd file operations that never follow symlinks, on real files and symlinks in temporary directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.tools import safe_fs

RESOLVERS = [pytest.param(False, id="walk"),
             pytest.param(True, id="openat2", marks=pytest.mark.skipif(not safe_fs.openat2_works(),
                                                                       reason="no openat2 here"))]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """inside/real/ (a directory), inside/link -> outside, outside/secret.txt."""
    (tmp_path / "inside/real").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret.txt").write_text("secret\n")
    (tmp_path / "inside/link").symlink_to(tmp_path / "outside")
    return tmp_path.resolve()


@pytest.mark.parametrize("use_openat2", RESOLVERS)
def test_open_directory_refuses_a_symlink_anywhere_in_the_path(tree: Path, use_openat2: bool) -> None:
    for path in (tree / "inside/link", tree / "inside/link/deeper"):
        with pytest.raises(safe_fs.SymlinkInPath) as e:
            os.close(safe_fs.open_directory(path, create=True, use_openat2=use_openat2))
        assert e.value.component == tree / "inside/link"
    assert sorted(p.name for p in (tree / "outside").iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("use_openat2", RESOLVERS)
def test_open_directory_reaches_a_real_directory(tree: Path, use_openat2: bool) -> None:
    fd = safe_fs.open_directory(tree / "inside/real", use_openat2=use_openat2)
    try:
        assert os.fstat(fd).st_ino == (tree / "inside/real").stat().st_ino
    finally:
        os.close(fd)


def test_open_directory_creates_what_is_missing_and_missing_directories_names_it(tree: Path) -> None:
    target = tree / "inside/real/a/b"
    assert safe_fs.missing_directories(target) == [tree / "inside/real/a", target]
    with safe_fs.directory(target, create=True) as fd:
        assert os.fstat(fd).st_ino == target.stat().st_ino
    assert safe_fs.missing_directories(target) == []


def test_a_file_in_the_path_is_refused_like_a_symlink(tree: Path) -> None:
    (tree / "inside/real/file").write_text("x\n")
    with pytest.raises(safe_fs.SymlinkInPath):
        safe_fs.open_directory(tree / "inside/real/file/below", create=True)


def test_paths_must_be_absolute_without_dot_components(tree: Path) -> None:
    for path in (Path("inside/real"), tree / "inside/real/../link"):
        with pytest.raises(ValueError):
            safe_fs.open_directory(path)


def test_read_file_does_not_follow_a_symlink(tree: Path) -> None:
    (tree / "inside/real/leak").symlink_to(tree / "outside/secret.txt")
    with safe_fs.directory(tree / "inside/real") as fd:
        with pytest.raises(OSError):
            safe_fs.read_file(fd, "leak")
        assert safe_fs.read_file(fd, "missing") is None
        assert safe_fs.file_mode(fd, "leak") is None


def test_write_new_file_never_writes_through_an_existing_name(tree: Path) -> None:
    (tree / "inside/real/trap").symlink_to(tree / "outside/new.txt")
    with safe_fs.directory(tree / "inside/real") as fd:
        with pytest.raises(FileExistsError):
            safe_fs.write_new_file(fd, "trap", b"x", 0o644)
        safe_fs.write_new_file(fd, "ok", b"data", 0o640)
    assert not (tree / "outside/new.txt").exists()
    assert (tree / "inside/real/ok").read_bytes() == b"data"
    assert (tree / "inside/real/ok").stat().st_mode & 0o777 == 0o640


def test_rename_replaces_a_symlink_instead_of_writing_through_it(tree: Path) -> None:
    (tree / "inside/real/target").symlink_to(tree / "outside/secret.txt")
    with safe_fs.directory(tree / "inside/real") as fd:
        safe_fs.write_new_file(fd, "staged", b"new\n", 0o644)
        safe_fs.rename(fd, "staged", "target")
        assert safe_fs.unlink(fd, "target") and not safe_fs.unlink(fd, "target")
    assert (tree / "outside/secret.txt").read_text() == "secret\n"


def test_a_held_directory_stays_the_same_directory_after_a_swap(tree: Path) -> None:
    real = tree / "inside/real"
    with safe_fs.directory(real) as fd:
        assert safe_fs.is_at(fd, real) and safe_fs.location(fd) == real
        real.rename(tree / "inside/moved")
        real.symlink_to(tree / "outside")
        safe_fs.write_new_file(fd, "written.txt", b"x", 0o644)
        assert not safe_fs.is_at(fd, real)
        assert safe_fs.location(fd) == tree / "inside/moved"
    assert (tree / "inside/moved/written.txt").exists()
    assert sorted(p.name for p in (tree / "outside").iterdir()) == ["secret.txt"]
