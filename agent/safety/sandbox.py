"""Run commands under a sandbox policy the Linux kernel enforces: read-only, workspace-write or none.

- read-only: a command may read the system and write nothing but a few devices (/dev/null, ptys, ...) and the
  session's private /tmp (a scratch directory of its own, removed at exit: test runners and compilers need one).
- workspace-write: writes only beneath the writable roots (the working root, --add-dir dirs,
  [sandbox_workspace_write].writable_roots, $TMPDIR unless exclude_tmpdir_env_var) and in /tmp, which is
  the session's own directory (unless exclude_slash_tmp), with each workspace root's .git and .codex kept
  read-only whether or not they exist yet; no network unless network_access = true.
- danger-full-access: no sandbox at all.

In both sandboxed modes a command runs in its own user, PID, mount and (without network) network
namespaces, built by the launcher `sandbox_exec.py` (its docstring has the steps): it sees only its own
processes, which all die with it and with the agent; /tmp is the session's private directory; CODEX_HOME
(config, sessions, audit, history) is an empty read-only directory; without network /run and
$XDG_RUNTIME_DIR are hidden too (no docker, dbus or ssh-agent socket); the agent's own code, its
interpreter and the launcher are read-only wherever they are. So nothing a sandboxed command can write is
later run or trusted by the agent or by the next launcher (docs/sandbox.md).

`wrap_command` returns the argv to run instead of the command: the launcher, run by this Python with -I -S,
confines itself and runs the command. When the kernel lacks something a policy needs (Landlock, user,
PID, mount or network namespaces, a /proc or devpts of its own), `check_available` (and so
`wrap_command`) raises `SandboxUnavailable` naming what is missing and the fix; a sandboxed command never
runs weaker than its policy says. `codex sandbox --check` prints what this machine supports.

Limitations, from what the kernel offers an unprivileged process:
- Landlock restricts writing, creating, removing, renaming and truncating, not metadata: chmod, chown
  (root only), utime and xattrs still work on files the user owns anywhere it can see.
- With network_access = true, /run and abstract sockets of the host stay reachable (the network is).
- A command runs as the same user, so it may read what the user may read outside the hidden paths.

This module does not decide whether a command should be sandboxed or approved (see approval.py).
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import marshal
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.config import Config
from agent.errors import UserError
from agent.protocol import SANDBOX_MODES
from agent.safety.sandbox_exec import landlock_abi

GUARDED_NAMES = (".git", ".codex")  # kept read-only inside every workspace root, created empty if missing
LAUNCHER = Path(__file__).with_name("sandbox_exec.py")
UNCONFINED_FIX = "run with -s danger-full-access to run commands unconfined"

__all__ = [
    "SandboxPolicy", "SandboxUnavailable", "check_available", "describe", "landlock_abi", "namespace_error",
    "run_sandbox_command", "wrap_command",
]


class SandboxUnavailable(UserError):
    """This kernel cannot enforce the sandbox policy; the message names what is missing and the fix."""


@dataclass(frozen=True)
class SandboxPolicy:
    """What a sandboxed command may do and see. Paths are absolute and resolved.

    read_only_subpaths are bind-mounted read-only (the agent's own files and a worktree's git dir beneath a
    writable root, the agent's shell snapshots: `keeping_read_only`);
    guarded_paths are kept read-only and may not be created (.git, .codex of each workspace root);
    private_paths are hidden (CODEX_HOME); hidden_paths are hidden unless a writable root is at or above
    them (/run without network); private_tmp is the command's /tmp (None: an empty read-only /tmp).
    """

    mode: str  # read-only | workspace-write | danger-full-access
    writable_roots: tuple[Path, ...] = ()
    read_only_subpaths: tuple[Path, ...] = ()
    guarded_paths: tuple[Path, ...] = ()
    private_paths: tuple[Path, ...] = ()
    hidden_paths: tuple[Path, ...] = ()
    private_tmp: Path | None = None
    network: bool = False
    visible_paths: tuple[Path, ...] = ()  # kept visible (not writable) where a cover would hide them

    def __post_init__(self) -> None:
        if self.mode not in SANDBOX_MODES:
            raise ValueError(f"sandbox mode {self.mode!r} is not one of {', '.join(SANDBOX_MODES)}")
        paths = (*self.writable_roots, *self.read_only_subpaths, *self.guarded_paths, *self.private_paths,
                 *self.hidden_paths, *((self.private_tmp,) if self.private_tmp else ()))
        relative = [str(p) for p in paths if not Path(p).is_absolute()]
        if relative:
            raise ValueError(f"sandbox paths must be absolute: {', '.join(relative)}")

    def keeping_read_only(self, path: Path) -> SandboxPolicy:
        """This policy with path (a directory only the agent writes, e.g. its shell snapshots) visible to
        commands and bind-mounted read-only, even beneath a writable root or the session's /tmp."""
        if self.mode == "danger-full-access":
            return self
        path = _real(path)
        return dataclasses.replace(self, visible_paths=tuple(dict.fromkeys([*self.visible_paths, path])),
                                   read_only_subpaths=tuple(dict.fromkeys([*self.read_only_subpaths, path])))

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] = os.environ) -> SandboxPolicy:
        """The policy for config.sandbox_mode; $TMPDIR and $XDG_RUNTIME_DIR come from env."""
        if config.sandbox_mode == "danger-full-access":
            return cls("danger-full-access", network=True)
        home = _real(config.codex_home)
        private = (home,) if os.path.isdir(home) else ()
        visible = _visible_dirs(env)
        if config.sandbox_mode == "read-only":
            # A private scratch /tmp (removed at exit) so test runners, compilers and `sort` work; the user's
            # files stay unwritable. Codex's read-only has no writable /tmp at all.
            return cls("read-only", private_paths=private, hidden_paths=_socket_dirs(env), visible_paths=visible,
                       private_tmp=session_tmp())
        settings = config.sandbox_workspace_write
        workspace = [_real(root) for root in config.writable_roots()]
        roots = list(workspace)
        tmpdir = _real(Path(env["TMPDIR"])) if env.get("TMPDIR") and not settings.exclude_tmpdir_env_var else None
        if tmpdir is not None and tmpdir != Path("/tmp"):
            roots.append(tmpdir)
        roots = list(dict.fromkeys(roots))
        private_tmp = None
        if not settings.exclude_slash_tmp or tmpdir == Path("/tmp"):
            private_tmp = session_tmp()
        guarded = [root / name for root in workspace for name in GUARDED_NAMES]
        if not private:  # a CODEX_HOME that does not exist yet may not be made by a command either
            guarded += [home] if any(home.is_relative_to(root) for root in roots) else []
        extra = [root / name for root in roots[len(workspace):] for name in GUARDED_NAMES
                 if os.path.lexists(root / name)]
        read_only = [path for path in (*_agent_files(), *_git_dirs(guarded))
                     if any(path.is_relative_to(root) for root in roots)]
        return cls("workspace-write", tuple(roots), tuple(dict.fromkeys([*extra, *read_only])),
                   tuple(dict.fromkeys(guarded)), private, () if settings.network_access else _socket_dirs(env),
                   private_tmp, settings.network_access, visible)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _visible_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Directories commands look up although no writable root holds them: where the agent was started, and
    pyenv's PYENV_DIR (its shims `cd` there; a pyenv Python in a sandbox whose /tmp hid it printed errors)."""
    dirs = [Path.cwd(), *([Path(env["PYENV_DIR"])] if env.get("PYENV_DIR", "").startswith("/") else [])]
    return tuple(dict.fromkeys(_real(path) for path in dirs if path.is_dir()))


