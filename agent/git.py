"""Repository facts, working-tree snapshots, path restores and the /diff text, through gitpython.

A snapshot is an ordinary commit object holding the whole working tree (tracked files as they are on
disk, untracked files, never ignored ones) on a private ref such as `refs/codex/snapshots/<thread>`.
It is built in a throwaway index (GIT_INDEX_FILE), so the user's index, HEAD, branch and files never
change; each snapshot's parent is the previous snapshot on the same ref, so all of them stay reachable
(`git log refs/codex/snapshots/<thread>` lists them; `git update-ref -d` on the ref drops them).

`repo_root` is the one repository-root finder of agent/ (AGENTS.md discovery, exec's git-repo check, folder
trust, undo and /diff all use it). It looks at the file system only, and gitpython (about 30 ms to import) is
imported on first use by the functions that need it, so importing this module stays cheap.

This module does not decide when to snapshot or which paths to put back (see agent/undo.py), never
restores the index, and never writes the user's index, HEAD or branches.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.fileio import write_atomic
from agent.safety.git_programs import neutralising_env

if TYPE_CHECKING:
    import git

# Untracked files larger than this, and untracked directories holding at least this many files
# (an unignored virtualenv, a folder of model weights), are left out of snapshots and /diff: hashing
# them on every turn would cost more than the snapshot is worth. agent/undo.py copies any of them a
# turn actually edits, so undo stays exact.
MAX_UNTRACKED_FILE_BYTES = 10 * 1024 * 1024
MAX_UNTRACKED_DIR_FILES = 200

# Snapshots are written with a fixed identity, so they work where user.name/user.email are unset.
_SNAPSHOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Codex",
    "GIT_AUTHOR_EMAIL": "codex@localhost",
    "GIT_COMMITTER_NAME": "Codex",
    "GIT_COMMITTER_EMAIL": "codex@localhost",
}


@dataclass(frozen=True)
class CommittedFile:
    """A file as a commit holds it, in the form `git checkout` would write it (smudge and eol filters applied)."""

    data: bytes  # for a symlink: its target
    executable: bool = False
    symlink: bool = False


# --------------------------------------------------------------------------------------------------
# Repository facts
# --------------------------------------------------------------------------------------------------


def repo_root(path: Path) -> Path | None:
    """The nearest directory at or above `path` (a file or a directory, existing or not; symlinks resolved) that
    holds a `.git` entry (a directory, or the `.git` file of a worktree or submodule), or None: Codex's rule.
    Only the file system is read, so a bare repository has no root and a broken `.git` still marks one."""
    start = Path(path).resolve()
    for directory in (start, *start.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    return None


def current_branch(path: Path) -> str | None:
    """The checked-out branch's short name (also before the first commit), or None when detached or outside git."""
    with _repository_at(path) as repo:
        if repo is None or repo.head.is_detached:
            return None
        return repo.head.reference.name


def head_commit(path: Path) -> str | None:
    """HEAD's full sha, or None outside git or before the first commit."""
    with _repository_at(path) as repo:
        return _head(repo) if repo is not None else None


# --------------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------------


def snapshot(root: Path, message: str, ref: str, *, max_untracked_file_bytes: int | None = MAX_UNTRACKED_FILE_BYTES,
             max_untracked_dir_files: int | None = MAX_UNTRACKED_DIR_FILES) -> str:
    """Commit the working tree to `ref` without touching the user's index, HEAD, branch or files; returns the sha.

    Tracked files (everything in the user's index, staged or not) are taken as they are on disk,
    deleted ones are left out, and untracked files are added unless ignored or too large (see
    MAX_UNTRACKED_*; pass None to include everything). The commit's parent is the ref's previous
    snapshot, and the ref moves only if nobody else moved it meanwhile. Raises git.GitCommandError.
    """
    with _open(root) as repo, _scratch_index(repo) as (env, scratch):
        repo.git.add("--update", env=env)
        untracked = _untracked_files(repo, env, max_untracked_file_bytes, max_untracked_dir_files)
        _add_paths(repo, env, scratch, untracked)
        tree = repo.git.write_tree(env=env)
        previous = _resolve(repo, ref)
        parents = ["-p", previous] if previous else []
        commit = repo.git.commit_tree("--no-gpg-sign", tree, *parents, "-m", message,
                                      env={**env, **_SNAPSHOT_IDENTITY})
        repo.git.update_ref("-m", message.splitlines()[0] if message else "snapshot", ref, commit,
                            previous or "0" * len(commit))
        return commit


