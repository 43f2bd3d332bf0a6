"""Directory-fd file operations that never follow a symlink: what the patch writer and its journal use.

`open_directory` opens an absolute path as a directory fd, refusing any symlink on the way: with openat2(2)
and RESOLVE_NO_SYMLINKS where the kernel has it (Linux >= 5.6), else by a walk from `/` that opens each
component with O_NOFOLLOW relative to its parent's fd. Every other function works on a name inside such a
directory fd (`name` is one path component), so a directory swapped for a symlink after it was opened cannot
redirect a write: the write goes into the directory that was opened, or fails.

A directory that another process *moves* (rename, not a symlink) while its fd is held takes later writes with
it; `location` says where it is now (from /proc/self/fd), so callers can report the path really written.

This module does not decide which paths may be written (agent.safety.approval does), hold locks, or know about
patches; it is Linux-only (openat2, /proc/self/fd), like the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from agent.fileio import write_all

SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437, "armv7l": 437, "riscv64": 437}.get(os.uname().machine)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
AT_FDCWD = -100
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class SymlinkInPath(OSError):
    """A component of a path that must not contain symlinks is one (or is not a directory)."""

    def __init__(self, path: Path, component: Path) -> None:
        super().__init__(errno.ELOOP, f"{component} is a symlink or not a directory (refusing to follow it)",
                         str(path))
        self.component = component


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@functools.cache
def openat2_works() -> bool:
    """Whether this kernel (and any seccomp filter) lets us call openat2."""
    if SYS_OPENAT2 is None:
        return False
    try:
        os.close(_openat2("/", DIRECTORY_FLAGS, RESOLVE_NO_SYMLINKS))
    except OSError:
        return False
    return True


def _openat2(path: str, flags: int, resolve: int) -> int:
    how = _OpenHow(flags, 0, resolve)
    fd = _libc().syscall(SYS_OPENAT2, AT_FDCWD, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    return fd


def _checked(path: Path) -> Path:
    if not path.is_absolute() or any(part in (".", "..") for part in path.parts):
        raise ValueError(f"{path} must be an absolute path without '.' or '..' components")
    return path


def open_directory(path: Path, create: bool = False, use_openat2: bool | None = None) -> int:
    """An O_RDONLY fd of the directory at `path`, reached without following any symlink.

    With `create`, missing directories are made (mode 0o777 minus the umask). Raises SymlinkInPath when a
    component is a symlink or a file, FileNotFoundError when one is missing (without `create`)."""
    path = _checked(Path(path))
    if use_openat2 is None:
        use_openat2 = openat2_works()
    if use_openat2:
        try:
            return _openat2(str(path), DIRECTORY_FLAGS, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise
    return _walk(path, create)  # also names the offending component precisely


def _walk(path: Path, create: bool) -> int:
    fd = os.open("/", _WALK_FLAGS)
    try:
        reached = Path("/")
        for part in path.parts[1:]:
            reached = reached / part
            next_fd = _open_component(fd, part, path, reached, create)
            os.close(fd)
            fd = next_fd
        return os.open(".", DIRECTORY_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _open_component(parent: int, name: str, path: Path, reached: Path, create: bool) -> int:
    try:
        return os.open(name, _WALK_FLAGS, dir_fd=parent)
    except NotADirectoryError as e:
        raise SymlinkInPath(path, reached) from e
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile: open what is there
        os.mkdir(name, 0o777, dir_fd=parent)
    try:
        return os.open(name, _WALK_FLAGS, dir_fd=parent)
    except NotADirectoryError as e:
        raise SymlinkInPath(path, reached) from e


def missing_directories(path: Path) -> list[Path]:
    """`path` and those of its ancestors that do not exist (looked up without following symlinks), outermost
    first: the directories `open_directory(path, create=True)` would make."""
    missing: list[Path] = []
    for directory in [_checked(Path(path)), *Path(path).parents]:
        if os.path.lexists(directory):
            break
        missing.append(directory)
    return list(reversed(missing))


@contextlib.contextmanager
def directory(path: Path, create: bool = False) -> Iterator[int]:
    """`open_directory` as a context manager that closes the fd."""
    fd = open_directory(path, create)
    try:
        yield fd
    finally:
        os.close(fd)


def read_file(dir_fd: int, name: str) -> bytes | None:
    """The bytes of the regular file `name` in `dir_fd`; None if there is nothing there. Refuses a symlink,
    a directory or a special file with OSError."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", name)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def file_mode(dir_fd: int, name: str) -> int | None:
    """Permission bits of the regular file `name` (not followed if a symlink); None if it is not one."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def write_new_file(dir_fd: int, name: str, data: bytes, mode: int, sync: bool = True) -> None:
    """Create `name` (it must not exist), write `data`, set `mode` and fsync (unless not `sync`: the caller
    then calls `sync_filesystem`); a failed write removes it."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        write_all(fd, data)
        os.fchmod(fd, mode)
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    os.close(fd)


def sync_filesystem(fd: int) -> None:
    """syncfs(2): flush everything written to the filesystem holding `fd`; one call instead of many fsyncs."""
    if _libc().syncfs(fd) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def rename(dir_fd: int, source: str, target: str) -> None:
    """Rename within one directory; a symlink at `target` is replaced, never followed."""
    os.rename(source, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def unlink(dir_fd: int, name: str) -> bool:
    """Remove `name` (a symlink itself, never its target); False if it was not there."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def remove_empty_directory(parent_fd: int, name: str) -> bool:
    """rmdir `name` if it is an empty directory; False if it is not there, not empty or not a directory."""
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except OSError:
        return False
    return True


def location(dir_fd: int) -> Path | None:
    """Where the directory of `dir_fd` is now (no symlinks in it); None if it was removed or is unknown."""
    try:
        target = os.readlink(f"/proc/self/fd/{dir_fd}")
    except OSError:
        return None
    if target.endswith(" (deleted)") or not target.startswith("/"):
        return None
    return Path(target)


def is_at(dir_fd: int, path: Path) -> bool:
    """True if a fresh no-symlink lookup of `path` reaches the directory of `dir_fd`."""
    try:
        fresh = open_directory(path)
    except (OSError, ValueError):
        return False
    try:
        a, b = os.fstat(dir_fd), os.fstat(fresh)
    finally:
        os.close(fresh)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def default_file_mode() -> int:
    """0o666 minus the process umask, read without changing it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644