def _socket_dirs(env: Mapping[str, str]) -> tuple[Path, ...]:
    """Where the system's and the user's unix sockets live (docker, dbus, ssh-agent, ...)."""
    dirs = [_real(Path("/run"))]
    if env.get("XDG_RUNTIME_DIR", "").startswith("/"):
        dirs.append(_real(Path(env["XDG_RUNTIME_DIR"])))
    return tuple(dict.fromkeys(dirs))


def _git_dirs(guarded: Sequence[Path]) -> list[Path]:
    """The git directories that `.git` files (worktrees, submodules) among guarded point to."""
    found = []
    for path in guarded:
        if path.name != ".git" or not path.is_file() or path.is_symlink():
            continue
        try:
            line = path.read_text(errors="replace").splitlines()[0]
        except (OSError, IndexError):
            continue
        if line.startswith("gitdir:"):
            found.append(_real(path.parent / line.removeprefix("gitdir:").strip()))
    return found


@functools.cache
def _agent_files() -> tuple[Path, ...]:
    """What the agent and its launchers run or import: kept read-only if a writable root holds them."""
    paths = [Path(__file__).resolve().parents[1], Path(launcher()[0]).parent]
    paths += [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}]
    return tuple(dict.fromkeys(_real(path) for path in paths))


@functools.cache
def session_tmp() -> Path:
    """This process's private /tmp for sandboxed commands (mode 0700), removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix="codex-tmp-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return _real(path)


@functools.cache
def namespace_error() -> str:
    """'' if this kernel lets the launcher build its namespaces and view; else the reason. Probed once."""
    if not sys.platform.startswith("linux"):
        return "namespaces are Linux-only"
    try:
        result = subprocess.run(
            [*launcher(), "--probe"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the namespace probe did not run: {exc}"
    if result.returncode == 0:
        return ""
    return (result.stdout.strip() or result.stderr.strip() or f"the probe exited {result.returncode}").splitlines()[-1]


def check_available(policy: SandboxPolicy) -> None:
    """Raise SandboxUnavailable if this kernel cannot enforce policy."""
    if policy.mode == "danger-full-access":
        return
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(
            f"sandbox_mode '{policy.mode}' needs Linux (Landlock), and this is {sys.platform}; {UNCONFINED_FIX}"
        )
    if landlock_abi() < 1:
        raise SandboxUnavailable(
            f"sandbox_mode '{policy.mode}' needs Landlock, which this kernel does not offer (it needs Linux 5.13+ "
            f"with landlock in the lsm= boot parameter); {UNCONFINED_FIX}"
        )
    if reason := namespace_error():
        raise SandboxUnavailable(
            f"sandbox_mode '{policy.mode}' runs commands in their own user, PID, mount and network namespaces, "
            f"which this kernel refuses ({reason}); allow unprivileged user namespaces "
            f"(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, and on Ubuntu "
            f"kernel.apparmor_restrict_unprivileged_userns=0), or {UNCONFINED_FIX}"
        )


def wrap_command(argv: Sequence[str], policy: SandboxPolicy) -> list[str]:
    """The argv to run instead of argv: the launcher, the policy and argv; argv itself for danger-full-access.

    Raises SandboxUnavailable (before anything runs) if the kernel cannot enforce the policy.
    """
    if not argv:
        raise ValueError("wrap_command needs a command")
    if policy.mode == "danger-full-access":
        return list(argv)
    check_available(policy)
    return [*launcher(), *policy_args(policy), "--", *argv]


def policy_args(policy: SandboxPolicy) -> list[str]:
    """The launcher's options for policy (what comes before `--` and the command)."""
    if policy.mode == "danger-full-access":
        return ["--unconfined"]
    args: list[str] = []
    for option, paths in (("--write", policy.writable_roots), ("--read-only", policy.read_only_subpaths),
                          ("--guard", policy.guarded_paths), ("--private", policy.private_paths),
                          ("--hide", policy.hidden_paths), ("--keep", policy.visible_paths)):
        for path in paths:
            args += [option, str(path)]
    if policy.private_tmp is not None:
        args += ["--tmp", str(policy.private_tmp)]
    if policy.network:
        args.append("--network")
    return args


