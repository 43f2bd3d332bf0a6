"""The journal that makes a multi-file edit all-or-nothing, even when the process is killed with `kill -9`.

One journal per edit, kept in CODEX_HOME/journal/ (never in the workspace, nowhere a sandboxed command may
write):
 1. `<id>.lock` is created and flock'ed for the whole write: a journal whose lock can be taken has no writer.
 2. `<id>.json`, the manifest, is written in state "staging" (fsynced, through a temp file and a rename): each
    target path, the name of its staged file, the directories that will be created.
 3. Each new content is written to its staged file `.codex-patch-<id>-<n>` in the target's own directory
    (O_EXCL; fsynced, or one syncfs for a large patch), through a directory fd opened without following
    symlinks (agent.tools.safe_fs); each target's current content is checked against what the edit was
    planned on.
 4. Every directory is checked to still be where it was opened; then the manifest is rewritten in state
    "committed". That rename is the commit point: from then on the edit only goes forward.
 5. Staged files are renamed over their targets, then deleted files are unlinked, through the same fds. Only
    another process can make a rename fail now (say, a directory put where a file goes); that file is then
    skipped, and no file is deleted (a move's source stays when its new copy is missing). A directory moved
    meanwhile took its files along: `Written.relocated` says where it is now.
 6. `on_written` runs (the caller's audit records), then the manifest and the lock are removed.
A failure before the commit point removes the staged files and the created directories: no file was changed.

`recover` (called at every start of `codex`) handles journals whose writer died: "staging" is rolled back,
"committed" is rolled forward (each rename or deletion not done yet is finished, only if the target still holds
what the edit started from and the staged file is what was staged), with an audit record for every file the
edit wrote. The staged files and the manifest's temp file go too, so nothing is left behind.

Why no backups: renames are the only step after the commit point, and they can always be finished, so an
edit never needs to go back once its manifest is durable. Undo of a finished edit is agent.undo's job.

Test-only hook: CODEX_TEST_PATCH_PAUSE="PHASE:N[:DIR]" (PHASE is "staged" or "renamed") makes the writer,
once N targets are staged (a deletion counts as one) or N renames/deletions are done, print
"codex-test-pause: PHASE N" on stderr and wait: with DIR, it creates DIR/paused and waits until DIR/resume
exists; without, forever (to be killed). It exists so tests can kill the writer, or change the tree under it,
at a chosen moment; nothing else sets it. Targets are staged and renamed in patch order, writes before
deletions.

This module does not decide what may be written (agent.safety.approval), compute contents (apply_patch) or
keep undo data (agent.undo).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from agent.tools import safe_fs

JOURNAL_DIR = "journal"
STAGE_PREFIX = ".codex-patch-"
PAUSE_VARIABLE = "CODEX_TEST_PATCH_PAUSE"
_NAME = re.compile(r"^([0-9a-f]{32})\.(json|json\.tmp|lock|lock\.new)$")
_STALE_SECONDS = 60  # a `<id>.lock.new` this old lost its writer between creating and locking it
_FD_MARGIN = 64  # fds kept free for everything else while a patch holds one per directory
_PROBLEMS_SHOWN = 5  # a recovery message names this many problems, then counts the rest
_FSYNC_EACH_UP_TO = 32  # staged files fsynced one by one; a larger patch makes one syncfs per filesystem


def journal_dir(codex_home: Path) -> Path:
    return Path(codex_home) / JOURNAL_DIR


def default_journal_dir() -> Path:
    from agent.config import codex_home

    return journal_dir(codex_home())


def sha256_of(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One path in its final state after the edit."""

    path: Path  # absolute, resolved, no symlink in it
    data: bytes | None  # the new content; None deletes the file
    mode_of: Path | None = None  # a write keeps this file's permission bits (None, or no such file: the default)
    unchanged_text: str | None = None  # if set, the file must still read as this (UTF-8, bad bytes replaced)


