"""The undo log of one session: how every file a turn's edits touched looked before the turn, and putting it back.

The session calls `before_edit` before each apply_patch with every path the patch will touch (added,
updated, deleted, moved from, moved to). The first call of a turn snapshots the working tree in git
(agent.git.snapshot: a commit on `refs/codex/snapshots/<thread>`, never on the user's branch); each
path's state at its first touch in the turn is recorded, and kept:
  - by the snapshot, when the snapshot reproduces the file byte for byte (the usual case: no copy made);
  - as a copy under `<session_dir>/backups/<turn>/` otherwise: outside git, ignored files, files outside
    the repository, huge untracked files the snapshot skipped, files whose eol/smudge filters would not
    give back the same bytes, or a file a shell command changed after the snapshot;
  - as "absent" when there was nothing there (undo deletes it again), or as a symlink target.
Directories the edits had to create are remembered and removed again if undo leaves them empty.

`undo_last` restores only the touched paths of the most recent turn, so the index, the branch and any
other change the user made meanwhile survive. A touched file the user changed after the turn is
overwritten with its pre-turn content: undo means "as before that turn" for exactly those files.
Shell commands' side effects are not undone. The log is saved as `<session_dir>/undo.json` after every
change, so `codex undo` in a new process can `UndoLog.load` it; which session is the last one in a
directory is the rollout's business, not this module's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from git import GitError

from agent.errors import UserError
from agent.fileio import write_atomic
from agent.git import CommittedFile, files_in_commit, remove_file, repo_root, restore_paths, snapshot, write_file

UNDO_FILE = "undo.json"
BACKUPS_DIR = "backups"
SNAPSHOT_REF_PREFIX = "refs/codex/snapshots/"

State = Literal["snapshot", "copy", "symlink", "absent"]


@dataclass(frozen=True)
class FileBefore:
    """One touched path as it was before the turn's first edit of it."""

    path: Path  # absolute
    state: State  # where its old content lives: the turn's snapshot, a copy, a symlink target, or nothing
    mode: int | None = None  # permission bits of a file ("snapshot" or "copy")
    data: str | None = None  # "copy": file name under the turn's backup_dir; "symlink": the link target


@dataclass(frozen=True)
class TurnCheckpoint:
    """What undoing one turn needs."""

    turn_id: str
    snapshot: str | None  # git commit of the working tree before the turn's first edit; None outside git
    repo_root: Path | None  # the repository the snapshot belongs to
    backup_dir: Path  # <session_dir>/backups/<turn>: copies of files the snapshot cannot give back exactly
    files: tuple[FileBefore, ...] = ()
    created_dirs: tuple[Path, ...] = ()  # directories that did not exist before the turn's edits needed them

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every absolute path the turn's edits touched."""
        return tuple(file.path for file in self.files)