def describe(policy: SandboxPolicy) -> str:
    """One line for status displays, e.g. 'workspace-write: writes to /repo, /tmp (.git read-only); no network'."""
    if policy.mode == "danger-full-access":
        return "danger-full-access: no sandbox"
    network = "network" if policy.network else "no network"
    if policy.mode == "read-only":
        return f"read-only: no writes{' but a private /tmp' if policy.private_tmp else ''}; {network}"
    roots = ", ".join([*(str(root) for root in policy.writable_roots), *(["/tmp"] if policy.private_tmp else [])])
    roots = roots or "nothing"
    kept = sorted({path.name for path in policy.guarded_paths if path.name in GUARDED_NAMES})
    kept_text = f" ({', '.join(kept)} read-only)" if kept else ""
    return f"workspace-write: writes to {roots}{kept_text}; {network}"


def run_sandbox_command(config: Config, argv: Sequence[str]) -> int:
    """`codex sandbox [-s MODE] [--add-dir D] -- CMD...`: run CMD in the foreground under config's policy.

    stdio is inherited; returns CMD's exit status (128+N when a signal N ended it).
    """
    if not argv:
        raise UserError("codex sandbox needs a command to run after --, e.g. codex sandbox -- ls -la")
    wrapped = wrap_command(argv, SandboxPolicy.from_config(config))
    try:
        process = subprocess.Popen(wrapped, cwd=config.cwd)
    except FileNotFoundError:  # only for danger-full-access; the launcher reports it otherwise
        raise UserError(f"{argv[0]}: command not found; check its spelling or PATH") from None
    while True:
        try:
            status = process.wait()
            break
        except KeyboardInterrupt:  # the command got the Ctrl-C too; let it decide when to exit
            continue
    return 128 - status if status < 0 else status