def files_in_commit(root: Path, commit: str, paths: Sequence[Path]) -> dict[Path, CommittedFile | None]:
    """What `commit` holds at each absolute path under `root`: a file, or None (nothing there, or a directory)."""
    from git import Blob

    found: dict[Path, CommittedFile | None] = {}
    with _open(root) as repo:
        tree = repo.commit(commit).tree
        for path in paths:
            relative = _relative(root, path)
            try:
                entry = tree / relative
            except KeyError:
                found[path] = None
                continue
            if entry.type != "blob":
                found[path] = None  # a directory or a submodule: not a file
            elif entry.mode == Blob.link_mode:
                found[path] = CommittedFile(entry.data_stream.read(), symlink=True)
            else:
                data = repo.git.cat_file("--filters", f"--path={relative}", entry.hexsha,
                                         stdout_as_string=False, strip_newline_in_stdout=False)
                found[path] = CommittedFile(data, executable=entry.mode == Blob.executable_mode)
    return found


def restore_paths(root: Path, commit: str, paths: Sequence[Path]) -> None:
    """Make each absolute path under `root` exactly as in `commit`, and change nothing else.

    A file the commit holds is written (content as checkout would write it, symlink or 0o666/0o777
    minus the umask, like git) through a temporary file and a rename; a path the commit does not hold
    as a file is deleted if it is a file or symlink. Directories are created as needed but never
    removed; the index, HEAD and every other path stay as they are. Raises OSError.
    """
    files = files_in_commit(root, commit, paths)
    for path, committed in files.items():
        if committed is None:
            remove_file(path)
    for path, committed in files.items():
        if committed is not None:
            write_file(path, committed)


def diff_including_untracked(root: Path, *, max_untracked_file_bytes: int | None = MAX_UNTRACKED_FILE_BYTES,
                             max_untracked_dir_files: int | None = MAX_UNTRACKED_DIR_FILES) -> str:
    """Unified diff of the working tree against HEAD (the empty tree before the first commit), new untracked
    files included as additions and ignored ones left out; paths are relative to `root`. Nothing is written."""
    with _open(root) as repo, _scratch_index(repo) as (env, scratch):
        untracked = _untracked_files(repo, env, max_untracked_file_bytes, max_untracked_dir_files)
        _add_paths(repo, env, scratch, untracked, intent_only=True)
        base = _head(repo) or repo.git.hash_object("-t", "tree", os.devnull)
        raw = repo.git.diff(base, "--no-color", "--no-ext-diff", env=env,
                            stdout_as_string=False, strip_newline_in_stdout=False)
        return raw.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------------
# Writing and removing one file (also used by agent/undo.py for its copies)
# --------------------------------------------------------------------------------------------------


def write_file(path: Path, committed: CommittedFile) -> None:
    """Put `committed` at `path` atomically, replacing a file, symlink or empty directory there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        path.rmdir()  # only an empty directory can give way; anything else raises
    if not committed.symlink:  # the modes git checks out: 0o777 or 0o666 less the umask
        write_atomic(path, committed.data, 0o777 if committed.executable else 0o666)
        return
    temp = path.parent / f".{path.name}.codex-restore-{os.getpid()}"
    temp.unlink(missing_ok=True)
    try:
        os.symlink(os.fsdecode(committed.data), temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_file(path: Path) -> None:
    """Delete the file or symlink at `path` if there is one; an empty directory there is removed too."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        path.rmdir()


# --------------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------------