class UndoLog:
    """The undo log of one session (thread) in one working directory."""

    def __init__(self, cwd: Path, session_dir: Path, thread_id: str,
                 checkpoints: Sequence[TurnCheckpoint] = ()) -> None:
        """A log holding `checkpoints` (none for a new session); nothing is written until the first edit.
        Use `load` to continue an existing session's log."""
        self.cwd = Path(cwd).absolute()
        self.session_dir = Path(session_dir)
        self.thread_id = thread_id
        root = repo_root(self.cwd)
        self.repo_root = root.resolve() if root else None
        self._checkpoints = list(checkpoints)

    @classmethod
    def load(cls, cwd: Path, session_dir: Path, thread_id: str) -> UndoLog:
        """The log saved under `session_dir` (empty if the session never edited anything)."""
        file = Path(session_dir) / UNDO_FILE
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
            checkpoints = [_checkpoint_from_json(turn) for turn in saved["turns"]]
        except FileNotFoundError:
            checkpoints = []
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"The undo log {file} is unreadable ({e}); undo is not possible for this session.") from e
        return cls(cwd, session_dir, thread_id, checkpoints)

    @property
    def checkpoints(self) -> tuple[TurnCheckpoint, ...]:
        """Turns that can still be undone, oldest first."""
        return tuple(self._checkpoints)

    @property
    def file(self) -> Path:
        return self.session_dir / UNDO_FILE

    @property
    def snapshot_ref(self) -> str:
        return SNAPSHOT_REF_PREFIX + _safe_name(self.thread_id)

    # ----------------------------------------------------------------------------------------------
    # Recording
    # ----------------------------------------------------------------------------------------------

    def before_edit(self, turn_id: str, paths: Sequence[Path]) -> None:
        """Call before every edit of a turn with the absolute paths it will touch. The turn's first call
        snapshots the working tree; a path's state is recorded at its first touch in the turn."""
        wanted = list(dict.fromkeys(_absolute(self.cwd / path) for path in paths))
        if not wanted:
            return
        checkpoint = self._checkpoints[-1] if self._checkpoints and self._checkpoints[-1].turn_id == turn_id else None
        if checkpoint is None:
            checkpoint = TurnCheckpoint(turn_id, self._snapshot(turn_id), self.repo_root,
                                        self.session_dir / BACKUPS_DIR / _safe_name(turn_id))
            self._checkpoints.append(checkpoint)
        known = set(checkpoint.paths)
        new = [path for path in wanted if path not in known]
        if not new:
            return
        in_snapshot = self._snapshot_files(checkpoint, new)
        files = list(checkpoint.files)
        created = list(checkpoint.created_dirs)
        for path in new:
            before = _record(path, in_snapshot.get(path), checkpoint.backup_dir, len(files))
            if before is not None:
                files.append(before)
            created.extend(d for d in _missing_parents(path) if d not in created)
        if not files:  # only directories were named: nothing a file restore could undo
            self._checkpoints.pop()
            return
        if len(files) == len(checkpoint.files):
            return
        self._checkpoints[-1] = replace(checkpoint, files=tuple(files), created_dirs=tuple(created))
        self._save()

    def _snapshot(self, turn_id: str) -> str | None:
        if self.repo_root is None:
            return None
        message = f"codex snapshot before turn {turn_id}\n\nthread: {self.thread_id}\n"
        try:
            return snapshot(self.repo_root, message, self.snapshot_ref)
        except (GitError, OSError):
            return None  # a broken or foreign repository: every touched file gets a copy instead

    def _snapshot_files(self, checkpoint: TurnCheckpoint, paths: Sequence[Path]
                        ) -> dict[Path, CommittedFile | None]:
        if checkpoint.snapshot is None or checkpoint.repo_root is None:
            return {}
        inside = [path for path in paths if _inside_worktree(checkpoint.repo_root, path)]
        try:
            return files_in_commit(checkpoint.repo_root, checkpoint.snapshot, inside)
        except (GitError, OSError, ValueError):
            return {}

    # ----------------------------------------------------------------------------------------------
    # Undoing
    # ----------------------------------------------------------------------------------------------

    def undo_last(self) -> list[Path]:
        """Put every path the most recent turn touched back as it was before that turn; returns those paths.

        If some path cannot be restored, the others still are, the turn stays in the log (undoing again
        is safe) and a UserError names the paths that failed."""
        if not self._checkpoints:
            raise UserError(f"Nothing to undo: no edits by this session in {self.cwd} are left to undo.")
        checkpoint = self._checkpoints[-1]
        failed: list[str] = []
        absent = [file for file in checkpoint.files if file.state == "absent"]
        present = [file for file in checkpoint.files if file.state != "absent"]
        for file in absent:  # deletions first, so a file can take the place of a directory and back
            _attempt(failed, file, lambda file: remove_file(file.path))
        for directory in sorted(checkpoint.created_dirs, key=lambda d: len(d.parts), reverse=True):
            _remove_if_empty(directory)
        for file in present:
            _attempt(failed, file, lambda file: _restore(checkpoint, file))
        if failed:
            raise UserError("Undo could not restore " + "; ".join(failed) +
                            ". The other files were restored; fix this and run undo again.")
        self._checkpoints.pop()
        self._save()
        shutil.rmtree(checkpoint.backup_dir, ignore_errors=True)
        return list(checkpoint.paths)

    # ----------------------------------------------------------------------------------------------
    # Saving
    # ----------------------------------------------------------------------------------------------

    def _save(self) -> None:
        self.session_dir.mkdir(parents=True, exist_ok=True)
        content = {"thread_id": self.thread_id, "cwd": str(self.cwd),
                   "turns": [_checkpoint_to_json(checkpoint) for checkpoint in self._checkpoints]}
        # 0o666 less the umask, as the backups beside it; the fixed temp name lets the next save clear a killed one's
        write_atomic(self.file, (json.dumps(content, indent=1) + "\n").encode("utf-8"), 0o666,
                     temp_name=self.file.name + ".tmp")