def capabilities_report() -> tuple[str, bool]:
    """`codex sandbox --check`: what this machine supports, one line each, and whether the sandbox works."""
    abi = landlock_abi()
    landlock = f"Landlock ABI {abi}" if abi else "no Landlock"
    extras = []
    if abi >= 3:
        extras.append("truncation")
    if abi >= 6:
        extras.append("signals and abstract sockets scoped to the sandbox")
    namespaces = namespace_error()
    lines = [
        f"kernel: {os.uname().sysname} {os.uname().release} ({os.uname().machine})",
        f"landlock: {landlock}" + (f" (also restricts {', '.join(extras)})" if extras else ""),
        "namespaces (user, PID, mount, network; /proc, devpts and tmpfs of their own): "
        + ("ok" if not namespaces else f"refused: {namespaces}"),
    ]
    works = abi >= 1 and not namespaces
    for mode in ("read-only", "workspace-write"):
        try:
            check_available(SandboxPolicy(mode))
            lines.append(f"{mode}: enforced")
        except SandboxUnavailable as exc:
            lines.append(f"{mode}: refused: {exc}")
    lines.append("danger-full-access: no sandbox (commands' processes still end with them)")
    return "\n".join(lines), works


def launcher() -> list[str]:
    """The interpreter and the launcher, to which the policy's arguments are appended."""
    return list(_launcher_argv())


@functools.cache
def _launcher_argv() -> tuple[str, ...]:
    """The interpreter (its real file, not a venv's symlink) and the launcher's code itself, compiled once per
    process and passed in the argv as compressed, marshalled bytecode (40 KB of hex): no file that a
    sandboxed command (of this session or another) could rewrite is ever loaded, and the launcher skips
    compiling its ~600 lines (unpacking costs it 1 ms). Building it costs the agent ~20 ms once, off the
    first command's path when the session warms the launchers up (tools.shell_tool.warm_up). The
    interpreter is among the agent's files kept read-only where a writable root holds them."""
    python = os.path.realpath(sys.executable) if sys.executable else "python3"
    code = compile(LAUNCHER.read_bytes(), str(LAUNCHER), "exec", dont_inherit=True, optimize=2)
    packed = zlib.compress(marshal.dumps(code), 6).hex()
    stub = f"import marshal,zlib;exec(marshal.loads(zlib.decompress(bytes.fromhex('{packed}'))))"
    return (python, "-I", "-S", "-c", stub)