@contextmanager
def _repository_at(path: Path) -> Iterator[git.Repo | None]:
    """The repository whose working tree holds `path`, or None outside git or when its `.git` cannot be read."""
    import git  # on first use: see the module docstring

    root = repo_root(path)
    try:
        repo = git.Repo(root) if root is not None else None
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        repo = None
    if repo is None:
        yield None
        return
    with repo:
        yield repo


@contextmanager
def _open(root: Path) -> Iterator[git.Repo]:
    """The repository, with every program its own config names disarmed for our commands (they run outside
    the sandbox, on a repository we did not write: agent.safety.git_programs)."""
    import git  # on first use: see the module docstring

    with git.Repo(root) as repo:
        repo.git.update_environment(**neutralising_env(Path(root)))
        yield repo


def _head(repo: git.Repo) -> str | None:
    return repo.head.commit.hexsha if repo.head.is_valid() else None


def _resolve(repo: git.Repo, ref: str) -> str | None:
    import git

    try:
        return repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
    except git.GitCommandError:
        return None


def _relative(root: Path, path: Path) -> str:
    """`path` relative to `root`, in git's form; ValueError if it lies outside."""
    relative = Path(os.path.abspath(path)).relative_to(Path(root).absolute())
    if not relative.parts:
        raise ValueError(f"{path} is the repository root, not a file")
    return relative.as_posix()


@contextmanager
def _scratch_index(repo: git.Repo) -> Iterator[tuple[dict[str, str], Path]]:
    """A throwaway copy of the user's index (so git can trust its stat cache), or HEAD's tree if there is
    none; yields the environment that points git at it, and a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="codex-index-") as scratch:
        index = Path(scratch) / "index"
        env = {"GIT_INDEX_FILE": str(index)}
        user_index = Path(repo.working_tree_dir or ".") / repo.git.rev_parse("--git-path", "index")
        if user_index.is_file():
            shutil.copyfile(user_index, index)
        elif _head(repo):
            repo.git.read_tree("HEAD", env=env)
        yield env, Path(scratch)


def _untracked_files(repo: git.Repo, env: dict[str, str], max_file_bytes: int | None,
                     max_dir_files: int | None) -> list[str]:
    """Untracked, not ignored files (relative to the root) worth snapshotting; nested repositories are skipped."""
    entries = _ls_others(repo, env)
    files = [entry for entry in entries if not entry.endswith("/")]  # "sub/" is a nested repository
    if max_dir_files:
        nested = {entry for entry in entries if entry.endswith("/")}
        directories = {entry for entry in _ls_others(repo, env, "--directory") if entry.endswith("/")} - nested
        counts: dict[str, int] = {}
        owner: dict[str, str] = {}
        for file in files:
            for cut in range(len(file)):
                if file[cut] == "/" and file[: cut + 1] in directories:
                    owner[file] = file[: cut + 1]
                    counts[owner[file]] = counts.get(owner[file], 0) + 1
                    break
        crowded = {directory for directory, count in counts.items() if count >= max_dir_files}
        files = [file for file in files if owner.get(file) not in crowded]
    if max_file_bytes:
        root = Path(repo.working_tree_dir or ".")
        files = [file for file in files if _size(root / file) <= max_file_bytes]
    return files


def _ls_others(repo: git.Repo, env: dict[str, str], *extra: str) -> list[str]:
    raw = repo.git.ls_files("-z", "--others", "--exclude-standard", *extra, env=env,
                            stdout_as_string=False, strip_newline_in_stdout=False)
    return [os.fsdecode(entry) for entry in raw.split(b"\0") if entry]


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _add_paths(repo: git.Repo, env: dict[str, str], scratch: Path, paths: Sequence[str],
               intent_only: bool = False) -> None:
    """`git add` the given root-relative paths into the scratch index, read literally from a file (no argv limit)."""
    if not paths:
        return
    listing = scratch / "pathspec"
    listing.write_bytes(b"".join(os.fsencode(path) + b"\0" for path in paths))
    flags = ["--intent-to-add"] if intent_only else []
    repo.git.add(*flags, f"--pathspec-from-file={listing}", "--pathspec-file-nul",
                 env={**env, "GIT_LITERAL_PATHSPECS": "1"})