@dataclass(frozen=True)
class Entry:
    """A target as the manifest records it."""

    path: str
    stage: str | None  # the staged file's name in the target's directory; None: the file is deleted
    sha_before: str | None = None  # known once staged ("committed" manifests)
    sha_after: str | None = None

    @property
    def change(self) -> Literal["add", "update", "delete"]:
        return "delete" if self.stage is None else "add" if self.sha_before is None else "update"


@dataclass(frozen=True)
class Manifest:
    id: str
    state: Literal["staging", "committed"]
    cwd: str
    audit: bool  # whether recovery writes audit records
    entries: tuple[Entry, ...]
    created_dirs: tuple[str, ...] = ()  # outermost first

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "version": 1}, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data.get("version") != 1 or data.get("state") not in ("staging", "committed"):
            raise ValueError("unknown journal version or state")
        entries = tuple(Entry(**entry) for entry in data["entries"])
        return cls(data["id"], data["state"], data["cwd"], bool(data["audit"]), entries,
                   tuple(data.get("created_dirs", ())))


@dataclass(frozen=True)
class Written:
    """What `write` did: every target is either done (written or deleted) or in `failed` with the reason."""

    done: tuple[Path, ...]
    failed: Mapping[Path, str] = field(default_factory=dict)
    relocated: Mapping[Path, Path | None] = field(default_factory=dict)  # directory -> where it is now (None: gone)

    def real_path(self, path: Path) -> Path:
        """Where `path` really is: a directory another process moved during the write took its files along."""
        moved = self.relocated.get(path.parent)
        return moved / path.name if moved is not None else path


class NothingWritten(Exception):
    """The edit failed before its commit point; no file was changed. `leftovers` are temp files (or
    directories) that could not be removed; the journal stays so the next start removes them."""

    def __init__(self, path: Path, reason: str, deleting: bool, leftovers: Sequence[Path] = ()) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.deleting = deleting
        self.leftovers = tuple(leftovers)


