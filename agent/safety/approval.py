"""Whether a command or an edit may go ahead, sandboxed or not, and when to ask the user.

This is the one place that decides (tools ask it; front ends only display the question):

| policy       | command                                                | edit inside roots | edit outside |
|--------------|--------------------------------------------------------|-------------------|--------------|
| untrusted    | known-safe runs, everything else asks                  | asks              | asks         |
| on-failure   | runs sandboxed; a sandbox-looking failure asks to retry unsandboxed | applies | asks      |
| on-request   | runs sandboxed; `with_escalated_permissions` asks      | applies           | asks         |
| never        | runs sandboxed, never asks                             | applies           | refused      |

`danger-full-access` runs everything unsandboxed and treats every path as writable. Roots are
the working directory, `--add-dir`s and `[sandbox_workspace_write].writable_roots` (none at all
under `read-only`); `.git` and `.codex` inside a root are never writable without asking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import Config

PROTECTED_DIRS = (".git", ".codex")

# Output that suggests the sandbox, not the command, caused a failure (on-failure asks to retry).
SANDBOX_DENIAL_MARKERS = (
    "permission denied",
    "operation not permitted",
    "read-only file system",
    "network is unreachable",
    "temporary failure in name resolution",
    "could not resolve host",
    "name or service not known",
    "connection refused",
)


HIDDEN_IN_THE_SANDBOX = ("/tmp/", "/run/", "/var/run/")


@dataclass(frozen=True)
class CommandPlan:
    """How to treat one command: ask first or not, and whether it runs in the sandbox."""

    ask: bool
    sandboxed: bool
    reason: str = ""


@dataclass(frozen=True)
class EditPlan:
    ask: bool
    refused: str | None = None
    reason: str = ""


@dataclass
class SessionApprovals:
    """What the user approved "for the session": exact commands and files."""

    commands: set[tuple[str, ...]] = field(default_factory=set)
    paths: set[Path] = field(default_factory=set)


def plan_command(config: Config, argv: Sequence[str], escalate: bool, known_safe: bool,
                 repository_programs: Sequence[str] = ()) -> CommandPlan:
    """repository_programs: what the repository's git config would make a known-safe git command run."""
    if config.sandbox_mode == "danger-full-access":
        return CommandPlan(ask=False, sandboxed=False)
    policy = config.approval_policy
    if policy == "untrusted" and repository_programs:
        return CommandPlan(ask=True, sandboxed=True,
                           reason=f"the repository's git config makes git run {', '.join(repository_programs)}")
    if policy == "untrusted" and not known_safe:
        return CommandPlan(ask=True, sandboxed=True, reason="this command is not on the known-safe list")
    if policy == "on-request" and escalate:
        return CommandPlan(ask=True, sandboxed=False, reason="the model asks to run this outside the sandbox")
    return CommandPlan(ask=False, sandboxed=True)


def should_offer_unsandboxed_retry(config: Config, exit_code: int, output: str) -> bool:
    if config.approval_policy != "on-failure" or config.sandbox_mode == "danger-full-access" or exit_code == 0:
        return False
    lowered = output.lower()
    if "no such file or directory" in lowered and any(place in output for place in HIDDEN_IN_THE_SANDBOX):
        return True  # the real /tmp and /run are not visible inside the sandbox
    return any(marker in lowered for marker in SANDBOX_DENIAL_MARKERS)


def writable_roots(config: Config) -> tuple[Path, ...]:
    if config.sandbox_mode == "read-only":
        return ()
    if config.sandbox_mode == "danger-full-access":
        return (Path("/"),)
    return config.writable_roots()


def is_writable(path: Path, roots: Iterable[Path]) -> bool:
    """Inside a writable root and not inside its .git / .codex (path must already be resolved)."""
    for root in roots:
        if path.is_relative_to(root):
            inner = path.relative_to(root).parts
            return root == Path("/") or not (inner and inner[0] in PROTECTED_DIRS)
    return False


def plan_edit(config: Config, paths: Sequence[Path], approved: set[Path]) -> EditPlan:
    roots = writable_roots(config)
    outside = [p for p in paths if not is_writable(p, roots)]
    pending = [p for p in outside if p not in approved]
    policy = config.approval_policy
    if policy == "untrusted":
        unapproved = [p for p in paths if p not in approved]
        return EditPlan(ask=bool(unapproved), reason="approval policy 'untrusted' asks before every edit")
    if not pending:
        return EditPlan(ask=False)
    names = ", ".join(str(p) for p in pending)
    if policy == "never":
        return EditPlan(ask=False, refused=f"{names} is outside the writable roots and approval_policy is 'never'")
    return EditPlan(ask=True, reason=f"{names} is outside the writable roots ({_describe(roots)})")


def _describe(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots) or "none: the sandbox is read-only"


@dataclass(frozen=True)
class McpToolPlan:
    """Whether a call to an MCP tool asks first. MCP tools run outside our sandbox (in the server's process),
    so only a tool its server annotates read-only (`readOnlyHint`) is treated like a known-safe command."""

    ask: bool
    reason: str = ""


def plan_mcp_tool_call(config: Config, server: str, tool: str, read_only: bool, approved: bool) -> McpToolPlan:
    """read_only: the server's `readOnlyHint`; approved: the user approved this tool for the session.

    | policy                 | read-only tool | any other tool |
    |------------------------|----------------|----------------|
    | untrusted, on-request  | runs           | asks           |
    | on-failure, never      | runs           | runs           |

    `danger-full-access` runs every tool without asking, as it runs every command. Front ends that cannot ask
    (`codex exec`) deny what asks."""
    if read_only or approved or config.sandbox_mode == "danger-full-access":
        return McpToolPlan(ask=False)
    if config.approval_policy in ("untrusted", "on-request"):
        return McpToolPlan(ask=True, reason=(
            f"the MCP tool {tool} of server {server} is not annotated read-only, and approval_policy is "
            f"'{config.approval_policy}'"))
    return McpToolPlan(ask=False)
