"""The sandbox launcher: build a confined view of the system, then run the command inside it.

`agent.safety.sandbox` puts this program (its bytecode, in the argv) in front of a command's argv:

    python -I -S sandbox_exec.py [OPTION]... -- CMD ARG...
    python -I -S sandbox_exec.py --probe              # try every step; print "ok" or the reason, exit 0 or 1
    python -I -S sandbox_exec.py --await FD [--lifeline FD]   # started ahead of need (agent.safety.launchers)

Options: `--write PATH` (a writable root), `--read-only PATH` (kept read-only; skipped if missing),
`--guard PATH` (kept read-only, and created as an empty placeholder directory first if missing, so a
command cannot create it: `.git`, `.codex`), `--private PATH` (replaced by an empty read-only directory:
CODEX_HOME), `--hide PATH` (the same, unless a writable root or the working directory is at or above it:
/run), `--keep PATH` (kept visible where a cover would hide it, with no write right: the directory the agent
was started in, which tools such as pyenv look up), `--tmp DIR` (DIR is the command's /tmp; without it /tmp
is an empty read-only directory, and like --hide it is left alone when a writable root is /tmp itself),
`--network`. `--unconfined` runs the command
with no sandbox but the same lifetime rules (`run_unconfined`): for danger-full-access and approved
escalations.

With --await, the process starts before its command is known, so the interpreter's start-up is off the
command's critical path. It then reads one `marshal`-ed tuple (the arguments above, the working
directory, the environment) from FD until end of file, and carries on as if started with those
arguments in that directory with that environment. End of file with nothing read means "not needed":
it exits 0 without a word. --lifeline FD is the read end of a pipe whose write end only the agent
holds: when it reports end of file, the agent has died and the command is killed.

Three processes, in this order (the order matters: a Landlock-confined process may neither write its
uid_map nor mount):

1. The monitor (this process) creates missing guard placeholders (a shared `flock` on each while the
   command runs), enters a new user namespace (as root, a short-lived helper maps every uid and gid to
   itself, so ownership is unchanged while the command loses root's power outside the namespace;
   otherwise the own uid and gid are mapped), a new PID namespace and, without --network, a new network
   namespace whose loopback device it brings up. It forks `init`, then waits for it, or for the lifeline
   to close (then it kills init). When init is gone it removes the placeholders it may (empty, marked
   by mode 0500, no other command holding them), and exits as the command did (the same code, or the
   same signal).
2. init is PID 1 of the new PID namespace, with PR_SET_PDEATHSIG so it dies with the monitor. In a new
   mount namespace (slave of the host's, so nothing propagates out) it builds the view: /tmp, the
   hidden paths and, without --network, /run and $XDG_RUNTIME_DIR (passed as --hide) are covered, and
   the writable roots and the working directory are bound back where a cover hid them; guard and
   read-only paths are bind-mounted read-only; a new /proc shows only the sandbox's processes; a new
   devpts instance on /dev/pts holds only the sandbox's own terminals. Then PR_SET_NO_NEW_PRIVS and a
   Landlock ruleset that handles every write right this kernel's ABI knows and grants them beneath each
   --write path, the --tmp /tmp and a few devices; on ABI 6+ it also scopes signals and abstract unix
   sockets to the sandbox. It forks the command and reaps every process until the command exits;
   then it reports the command's wait status to the monitor and exits, and the kernel kills whatever
   the command left behind (PID 1 of a namespace takes its namespace with it).
3. The command, with default signal dispositions, exec'd by name (PATH of its environment).

So nothing a command starts outlives it, or the agent; a command sees no process outside its
sandbox (it cannot signal, trace or read /proc of the agent or the user's other processes), reaches no
unix socket in /tmp, /run or the hidden paths, and writes no other terminal. Landlock forbids mount and
umount to the command, so it cannot undo the view even as root inside its user namespace.

If any step fails the command is not run: one line on stderr, exit status 125. A command that cannot be
executed exits 127 (not found) or 126, like a shell.

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
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

WRITE_RIGHTS_ABI1 = (
    ACCESS_FS_WRITE_FILE | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE | ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_DIR
    | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SOCK | ACCESS_FS_MAKE_FIFO | ACCESS_FS_MAKE_BLOCK | ACCESS_FS_MAKE_SYM
)
# Rights that may be granted on a file that is not a directory (the others are EINVAL there).
FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV

# Devices every sandboxed command may open for writing (and, for ttys, ioctl). /dev/pts and /dev/ptmx are
# the sandbox's own devpts instance, so no terminal outside the sandbox is among them.
WRITABLE_DEVICES = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
)

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SIGKILL = 9
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
S_IFMT, S_IFDIR, S_IFLNK = 0o170000, 0o040000, 0o120000
PLACEHOLDER_MODE = 0o500  # marks a guard placeholder this launcher made (users' directories are rarely 0500)
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 1

SETUP_FAILED = 125
USAGE = ("usage: sandbox_exec.py [--write PATH]... [--read-only PATH]... [--guard PATH]... [--hide PATH]... "
         "[--private PATH]... [--tmp DIR] [--network] -- CMD [ARG]...")
PATH_OPTIONS = {
    "--write": "write", "--read-only": "read_only", "--guard": "guard", "--hide": "hide", "--private": "private",
    "--keep": "keep",
}


class SetupError(Exception):
    """One step of the confinement failed; str() names the step and the kernel's reason."""


