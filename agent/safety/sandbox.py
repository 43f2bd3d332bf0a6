"""Run commands under a sandbox policy the Linux kernel enforces: read-only, workspace-write or none.

- read-only: a command may read anything and write nothing but a few devices (/dev/null, /dev/zero,
  /dev/tty, ptys, ...); no network.
- workspace-write: writes only beneath the writable roots (the working root, --add-dir dirs,
  [sandbox_workspace_write].writable_roots, /tmp unless exclude_slash_tmp, $TMPDIR unless
  exclude_tmpdir_env_var), with each root's .git and .codex kept read-only; no network unless
  network_access = true.
- danger-full-access: no sandbox at all.

`wrap_command` returns the argv to run instead of the command: the launcher `sandbox_exec.py`, run by
this Python with -I -S, confines itself and then execs the command, so the command and everything it
starts inherit the confinement and no Python runs between fork and exec in the (threaded) agent.
How the launcher confines (user, network and mount namespaces, a read-only bind mount of .git, and a
Landlock ruleset for writes) is described in its docstring. When the kernel lacks something a policy
needs, `check_available` (and so `wrap_command`) raises `SandboxUnavailable` naming what is missing
and the fix; a sandboxed command never silently runs unconfined.

Limitations, all from what the kernel offers an unprivileged process:
- Landlock restricts writing, creating, removing, renaming and truncating, not metadata: chmod,
  chown (root only), utime and xattrs still work on files the user owns anywhere.
- Connecting to an existing Unix socket on the file system (a Docker or SSH agent socket) is not
  network in a network namespace and stays possible.
- There is no PID namespace: a command can see, and signal, the user's other processes.
- Without user namespaces (some distributions disable them), a policy without network is refused;
  one with network still runs, on Landlock alone: .git is carved out of the grant instead of mounted
  read-only, so new entries cannot be created directly in a writable root that holds a .git
  (subdirectories are fine), and a command run by root keeps root's capabilities.
- Bubblewrap is not used: the launcher does the same steps with nothing to install.

This module does not decide whether a command should be sandboxed or approved (see approval.py).
"""

from __future__ import annotations

import atexit
import functools
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.config import Config
from agent.errors import UserError
from agent.safety.sandbox_exec import landlock_abi

MODES = ("read-only", "workspace-write", "danger-full-access")
READ_ONLY_NAMES = (".git", ".codex")  # kept read-only inside every writable root
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
    """What a sandboxed command may do. Paths are absolute; writable_roots already include temp dirs."""

    mode: str  # read-only | workspace-write | danger-full-access
    writable_roots: tuple[Path, ...] = ()
    read_only_subpaths: tuple[Path, ...] = ()  # e.g. <root>/.git, <root>/.codex that exist
    network: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sandbox mode {self.mode!r} is not one of {', '.join(MODES)}")
        relative = [str(p) for p in (*self.writable_roots, *self.read_only_subpaths) if not Path(p).is_absolute()]
        if relative:
            raise ValueError(f"sandbox paths must be absolute: {', '.join(relative)}")

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] = os.environ) -> SandboxPolicy:
        """The policy for config.sandbox_mode; temp dirs come from /tmp and env's TMPDIR."""
        if config.sandbox_mode == "danger-full-access":
            return cls("danger-full-access", network=True)
        if config.sandbox_mode == "read-only":
            return cls("read-only")
        settings = config.sandbox_workspace_write
        roots = list(config.writable_roots())
        if not settings.exclude_slash_tmp:
            roots.append(Path("/tmp"))
        if not settings.exclude_tmpdir_env_var and env.get("TMPDIR"):
            roots.append(Path(env["TMPDIR"]))
        roots = list(dict.fromkeys(Path(os.path.realpath(root)) for root in roots))
        read_only = tuple(root / name for root in roots for name in READ_ONLY_NAMES if os.path.lexists(root / name))
        return cls("workspace-write", tuple(roots), read_only, network=settings.network_access)


@functools.cache
def namespace_error() -> str:
    """'' if this kernel lets us create user, network and mount namespaces; else the reason. Probed once."""
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
    if not policy.network and (reason := namespace_error()):
        allow = (
            "set sandbox_workspace_write.network_access = true, " if policy.mode == "workspace-write" else ""
        )
        raise SandboxUnavailable(
            f"sandbox_mode '{policy.mode}' cuts commands off the network with a user namespace, which this kernel "
            f"refuses ({reason}); allow user namespaces (sysctl user.max_user_namespaces, "
            f"kernel.unprivileged_userns_clone=1), {allow}or {UNCONFINED_FIX}"
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
    args: list[str] = []
    for root in policy.writable_roots:
        args += ["--write", str(root)]
    for path in policy.read_only_subpaths:
        args += ["--read-only", str(path)]
    if policy.network:
        args.append("--network")
        if namespace_error():
            args.append("--no-namespaces")
    return args


def describe(policy: SandboxPolicy) -> str:
    """One line for status displays, e.g. 'workspace-write: writes to /repo, /tmp (.git read-only); no network'."""
    if policy.mode == "danger-full-access":
        return "danger-full-access: no sandbox"
    network = "network" if policy.network else "no network"
    if policy.mode == "read-only":
        return f"read-only: no writes; {network}"
    roots = ", ".join(str(root) for root in policy.writable_roots) or "nothing"
    kept = sorted({path.name for path in policy.read_only_subpaths})
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


def launcher() -> list[str]:
    """The interpreter and the launcher script, to which the policy's arguments are appended."""
    return list(_compiled_launcher())


@functools.cache
def _compiled_launcher() -> tuple[str, ...]:
    """The interpreter and the launcher, as bytecode compiled once per process into a private directory:
    Python never caches bytecode for the script it starts, and compiling it costs ~5 ms per command."""
    python = sys.executable or "python3"
    try:
        cache = Path(tempfile.mkdtemp(prefix="codex-sandbox-"))  # 0700: nobody else can swap the bytecode
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        compiled = py_compile.compile(str(LAUNCHER), cfile=str(cache / "sandbox_exec.pyc"), doraise=True)
    except (OSError, py_compile.PyCompileError):
        return (python, "-I", "-S", str(LAUNCHER))
    return (python, "-I", "-S", compiled)
