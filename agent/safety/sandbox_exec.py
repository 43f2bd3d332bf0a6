"""The sandbox launcher: confine this process with namespaces and Landlock, then exec the command.

`agent.safety.sandbox.wrap_command` puts this file in front of a command's argv:

    python -I -S sandbox_exec.py [--write PATH]... [--read-only PATH]... [--network] [--no-namespaces] -- CMD ARG...
    python -I -S sandbox_exec.py --probe     # try the namespace setup; print "ok" or the reason, exit 0 or 1
    python -I -S sandbox_exec.py --await FD  # started ahead of need: wait for the rest on pipe FD

With --await (agent.safety.launchers), the process starts before its command is known, so the
interpreter's start-up is off the command's critical path. It then reads one `marshal`-ed tuple
(the arguments above, the working directory, the environment) from FD until end of file, and carries
on as if started with those arguments in that directory with that environment. End of file with
nothing read means "not needed": it exits 0 without a word.

It confines itself and then `execvp`s CMD, so the command, and every process it starts, inherits the
confinement; the parent only runs an ordinary argv (no Python between fork and exec in a threaded
process). What it does, in this order (the order matters: a Landlock-confined process may neither
write its uid_map nor mount):

1. a new user namespace, unless --no-namespaces. As root, a short-lived helper forked before the
   unshare maps every uid and gid to itself (`0 0 4294967295`), so ownership and root's access to
   other users' files are unchanged while the command loses root's capabilities outside the
   namespace (it cannot load modules, setns back into the host network, reboot, ...). Otherwise the
   own uid and gid are mapped to themselves (setgroups "deny" first).
2. without --network, a new network namespace with only a loopback device, brought up so a command
   can still talk to servers it starts itself; nothing outside the sandbox is reachable.
3. with --read-only paths, a new mount namespace (mounts made slaves, so nothing propagates out)
   where each path is bind-mounted read-only onto itself, keeping the flags the kernel locks
   (nosuid, nodev, noexec, atime). The working directory is re-entered afterwards so a cwd inside
   such a path sees the read-only mount too.
4. PR_SET_NO_NEW_PRIVS and a Landlock ruleset that handles every write right this kernel's ABI knows
   (reads and execution are not handled, so they stay unrestricted) and grants them beneath each
   --write path and on a few devices (/dev/null, /dev/zero, /dev/tty, ptys, ...).

--no-namespaces (the parent passes it only when the kernel refuses user namespaces and the policy
allows network) skips 1-3. Landlock can only grant, so the read-only paths are then carved out of
the grant: rights go to each entry of a writable root except the read-only ones, recursing only
along the way to them. The price: the directories on that way (the root itself) get no rights of
their own, so new top-level entries cannot be created, removed or renamed there.

If any step fails the command is not run: one line on stderr, exit status 125. A command that
cannot be executed exits 127 (not found) or 126, like a shell.

Standard library only, no agent imports and no json/argparse: it starts once per command, so its
startup time is the sandbox's overhead.
"""

from __future__ import annotations

import os
import sys

# Syscall numbers of the unified table every Linux architecture but alpha uses for new syscalls.
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
UNIFIED_SYSCALL_MACHINES = frozenset({
    "x86_64", "aarch64", "arm64", "i386", "i686", "armv7l", "armv8l", "riscv64", "ppc64le", "ppc64",
    "s390x", "loongarch64",
})
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV = 1 << 15  # ABI 5

WRITE_RIGHTS_ABI1 = (
    ACCESS_FS_WRITE_FILE | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE | ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_DIR
    | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SOCK | ACCESS_FS_MAKE_FIFO | ACCESS_FS_MAKE_BLOCK | ACCESS_FS_MAKE_SYM
)
# Rights that may be granted on a file that is not a directory (the others are EINVAL there).
FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV

# Devices every sandboxed command may open for writing (and, for ttys, ioctl).
WRITABLE_DEVICES = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
)

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
ST_RELATIME = 4096
S_IFMT, S_IFDIR = 0o170000, 0o040000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1