class Options:
    """The parsed command line (a plain class: importing dataclasses would cost the launcher ~2 ms)."""

    def __init__(self) -> None:
        self.write: list[str] = []
        self.read_only: list[str] = []
        self.guard: list[str] = []
        self.hide: list[str] = []
        self.private: list[str] = []
        self.keep: list[str] = []
        self.tmp: str | None = None
        self.network = False
        self.unconfined = False
        self.command: list[str] = []


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
    global _ABI
    if _ABI is None:
        _ABI = max(_libc().raw("syscall", SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION), 0)
    return _ABI


_ABI: int | None = None
_LIBC: _Libc | None = None


def _libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


def _warm_up() -> None:
    """What every command needs, done while a launcher started ahead waits for its command."""
    import _signal  # noqa: F401
    import _socket  # noqa: F401
    import fcntl  # noqa: F401
    import select  # noqa: F401
    import struct  # noqa: F401

    landlock_abi()


# ---------------------------------------------------------------------------------------------------
# The three processes


def run(options: Options, env: dict[str, str] | None, lifeline: int | None) -> None:
    """Confine and run options.command as the module docstring describes; exits like the command."""
    abi = landlock_abi()
    if abi < 1:
        raise SetupError("this kernel offers no Landlock")
    libc = _libc()
    if lifeline is None:
        libc.call("prctl(PR_SET_PDEATHSIG)", "prctl", PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    guards = [_Guard(path) for path in options.guard]
    _enter_user_namespace(libc, CLONE_NEWPID | (0 if options.network else CLONE_NEWNET))
    if not options.network:
        _bring_up_loopback()
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(status_read)
            if lifeline is not None:
                os.close(lifeline)
            _init(libc, abi, options, env, status_write)
        except SetupError as exc:
            _fail(f"could not confine the command, so it was not run: {exc}")
        except BaseException as exc:  # never let init fall back into the monitor's code
            _fail(f"the sandbox's init failed: {exc!r}")
    os.close(status_write)
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # a Ctrl-C reaches the command too: it decides
    status = _supervise(pid, status_read, lifeline)
    for guard in guards:
        guard.release()
    _exit_like(status)


def _supervise(pid: int, status_read: int, lifeline: int | None) -> int:
    """Wait for init (killing it if the lifeline closes); the command's wait status."""
    init_status = _wait(pid, lifeline)
    reported = os.read(status_read, 8)
    if len(reported) == 4:
        return int.from_bytes(reported, sys.byteorder)
    return init_status if os.WIFSIGNALED(init_status) else SIGKILL  # init died before the command ended


def _wait(pid: int, lifeline: int | None) -> int:
    """pid's wait status; if the lifeline reports end of file first, pid is killed (the agent is gone)."""
    if lifeline is not None:
        import select

        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(lifeline, select.POLLIN | select.POLLHUP)
        while not any(fd == pidfd for fd, _ in poller.poll()):
            os.kill(pid, SIGKILL)
            poller.unregister(lifeline)
        os.close(pidfd)
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def run_unconfined(options: Options, env: dict[str, str] | None, lifeline: int | None) -> None:
    """No sandbox, but the same lifetime: the command's descendants die when it ends, when this launcher is
    told to stop (SIGTERM) and when the agent dies. As a child subreaper, this process inherits every
    orphan the command leaves (even one that called setsid), so it can find and kill them all."""
    libc = _libc()
    libc.call("prctl(PR_SET_CHILD_SUBREAPER)", "prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if lifeline is None:
        libc.call("prctl(PR_SET_PDEATHSIG)", "prctl", PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    import _signal

    def stop(_number: int, _frame: object) -> None:
        _kill_descendants()
        os._exit(128 + 15)

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # the command decides what a Ctrl-C means
    _signal.signal(_signal.SIGTERM, stop)
    pid = os.fork()
    if pid == 0:
        if lifeline is not None:
            os.close(lifeline)
        _exec_command(options.command, env)
    status = _wait(pid, lifeline)
    _kill_descendants()
    _exit_like(status)


def _kill_descendants() -> None:
    """SIGKILL every process below this one, level by level (killed parents hand their children to us)."""
    while children := _children():
        for pid in children:
            try:  # noqa: SIM105 (contextlib would cost the launcher an import)
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:
            try:  # noqa: SIM105
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as listing:
            return [int(pid) for pid in listing.read().split()]
    except OSError:
        return []


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        import _signal

        number = os.WTERMSIG(status)
        if number not in (_signal.SIGKILL, _signal.SIGSTOP):  # their handlers cannot be set (EINVAL)
            _signal.signal(number, _signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


def _init(libc: _Libc, abi: int, options: Options, env: dict[str, str] | None, status_write: int) -> None:
    """PID 1 of the sandbox: build the view, confine, run the command, reap, report; never returns."""
    libc.call("prctl(PR_SET_PDEATHSIG)", "prctl", PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    cwd = os.getcwd()
    _build_view(libc, options, cwd)
    os.chdir(cwd)  # re-resolve, so the cwd is seen through the view (a cwd inside .git is read-only too)
    writable = [*options.write, *(["/tmp"] if options.tmp else [])]
    _restrict_writes(libc, abi, writable)
    import _signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        _signal.signal(getattr(_signal, name), _signal.SIG_IGN)  # only the monitor and the agent may end init
    child = os.fork()
    if child == 0:
        _exec_command(options.command, env)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = SIGKILL
            break
        except InterruptedError:
            continue
        if pid == child:
            break
    os.write(status_write, status.to_bytes(4, sys.byteorder))
    os._exit(0)


def _exec_command(command: list[str], env: dict[str, str] | None) -> None:
    import _signal

    for number in range(1, _signal.NSIG):  # Python ignores SIGPIPE and SIGXFSZ; init ignored more
        try:
            if _signal.getsignal(number) == _signal.SIG_IGN or number == _signal.SIGINT:
                _signal.signal(number, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    try:
        if env is None:
            os.execvp(command[0], command)
        os.execvpe(command[0], command, env)  # searches env's PATH
    except FileNotFoundError:
        _fail(f"{command[0]}: command not found", 127)
    except OSError as exc:
        _fail(f"{command[0]}: {exc.strerror}", 126)


def probe() -> str:
    """Try every step confine takes (a throwaway view); '' if they work, else the reason."""
    libc = _libc()
    try:
        if landlock_abi() < 1:
            raise SetupError("this kernel offers no Landlock")
        _enter_user_namespace(libc, CLONE_NEWPID | CLONE_NEWNET)
        _bring_up_loopback()
    except SetupError as exc:
        return str(exc)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        reason = ""
        try:
            options = Options()
            options.write = ["/"]
            _build_view(libc, options, "/")
        except SetupError as exc:
            reason = str(exc)
        except BaseException as exc:
            reason = repr(exc)
        os.write(write_end, reason.encode()[:4000])
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


# ---------------------------------------------------------------------------------------------------
# The view


def _build_view(libc: _Libc, options: Options, cwd: str) -> None:
    """In a new mount namespace: covers, binds back, read-only paths, /proc and /dev/pts (see the docstring)."""
    libc.call("creating a mount namespace (unshare)", "unshare", CLONE_NEWNS)
    libc.call("making mounts private (mount MS_REC|MS_SLAVE /)", "mount", None, b"/", None, MS_REC | MS_SLAVE, None)
    kept = _outermost([*options.write, cwd])  # a writable root or the cwd at or above a cover leaves it off
    # Every kept path, not only the outermost: a keep at or above a cover (PYENV_DIR=/tmp, or /) must not swallow
    # the roots beneath it; each cover binds back the outermost of those strictly beneath it.
    kept_fds = {path: _open_path(path) for path in sorted({os.path.normpath(p) for p in [*kept, *options.keep]})}
    if not any(_beneath("/tmp", root) or root == "/tmp" for root in kept):
        _cover(libc, "/tmp", _open_path(options.tmp) if options.tmp else None, kept_fds)
    for path in _outermost(options.hide):
        if not any(_beneath(path, root) or path == root for root in kept):  # a writable root here wins
            _cover(libc, path, None, kept_fds)
    for path in _outermost(options.private):
        _cover(libc, path, None, kept_fds)
    for fd in kept_fds.values():
        os.close(fd)
    for path in [*options.guard, *options.read_only, *_exposed(options, cwd)]:
        if os.path.lexists(path):
            _mount_read_only(libc, path)
    libc.call("mounting /proc", "mount", b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    if os.path.isdir("/dev/pts"):
        libc.call("mounting a devpts instance on /dev/pts", "mount", b"devpts", b"/dev/pts", b"devpts",
                  MS_NOSUID | MS_NOEXEC, b"newinstance,ptmxmode=0666,mode=0620")
        if os.path.exists("/dev/ptmx"):
            libc.call("binding /dev/pts/ptmx on /dev/ptmx", "mount", b"/dev/pts/ptmx", b"/dev/ptmx", None, MS_BIND,
                      None)


def _exposed(options: Options, cwd: str) -> list[str]:
    """The kept paths and the cwd bound back beneath the private, writable /tmp that no writable root holds or
    lies beneath: read-only by mount, since Landlock's write right on /tmp reaches them through the bind."""
    if not options.tmp:
        return []
    beneath_tmp = _outermost([path for path in [*options.keep, cwd] if _beneath(os.path.normpath(path), "/tmp")])
    return [path for path in beneath_tmp
            if not any(path == root or _beneath(path, root) or _beneath(root, path) for root in options.write)]


def _outermost(paths: list[str]) -> list[str]:
    """The paths (normalised, de-duplicated) that are not beneath another one of them."""
    normal = sorted({os.path.normpath(path) for path in paths})
    return [path for path in normal if not any(_beneath(path, other) for other in normal if other != path)]


def _beneath(path: str, root: str) -> bool:
    return root == "/" or path.startswith(root.rstrip("/") + "/")


def _open_path(path: str) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise SetupError(f"opening {path} failed: {exc.strerror}") from None


def _cover(libc: _Libc, target: str, source_fd: int | None, kept_fds: dict[str, int]) -> None:
    """Mount source_fd's directory (None: an empty tmpfs, read-only in the end) on target, and bind the
    kept paths beneath target back to where they were. A target that is not a directory is left alone."""
    if not os.path.isdir(target) or os.path.islink(target):
        return
    if source_fd is None:
        libc.call(f"covering {target}", "mount", b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                  b"mode=0755,size=1m")
    else:
        libc.call(f"binding the session's /tmp on {target}", "mount", _fd_path(source_fd), target.encode(), None,
                  MS_BIND | MS_REC, None)
    for path in _outermost([path for path in kept_fds if _beneath(path, target)]):
        fd = kept_fds[path]
        os.makedirs(path, mode=0o755, exist_ok=True)
        libc.call(f"binding {path} back under {target}", "mount", _fd_path(fd), path.encode(), None,
                  MS_BIND | MS_REC, None)
    if source_fd is None:
        libc.call(f"making the cover of {target} read-only", "mount", None, target.encode(), None,
                  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, b"mode=0755,size=1m")


def _fd_path(fd: int) -> bytes:
    return f"/proc/self/fd/{fd}".encode()


def _mount_read_only(libc: _Libc, path: str) -> None:
    real = path.encode()
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


class _Guard:
    """A path that must not be created or changed: made an empty placeholder directory if missing, and held
    with a shared flock while the command runs, so another launcher's cleanup leaves it alone."""

    def __init__(self, path: str) -> None:
        self.path = path
        parent, self.name = os.path.split(path)
        self.fd: int | None = None
        try:
            self.parent_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise SetupError(f"opening {parent} failed: {exc.strerror}") from None
        import fcntl

        self._fcntl = fcntl
        for _ in range(5):  # a concurrent cleanup may remove the placeholder between our steps: retry
            if self._take():
                return
        raise SetupError(f"could not hold the placeholder {path}")

    def _take(self) -> bool:
        try:
            os.mkdir(self.name, PLACEHOLDER_MODE, dir_fd=self.parent_fd)
            os.chmod(self.name, PLACEHOLDER_MODE, dir_fd=self.parent_fd, follow_symlinks=False)  # despite umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise SetupError(f"creating the placeholder {self.path} failed: {exc.strerror}") from None
        info = os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False)
        if info.st_mode & S_IFMT == S_IFLNK:
            raise SetupError(f"{self.path} is a symbolic link; replace it with the real directory or file")
        if info.st_mode & S_IFMT != S_IFDIR:
            return True  # a file (a worktree's .git): bound read-only, never removed
        try:
            fd = os.open(self.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.parent_fd)
        except FileNotFoundError:
            return False
        self._fcntl.flock(fd, self._fcntl.LOCK_SH)
        try:
            now = os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (os.fstat(fd).st_dev, os.fstat(fd).st_ino):
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        """Remove the placeholder if it is one (mode 0500, empty) and no other command holds it."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            info = os.fstat(fd)
            if info.st_mode & 0o7777 == PLACEHOLDER_MODE and not os.listdir(fd):
                self._fcntl.flock(fd, self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
                os.rmdir(self.name, dir_fd=self.parent_fd)
        except OSError:
            pass  # held by another command, or no longer empty: it stays
        finally:
            os.close(fd)


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
    kinds = "user + PID" + (" + network" if extra_flags & CLONE_NEWNET else "")
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



def _restrict_writes(libc: _Libc, abi: int, writable: list[str]) -> None:
    handled = write_rights(abi)
    # struct landlock_ruleset_attr: handled_access_fs, handled_access_net (ABI 4), scoped (ABI 6)
    attr = handled.to_bytes(8, sys.byteorder)
    if abi >= 6:
        attr += (0).to_bytes(8, sys.byteorder) + (SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET).to_bytes(8, sys.byteorder)
    ruleset = libc.call("landlock_create_ruleset", "syscall", SYS_LANDLOCK_CREATE_RULESET, attr, len(attr), 0)
    try:
        for root in writable:
            _grant(libc, ruleset, handled, os.path.normpath(root))
        for device in WRITABLE_DEVICES:
            _grant(libc, ruleset, handled & FILE_RIGHTS, device)
        libc.call("prctl(PR_SET_NO_NEW_PRIVS)", "prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        libc.call("landlock_restrict_self", "syscall", SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)


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


def _parse(args: list[str]) -> Options:
    options = Options()
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            options.command = args[index + 1:]
            if not options.command:
                break
            return options
        if (arg in PATH_OPTIONS or arg == "--tmp") and index + 1 < len(args):
            if arg == "--tmp":
                options.tmp = args[index + 1]
            else:
                getattr(options, PATH_OPTIONS[arg]).append(args[index + 1])
            index += 2
            continue
        if arg == "--network":
            options.network = True
        elif arg == "--unconfined":
            options.unconfined = True
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
    env, lifeline = None, None
    if len(args) == 4 and args[2] == "--lifeline" and args[3].isdigit():
        lifeline, args = int(args[3]), args[:2]
    if len(args) == 2 and args[0] == "--await" and args[1].isdigit():
        _warm_up()
        args, env = _await_command(int(args[1]))
    try:
        options = _parse(args)
    except ValueError as exc:
        _fail(str(exc), 2)
    try:
        (run_unconfined if options.unconfined else run)(options, env, lifeline)
    except SetupError as exc:
        _fail(f"could not confine the command, so it was not run: {exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
