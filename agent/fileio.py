"""Low-level file writes shared by the stores: write every byte to a descriptor, and replace a file atomically.

`write_all` loops over `os.write` until the whole buffer is written (a write may be short on a full pipe, a
signal or a big buffer). `write_atomic` replaces a file so that a reader, or the disk after a crash or a
`kill -9`, sees the old content or the new one and never a mix: the data goes to a temporary file in the same
directory (created with `O_EXCL | O_NOFOLLOW`, so a symlink or file planted at its name is never followed or
reused), is fsynced, renamed over the target with `os.replace` (a symlink at the target is replaced, not
followed), and the directory is fsynced so the rename itself survives a crash.

It does not lock: callers that may race on one temporary name (`temp_name`) hold their own lock, and it does
not create directories. It imports only the standard library's `os` and `contextlib`, so any module may use it
without slowing `codex --version`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TEMP_SUFFIX = ".tmp"  # every temporary file ends so; stores that sweep killed writers' leftovers match on it


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, looping over short writes; an OSError propagates with nothing retried."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_directory(directory: Path) -> None:
    """Flush `directory`'s entries (a created, renamed or removed name) to disk; OSError propagates."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, *, keep_mode: bool = False,
                 temp_name: str | None = None) -> None:
    """Replace `path` with `data` atomically and durably (temp file, fsync, rename, fsync of the directory).

    `mode` is the new file's permission bits, masked by the umask as in open(2); with `keep_mode`, a file
    already at `path` (or a symlink's target) lends its rwx bits exactly. The temporary file is
    `.<name>.codex-<random>.tmp` beside `path`, or `temp_name` there for a writer that holds a lock: a killed
    writer's leftover of that name is then removed by the next write instead of piling up. On any error the
    temporary file is removed and the old content stays.
    """
    path = Path(path)
    kept_mode = _mode_of(path) if keep_mode else None
    temp, fd = _create_temp(path, mode if kept_mode is None else 0o600, temp_name)
    try:
        try:
            write_all(fd, data)
            if kept_mode is not None:
                os.fchmod(fd, kept_mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_directory(path.parent)


def _mode_of(path: Path) -> int | None:
    """The rwx bits of the file at `path` (through a symlink), or None when there is none."""
    try:
        return os.stat(path).st_mode & 0o777  # never set-id or sticky bits
    except FileNotFoundError:
        return None


def _create_temp(path: Path, mode: int, temp_name: str | None) -> tuple[Path, int]:
    """A new temporary file beside `path`, opened for writing; never an existing file or a symlink's target."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    if temp_name is not None:
        temp = path.parent / temp_name
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)  # a killed writer's leftover (a file or a planted symlink): never written through
        return temp, os.open(temp, flags, mode)
    while True:
        temp = path.parent / f".{path.name[:200]}.codex-{os.urandom(6).hex()}{TEMP_SUFFIX}"  # within NAME_MAX
        try:
            return temp, os.open(temp, flags, mode)
        except FileExistsError:
            continue