class _Refused(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def write(targets: Sequence[Target], journal: Path, cwd: Path, audit: bool = False,
          on_written: Callable[[Written], None] | None = None) -> Written:
    """Apply `targets` through a journal in `journal` (see the module docstring); raises NothingWritten
    if nothing was changed. `on_written` runs after every rename and before the journal is removed."""
    writes = [t for t in targets if t.data is not None]
    ordered = writes + [t for t in targets if t.data is None]  # a moved file is briefly in both places, never in none
    with _begin(journal) as file, _Directories() as dirs:
        entries = tuple(Entry(str(t.path), f"{STAGE_PREFIX}{file.id}-{n}" if t.data is not None else None)
                        for n, t in enumerate(ordered))
        manifest = Manifest(file.id, "staging", str(cwd), audit, entries, _created_dirs(writes))
        try:
            file.save(manifest)
        except OSError as e:
            file.discard()
            raise NothingWritten(journal, _journal_failure(e), False) from e
        manifest = _stage(file, manifest, ordered, dirs)
        written = _rename_all(manifest, dirs)
        if on_written is not None:
            on_written(written)
        file.remove()
        return written


def _begin(journal: Path) -> _JournalFile:
    try:
        return _JournalFile.create(journal)
    except OSError as e:
        raise NothingWritten(journal, _journal_failure(e), False) from e


def _journal_failure(error: OSError) -> str:
    return f"the edit journal could not be written ({_reason(error)}); check that directory's permissions and space"


def _created_dirs(writes: Sequence[Target]) -> tuple[str, ...]:
    created: dict[str, None] = {}
    for target in writes:
        created.update(dict.fromkeys(str(d) for d in safe_fs.missing_directories(target.path.parent)))
    return tuple(created)


def _stage(file: _JournalFile, manifest: Manifest, targets: Sequence[Target], dirs: _Directories) -> Manifest:
    """Stage every new content, check every target and commit; on any failure undo the staging and raise
    NothingWritten. Returns the committed manifest."""
    entries: list[Entry] = []
    pause = _Pause.from_environment("staged")
    default_mode = safe_fs.default_file_mode()
    sync_each = len(targets) <= _FSYNC_EACH_UP_TO
    try:
        for entry, target in zip(manifest.entries, targets, strict=True):
            try:
                entries.append(_stage_one(entry, target, dirs, default_mode, sync_each))
            except OSError as e:
                raise _Refused(target.path, _reason(e)) from e
            pause.tick()
        if not sync_each:
            _sync_filesystems(dirs)
        moved = [path for path, fd in dirs.items() if not safe_fs.is_at(fd, path)]
        if moved:
            raise _Refused(moved[0], "this directory was moved or replaced by another process while the patch "
                                     "was being written")
        committed = replace(manifest, state="committed", entries=tuple(entries))
        try:
            file.save(committed)  # the commit point
        except OSError as e:
            raise _Refused(file.directory, _journal_failure(e)) from e
    except BaseException as e:
        leftovers = _unstage(manifest, dirs)
        if not leftovers:
            file.discard()
        if isinstance(e, _Refused):
            raise NothingWritten(e.path, e.reason, _deleting(targets, e.path), leftovers) from e
        raise
    return committed


def _deleting(targets: Sequence[Target], path: Path) -> bool:
    return any(t.path == path and t.data is None for t in targets)


def _reason(error: OSError) -> str:
    if isinstance(error, safe_fs.SymlinkInPath):
        return error.strerror
    if error.errno == errno.ELOOP:  # O_NOFOLLOW on the file itself
        return "it is a symlink now (refusing to follow it)"
    return error.strerror or str(error)


def _stage_one(entry: Entry, target: Target, dirs: _Directories, default_mode: int, sync: bool) -> Entry:
    try:
        fd = dirs.open(target.path.parent, create=target.data is not None)
    except FileNotFoundError:
        if target.data is None and target.unchanged_text is None:
            return entry  # deleting what an earlier hunk added in a directory that does not exist: nothing to do
        raise
    name = target.path.name
    current = safe_fs.read_file(fd, name)
    if target.unchanged_text is not None and (
            current is None or current.decode("utf-8", errors="replace") != target.unchanged_text):
        raise _Refused(target.path, "the file changed on disk after the patch was checked; re-read it and retry")
    if target.data is None:
        return replace(entry, sha_before=sha256_of(current))
    mode = None
    if target.mode_of is not None:
        mode = safe_fs.file_mode(dirs.open(target.mode_of.parent), target.mode_of.name)
    assert entry.stage is not None
    safe_fs.write_new_file(fd, entry.stage, target.data, default_mode if mode is None else mode, sync)
    return replace(entry, sha_before=sha256_of(current), sha_after=sha256_of(target.data))


def _sync_filesystems(dirs: _Directories) -> None:
    """Make the staged files durable with one syncfs per filesystem they are on."""
    synced: set[int] = set()
    for path, fd in dirs.items():
        device = os.fstat(fd).st_dev
        if device in synced:
            continue
        synced.add(device)
        try:
            safe_fs.sync_filesystem(fd)
        except OSError as e:
            raise _Refused(path, f"the staged files could not be flushed to disk ({_reason(e)})") from e


def _unstage(manifest: Manifest, dirs: _Directories, reopen: bool = False) -> list[Path]:
    """Remove the staged files and created directories; returns what could not be checked or removed.

    Staged files are only ever made in the directories `dirs` holds; `reopen` (recovery, holding none) looks
    them up again without following symlinks."""
    leftovers: list[Path] = []
    for entry in manifest.entries:
        path = Path(entry.path)
        if entry.stage is None or not (reopen or dirs.get(path.parent) is not None):
            continue
        try:
            safe_fs.unlink(dirs.open(path.parent), entry.stage)
        except FileNotFoundError:
            pass  # no directory, so no staged file in it
        except (OSError, ValueError):
            leftovers.append(path.parent / entry.stage)
    dirs.close()
    for directory in reversed(manifest.created_dirs):
        if not _remove_directory(Path(directory)):
            leftovers.append(Path(directory))
    return leftovers


def _remove_directory(directory: Path) -> bool:
    """rmdir `directory` if empty; True if it is gone (or was never made)."""
    try:
        with safe_fs.directory(directory.parent) as parent:
            return safe_fs.remove_empty_directory(parent, directory.name) or not safe_fs.exists(parent, directory.name)
    except (OSError, ValueError):
        return not os.path.lexists(directory)


def _rename_all(manifest: Manifest, dirs: _Directories) -> Written:
    """Put every staged file in place, then delete what the edit deletes. A failed write skips that file and
    every deletion (the source of a move must not go when its new copy is missing)."""
    done: list[Path] = []
    failed: dict[Path, str] = {}
    pause = _Pause.from_environment("renamed")
    for entry in manifest.entries:
        path = Path(entry.path)
        if entry.stage is None and entry.sha_before is not None and failed:
            failed[path] = "not deleted, since not every file of the patch could be written"
            pause.tick()
            continue
        try:
            if entry.stage is not None:
                safe_fs.rename(dirs.open(path.parent), entry.stage, path.name)
            elif entry.sha_before is not None:  # None: there was nothing to delete when it was staged
                safe_fs.unlink(dirs.open(path.parent), path.name)
            done.append(path)
        except OSError as e:
            failed[path] = _reason(e)
            if entry.stage is not None:
                with contextlib.suppress(OSError):
                    safe_fs.unlink(dirs.open(path.parent), entry.stage)
        pause.tick()
    for fd in dirs.fds():
        with contextlib.suppress(OSError):
            os.fsync(fd)
    where = {path: safe_fs.location(fd) for path, fd in dirs.items()}
    return Written(tuple(done), failed, {path: now for path, now in where.items() if now != path})


class _Directories:
    """Directory fds opened without following symlinks, each held from staging to the last rename."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}

    def __enter__(self) -> _Directories:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, path: Path, create: bool = False) -> int:
        if path not in self._fds:
            _make_room_for(len(self._fds) + 1)
            self._fds[path] = safe_fs.open_directory(path, create=create)
        return self._fds[path]

    def get(self, path: Path) -> int | None:
        return self._fds.get(path)

    def items(self) -> list[tuple[Path, int]]:
        return list(self._fds.items())

    def fds(self) -> list[int]:
        return list(self._fds.values())

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _make_room_for(count: int) -> None:
    """Raise the soft fd limit towards the hard one when a patch touches very many directories."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if count + _FD_MARGIN <= soft:
        return
    if hard != resource.RLIM_INFINITY and count + _FD_MARGIN > hard:
        raise OSError(24, f"the patch touches more than {hard - _FD_MARGIN} directories; split it")
    wanted = min(hard, max(2 * soft, count + _FD_MARGIN)) if hard != resource.RLIM_INFINITY else 2 * soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --------------------------------------------------------------------------------------------------
# The journal's own files
# --------------------------------------------------------------------------------------------------


class _JournalFile:
    """`<id>.json` (through `<id>.json.tmp`) and the `<id>.lock` held while its writer lives."""

    def __init__(self, directory: Path, id: str, dir_fd: int, lock_fd: int) -> None:
        self.directory = directory
        self.id = id
        self._dir_fd = dir_fd
        self._lock_fd = lock_fd

    @classmethod
    def create(cls, directory: Path) -> _JournalFile:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        dir_fd = os.open(directory, safe_fs.DIRECTORY_FLAGS)
        id = uuid.uuid4().hex
        # Locked under a temporary name, so that every `<id>.lock` is held from the moment it exists.
        lock_fd = os.open(f"{id}.lock.new", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        safe_fs.rename(dir_fd, f"{id}.lock.new", f"{id}.lock")
        return cls(directory, id, dir_fd, lock_fd)

    @classmethod
    def take_over(cls, directory: Path, id: str) -> _JournalFile | None:
        """The journal `id` if no live process holds it, locked for us; else None."""
        dir_fd = os.open(directory, safe_fs.DIRECTORY_FLAGS)
        try:  # a journal without its lock file lost its writer (a writer removes the manifest first)
            lock_fd = os.open(f"{id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        except OSError:
            os.close(dir_fd)
            raise
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            os.close(dir_fd)
            return None
        return cls(directory, id, dir_fd, lock_fd)

    def __enter__(self) -> _JournalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        """Release the lock; the lock file goes only with the manifest (remove())."""
        os.close(self._lock_fd)
        os.close(self._dir_fd)

    def save(self, manifest: Manifest) -> None:
        temp = f"{self.id}.json.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=self._dir_fd)
        safe_fs.write_new_file(self._dir_fd, temp, manifest.to_json(), 0o600)
        safe_fs.rename(self._dir_fd, temp, f"{self.id}.json")
        os.fsync(self._dir_fd)

    def load(self) -> Manifest | None:
        raw = safe_fs.read_file(self._dir_fd, f"{self.id}.json")
        return Manifest.from_json(raw) if raw is not None else None

    def remove(self) -> None:
        """Delete the manifest, its temp file and the lock file (the lock itself is released on exit)."""
        for name in (f"{self.id}.json", f"{self.id}.json.tmp", f"{self.id}.lock"):
            safe_fs.unlink(self._dir_fd, name)
        os.fsync(self._dir_fd)

    def discard(self) -> None:
        """remove() for an edit that changed nothing; what cannot be removed now, the next start removes."""
        with contextlib.suppress(OSError):
            self.remove()


# --------------------------------------------------------------------------------------------------
# Recovery
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recovered:
    """What `recover` did with one journal."""

    action: Literal["rolled forward", "rolled back", "left"]
    manifest: Manifest | None
    problems: tuple[str, ...] = ()

    def message(self) -> str:
        if self.manifest is None:
            return "; ".join(self.problems)
        count = len(self.manifest.entries)
        what = f"an interrupted edit of {count} file{'s' if count != 1 else ''} in {self.manifest.cwd}"
        text = f"{self.action} {what}" + ("; no file was changed" if self.action == "rolled back" else "")
        if not self.problems:
            return text
        shown = "; ".join(self.problems[:_PROBLEMS_SHOWN])
        more = len(self.problems) - _PROBLEMS_SHOWN
        return text + f" (not finished: {shown}" + (f"; and {more} more)" if more > 0 else ")")


def recover(codex_home: Path) -> list[Recovered]:
    """Finish (committed) or undo (staging) every journal under `codex_home` whose writer is dead."""
    directory = journal_dir(codex_home)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    ids = sorted({match.group(1) for name in names if (match := _NAME.match(name))})
    results: list[Recovered] = []
    for id in ids:
        if not {f"{id}.lock", f"{id}.json", f"{id}.json.tmp"} & set(names):
            _remove_if_stale(directory / f"{id}.lock.new")
            continue
        result = _recover_one(codex_home, directory, id)
        if result is not None:
            results.append(result)
    return results


def _remove_if_stale(path: Path) -> None:
    with contextlib.suppress(OSError):
        if time.time() - path.stat().st_mtime > _STALE_SECONDS:
            path.unlink()


def _recover_one(codex_home: Path, directory: Path, id: str) -> Recovered | None:
    file = _JournalFile.take_over(directory, id)
    if file is None:
        return None  # its writer is alive
    with file:
        try:
            manifest = file.load()
        except (OSError, ValueError, KeyError, TypeError) as e:
            return Recovered("left", None, (f"the journal {directory / id}.json is unreadable ({e}); "
                                            "remove it after checking the files it names",))
        if manifest is None:
            file.remove()  # died before its first manifest was in place: nothing was staged yet
            return None
        if manifest.state == "staging":
            leftovers = _unstage(manifest, _Directories(), reopen=True)
            result = Recovered("rolled back", manifest, tuple(f"could not check or remove {p}" for p in leftovers))
            retry = bool(leftovers)
        else:
            problems = _roll_forward(manifest)
            unaudited = _audit(codex_home, manifest, problems)
            result = Recovered("rolled forward", manifest, (*problems.values(), *([unaudited] if unaudited else [])))
            retry = unaudited is not None
        if not retry:  # else the journal stays and the next start tries again
            file.remove()
        return result


def _roll_forward(manifest: Manifest) -> dict[str, str]:
    """Finish each rename and deletion of a committed edit; returns the paths left undone, with why."""
    problems: dict[str, str] = {}
    with _Directories() as dirs:
        for entry in manifest.entries:  # writes first, then deletions
            path = Path(entry.path)
            if entry.stage is None and entry.sha_before is None:
                continue  # nothing was there to delete
            if entry.stage is None and problems:
                problems[entry.path] = f"{path} not deleted, since not every file of the edit could be written"
                continue
            try:
                problem = _finish_entry(dirs.open(path.parent), entry)
            except (OSError, ValueError) as e:
                problem = f"{path}: {_reason(e) if isinstance(e, OSError) else e}"
            if problem:
                problems[entry.path] = problem
        for fd in dirs.fds():
            with contextlib.suppress(OSError):
                os.fsync(fd)
    return problems


def _finish_entry(fd: int, entry: Entry) -> str | None:
    name = Path(entry.path).name
    current = sha256_of(safe_fs.read_file(fd, name))
    if entry.stage is None:
        if current is None:
            return None
        if current != entry.sha_before:
            return f"{entry.path} changed after the interrupted edit; not deleted"
        safe_fs.unlink(fd, name)
        return None
    staged = safe_fs.read_file(fd, entry.stage) if safe_fs.exists(fd, entry.stage) else None
    if staged is None:
        return None if current == entry.sha_after else f"{entry.path}: its staged copy is missing"
    if sha256_of(staged) != entry.sha_after:
        safe_fs.unlink(fd, entry.stage)
        return f"{entry.path}: its staged copy was changed by another process; not written"
    if current not in (entry.sha_before, entry.sha_after):
        safe_fs.unlink(fd, entry.stage)
        return f"{entry.path} changed after the interrupted edit; not overwritten"
    safe_fs.rename(fd, entry.stage, name)
    return None


def _audit(codex_home: Path, manifest: Manifest, problems: Mapping[str, str]) -> str | None:
    """One file_changed record per file the edit changed, marked as recovered (the killed writer wrote none, or
    not all); a sentence if the audit log could not be written."""
    if not manifest.audit:
        return None
    from agent.audit import FILE_CHANGED, AuditLog
    from agent.errors import UserError
    from agent.redact import Redactor

    log = AuditLog(codex_home, Redactor.from_config(None))
    try:
        for entry in manifest.entries:
            if entry.path in problems or (entry.change == "delete" and entry.sha_before is None):
                continue
            log.append(FILE_CHANGED, {"path": entry.path, "change": entry.change, "sha256_before": entry.sha_before,
                                      "sha256_after": entry.sha_after, "recovered": "rolled forward"})
    except (UserError, OSError) as e:
        return f"its audit records were not written ({e}); the next start of codex tries again"
    return None


# --------------------------------------------------------------------------------------------------
# The test-only pause
# --------------------------------------------------------------------------------------------------


@dataclass
class _Pause:
    """CODEX_TEST_PATCH_PAUSE (test-only, see the module docstring) for one phase."""

    phase: str
    at: int | None
    directory: Path | None
    count: int = 0

    @classmethod
    def from_environment(cls, phase: str, env: Mapping[str, str] = os.environ) -> _Pause:
        wanted, _, rest = env.get(PAUSE_VARIABLE, "").partition(":")
        number, _, directory = rest.partition(":")
        if wanted != phase or not number.isdigit():
            return cls(phase, None, None)
        return cls(phase, int(number), Path(directory) if directory else None)

    def tick(self) -> None:
        self.count += 1
        if self.count != self.at:
            return
        print(f"codex-test-pause: {self.phase} {self.count}", file=sys.stderr, flush=True)
        if self.directory is not None:
            (self.directory / "paused").touch()
        while self.directory is None or not (self.directory / "resume").exists():
            time.sleep(0.01)