# --------------------------------------------------------------------------------------------------
# One path
# --------------------------------------------------------------------------------------------------


def _record(path: Path, committed: CommittedFile | None, backup_dir: Path, number: int) -> FileBefore | None:
    """How `path` looks now, kept by the snapshot when it holds the same bytes, else copied; None for a
    directory or other non-file, which undo leaves alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return FileBefore(path, "absent")
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        if committed is not None and committed.symlink and committed.data == os.fsencode(target):
            return FileBefore(path, "snapshot")
        return FileBefore(path, "symlink", data=target)
    if not stat.S_ISREG(info.st_mode):
        return None
    mode = stat.S_IMODE(info.st_mode)
    if (committed is not None and not committed.symlink and committed.executable == bool(mode & stat.S_IXUSR)
            and committed.data == path.read_bytes()):
        return FileBefore(path, "snapshot", mode=mode)
    backup_dir.mkdir(parents=True, exist_ok=True)
    name = str(number)
    shutil.copyfile(path, backup_dir / name)
    return FileBefore(path, "copy", mode=mode, data=name)


def _attempt(failed: list[str], file: FileBefore, action: Callable[[FileBefore], None]) -> None:
    try:
        action(file)
    except (OSError, GitError, ValueError) as e:
        failed.append(f"{file.path} ({getattr(e, 'strerror', None) or e})")


def _restore(checkpoint: TurnCheckpoint, file: FileBefore) -> None:
    if file.state == "snapshot":
        if checkpoint.snapshot is None or checkpoint.repo_root is None:
            raise ValueError("the turn has no snapshot")
        restore_paths(checkpoint.repo_root, checkpoint.snapshot, [file.path])
    elif file.state == "symlink":
        write_file(file.path, CommittedFile(os.fsencode(file.data or ""), symlink=True))
    else:
        data = (checkpoint.backup_dir / (file.data or "")).read_bytes()
        write_file(file.path, CommittedFile(data))
    if file.mode is not None and not file.path.is_symlink():
        os.chmod(file.path, file.mode)


def _absolute(path: Path) -> Path:
    """`path` made absolute with its directories' symlinks resolved, but not its own (a symlink is a path too)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name if path.name else path


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of `path` that do not exist yet, nearest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (something else lives there now) or already gone
        directory.rmdir()


def _inside_worktree(root: Path, path: Path) -> bool:
    try:
        relative = path.relative_to(root)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] != ".git"


def _safe_name(name: str) -> str:
    """`name` usable as one ref component and one directory name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", name).strip(".") or "turn"
    return cleaned.replace("..", "-").removesuffix(".lock")


# --------------------------------------------------------------------------------------------------
# JSON form
# --------------------------------------------------------------------------------------------------


def _checkpoint_to_json(checkpoint: TurnCheckpoint) -> dict:
    return {
        "turn_id": checkpoint.turn_id,
        "snapshot": checkpoint.snapshot,
        "repo_root": str(checkpoint.repo_root) if checkpoint.repo_root else None,
        "backup_dir": str(checkpoint.backup_dir),
        "files": [{"path": str(f.path), "state": f.state, "mode": f.mode, "data": f.data} for f in checkpoint.files],
        "created_dirs": [str(d) for d in checkpoint.created_dirs],
    }


def _checkpoint_from_json(turn: dict) -> TurnCheckpoint:
    files = tuple(FileBefore(Path(f["path"]), f["state"], f.get("mode"), f.get("data")) for f in turn["files"])
    for file in files:
        if file.state not in ("snapshot", "copy", "symlink", "absent"):
            raise ValueError(f"unknown state {file.state!r}")
    return TurnCheckpoint(
        turn_id=turn["turn_id"],
        snapshot=turn.get("snapshot"),
        repo_root=Path(turn["repo_root"]) if turn.get("repo_root") else None,
        backup_dir=Path(turn["backup_dir"]),
        files=files,
        created_dirs=tuple(Path(d) for d in turn.get("created_dirs", ())),
    )