SETUP_FAILED = 125
USAGE = "usage: sandbox_exec.py [--write PATH]... [--read-only PATH]... [--network] [--no-namespaces] -- CMD [ARG]..."


class SetupError(Exception):
    """One step of the confinement failed; str() names the step and the kernel's reason."""


def write_rights(abi: int) -> int:
    """The write rights Landlock ABI `abi` can handle (0 when there is no Landlock)."""
    if abi < 1:
        return 0
    rights = WRITE_RIGHTS_ABI1
    if abi >= 2:
        rights |= ACCESS_FS_REFER
    if abi >= 3:
        rights |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        rights |= ACCESS_FS_IOCTL_DEV
    return rights


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers; 0 if none (not Linux, unknown machine, disabled, too old)."""
    if not sys.platform.startswith("linux") or os.uname().machine not in UNIFIED_SYSCALL_MACHINES:
        return 0
    return max(_Libc().raw("syscall", SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION), 0)


def confine(writable: list[str], read_only: list[str], network: bool, namespaces: bool = True) -> None:
    """Confine this (single-threaded) process as the module docstring describes; raise SetupError on failure."""
    abi = landlock_abi()
    if abi < 1:
        raise SetupError("this kernel offers no Landlock")
    libc = _Libc()
    read_only = [path for path in read_only if os.path.lexists(path)]
    if namespaces:
        cwd = _getcwd()
        _enter_user_namespace(libc, (0 if network else CLONE_NEWNET) | (CLONE_NEWNS if read_only else 0))
        if not network:
            _bring_up_loopback()
        if read_only:
            _mount_read_only(libc, read_only)
            if cwd is not None:
                os.chdir(cwd)  # re-resolve, so a cwd inside a read-only path is on the read-only mount
    elif not network:
        raise SetupError("cutting off the network needs namespaces, and --no-namespaces was given")
    _restrict_writes(libc, abi, writable, [] if namespaces else read_only)


def probe() -> str:
    """Try the namespace steps confine() takes (all of them); '' if they work, else the reason."""
    libc = _Libc()
    try:
        _enter_user_namespace(libc, CLONE_NEWNET | CLONE_NEWNS)
        _bring_up_loopback()
        _mount_read_only(libc, [os.path.dirname(os.path.abspath(__file__))])
    except SetupError as exc:
        return str(exc)
    return ""


# ---------------------------------------------------------------------------------------------------
# Steps


class _Libc:
    """libc through `_ctypes`, the C half of ctypes: importing `ctypes` itself costs ~3 ms, a fifth of the
    launcher's whole budget. Integer arguments are passed as C longs: right for the int, long and size
    arguments of these calls on Linux's ILP32 and LP64 ABIs, where they travel in registers and variadic
    arguments travel like fixed ones. Results are C ints, except syscall's, a long."""

    def __init__(self) -> None:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class CLong(_ctypes._SimpleCData):
            _type_ = "l"

        flags = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO

        class IntFunction(_ctypes.CFuncPtr):  # the metaclass wants _flags_ in each class's own body
            _flags_ = flags
            _restype_ = CInt

        class LongFunction(_ctypes.CFuncPtr):
            _flags_ = flags
            _restype_ = CLong

        class Process:  # what CFuncPtr((name, library)) reads: the dlopen handle, here of the process itself
            _handle = _ctypes.dlopen(None)

        self._long = CLong
        self._functions = {
            name: (LongFunction if name == "syscall" else IntFunction)((name, Process))
            for name in ("syscall", "unshare", "mount", "prctl")
        }
        self._get_errno = _ctypes.get_errno

    def raw(self, function: str, *args: int | bytes | None) -> int:
        converted = [self._long(arg) if isinstance(arg, int) else arg for arg in args]
        return int(self._functions[function](*converted))

    def call(self, step: str, function: str, *args: int | bytes | None) -> int:
        """raw(), raising SetupError naming the step and errno when the result is negative."""
        result = self.raw(function, *args)
        if result < 0:
            raise SetupError(f"{step} failed: {os.strerror(self._get_errno())}")
        return result


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _write_proc(path: str, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise SetupError(f"writing {text!r} to {path} failed: {exc.strerror}") from None


def _enter_user_namespace(libc: _Libc, extra_flags: int) -> None:
    uid, gid = os.geteuid(), os.getegid()
    helper = _start_identity_mapper() if uid == 0 else None
    kinds = "user" + (" + network" if extra_flags & CLONE_NEWNET else "") + (
        " + mount" if extra_flags & CLONE_NEWNS else "")
    try:
        libc.call(f"creating {kinds} namespaces (unshare)", "unshare", CLONE_NEWUSER | extra_flags)
    except SetupError:
        if helper is not None:
            _finish_identity_mapper(helper, go=False)
        raise
    if helper is not None and _finish_identity_mapper(helper, go=True):
        return
    _write_proc("/proc/self/setgroups", "deny")
    _write_proc("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_proc("/proc/self/gid_map", f"{gid} {gid} 1")


def _start_identity_mapper() -> tuple[int, int]:
    """Fork a helper that, once told to, maps all ids of our new user namespace to themselves.

    Only a process outside the new namespace with CAP_SETUID there may write a multi-id map, so it must
    be a second process. Returns (helper pid, the pipe's write end).
    """
    target = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper; this process has no other threads, so Python is safe after fork
        status = 1
        try:
            os.close(write_end)
            if os.read(read_end, 1) == b"1":
                for name in ("uid_map", "gid_map"):
                    fd = os.open(f"/proc/{target}/{name}", os.O_WRONLY)
                    os.write(fd, b"0 0 4294967295\n")
                    os.close(fd)
                status = 0
        finally:
            os._exit(status)
    os.close(read_end)
    return pid, write_end


def _finish_identity_mapper(helper: tuple[int, int], go: bool) -> bool:
    """Tell the helper to write the maps (or to give up) and wait for it; True if the maps are written."""
    pid, write_end = helper
    if go:
        os.write(write_end, b"1")
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    return go and os.waitstatus_to_exitcode(status) == 0


def _bring_up_loopback() -> None:
    import _socket
    import fcntl
    import struct

    try:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            request = struct.pack("16sH22x", b"lo", 0)
            flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
        finally:
            sock.close()
    except OSError as exc:
        raise SetupError(f"bringing up the sandbox's loopback device failed: {exc.strerror}") from None


def _mount_read_only(libc: _Libc, paths: list[str]) -> None:
    libc.call("making mounts private (mount MS_REC|MS_SLAVE /)", "mount", None, b"/", None, MS_REC | MS_SLAVE, None)
    for path in paths:
        real = os.path.realpath(path).encode()
        libc.call(f"bind-mounting {path}", "mount", real, real, None, MS_BIND | MS_REC, None)
        flags = os.statvfs(real).f_flag
        kept = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)  # ST_* == MS_* for these
        if flags & ST_RELATIME:
            kept |= MS_RELATIME
        elif not flags & MS_NOATIME:
            kept |= MS_STRICTATIME
        # the kernel refuses to drop flags it locked when the mount came from a more privileged namespace
        libc.call(f"remounting {path} read-only", "mount", None, real, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept,
                  None)


def _restrict_writes(libc: _Libc, abi: int, writable: list[str], carve_out: list[str]) -> None:
    handled = write_rights(abi)
    attr = handled.to_bytes(8, sys.byteorder)  # struct landlock_ruleset_attr, handled_access_fs only
    ruleset = libc.call("landlock_create_ruleset", "syscall", SYS_LANDLOCK_CREATE_RULESET, attr, len(attr), 0)
    carve = {os.path.normpath(path) for path in carve_out}
    try:
        for root in writable:
            _grant_except(libc, ruleset, handled, os.path.normpath(root), carve)
        for device in WRITABLE_DEVICES:
            _grant(libc, ruleset, handled & FILE_RIGHTS, device)
        libc.call("prctl(PR_SET_NO_NEW_PRIVS)", "prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        libc.call("landlock_restrict_self", "syscall", SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


def _grant_except(libc: _Libc, ruleset: int, rights: int, path: str, carve: set[str]) -> None:
    """Grant `rights` beneath path, except beneath the paths in carve (see the module docstring)."""
    if path in carve:
        return
    prefix = path.rstrip("/") + "/"
    if not any(other.startswith(prefix) for other in carve) or not os.path.isdir(path) or os.path.islink(path):
        _grant(libc, ruleset, rights, path)
        return
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        _grant_except(libc, ruleset, rights, prefix + name, carve)


def _grant(libc: _Libc, ruleset: int, rights: int, path: str) -> None:
    """Add a path-beneath rule; a path that does not exist is skipped (nothing to write under it)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if os.fstat(fd).st_mode & S_IFMT != S_IFDIR:  # the stat module would cost an import
            rights &= FILE_RIGHTS
        # struct landlock_path_beneath_attr (packed): __u64 allowed_access; __s32 parent_fd
        rule = rights.to_bytes(8, sys.byteorder) + fd.to_bytes(4, sys.byteorder, signed=True)
        libc.call(f"landlock_add_rule({path})", "syscall", SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                  rule, 0)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------
# Command line


def _parse(args: list[str]) -> tuple[list[str], list[str], bool, bool, list[str]]:
    writable: list[str] = []
    read_only: list[str] = []
    network, namespaces = False, True
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            command = args[index + 1:]
            if not command:
                break
            return writable, read_only, network, namespaces, command
        if arg in ("--write", "--read-only") and index + 1 < len(args):
            (writable if arg == "--write" else read_only).append(args[index + 1])
            index += 2
            continue
        if arg == "--network":
            network = True
        elif arg == "--no-namespaces":
            namespaces = False
        else:
            break
        index += 1
    raise ValueError(USAGE)


def _fail(message: str, status: int = SETUP_FAILED):
    sys.stderr.write(f"codex sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(status)


def _await_command(fd: int) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment sent on fd (see --await); enters the working directory sent."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    if not chunks:
        os._exit(0)
    import marshal  # built in: no file to find or load

    try:
        args, cwd, env = marshal.loads(b"".join(chunks))
        os.chdir(cwd)
    except OSError as exc:
        _fail(f"cannot enter the working directory: {exc.strerror}", 126)
    except (EOFError, ValueError, TypeError):
        _fail("the command sent on the --await pipe is malformed", 2)
    return args, env


def main(args: list[str]) -> None:
    if args == ["--probe"]:
        reason = probe()
        sys.stdout.write((reason or "ok") + "\n")
        sys.stdout.flush()
        os._exit(1 if reason else 0)
    env = None
    if len(args) == 2 and args[0] == "--await" and args[1].isdigit():
        args, env = _await_command(int(args[1]))
    try:
        writable, read_only, network, namespaces, command = _parse(args)
    except ValueError as exc:
        _fail(str(exc), 2)
    try:
        confine(writable, read_only, network, namespaces)
    except SetupError as exc:
        _fail(f"could not confine the command, so it was not run: {exc}")
    import _signal

    for name in ("SIGPIPE", "SIGXFSZ"):  # Python ignores these; an exec'd program expects the default
        if hasattr(_signal, name):
            _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    try:
        if env is None:
            os.execvp(command[0], command)
        os.execvpe(command[0], command, env)  # searches env's PATH
    except FileNotFoundError:
        _fail(f"{command[0]}: command not found", 127)
    except OSError as exc:
        _fail(f"{command[0]}: {exc.strerror}", 126)


if __name__ == "__main__":
    main(sys.argv[1:])
