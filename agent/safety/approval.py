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

It also holds what the user's answer means (`command_outcome`, `edit_outcome`, `retry_outcome`: approve once,
approve for the session and so remember it in `SessionApprovals`, deny, deny and stop the turn) and the
presets a front end offers for the two policies (`APPROVAL_PRESETS`). It does not ask (the tools call
`ToolContext.ask`, front ends answer), run anything or confine anything (agent.safety.sandbox).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.config import Config
from agent.protocol import ApprovalPolicy, Decision, SandboxMode

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
    """What the user approved "for the session": exact commands (argv tuples; MCP tools as
    `("mcp", server, tool)`) and files."""

    commands: set[tuple[str, ...]] = field(default_factory=set)
    paths: set[Path] = field(default_factory=set)

    def allows_command(self, argv: Sequence[str]) -> bool:
        return tuple(argv) in self.commands


def plan_command(config: Config, argv: Sequence[str], escalate: bool, known_safe: bool,
                 repository_programs: Sequence[str] = (), approvals: SessionApprovals | None = None) -> CommandPlan:
    """repository_programs: what the repository's git config would make a known-safe git command run;
    a command approved for the session (`approvals`) runs as the policy says without asking again."""
    plan = _plan_command(config, escalate, known_safe, repository_programs)
    if plan.ask and approvals is not None and approvals.allows_command(argv):
        return replace(plan, ask=False)
    return plan


def _plan_command(config: Config, escalate: bool, known_safe: bool, repository_programs: Sequence[str]) -> CommandPlan:
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


def plan_edit(config: Config, paths: Sequence[Path], approvals: SessionApprovals) -> EditPlan:
    """paths must already be resolved; a file approved for the session (`approvals`) needs no new approval."""
    approved = approvals.paths
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


# --- what the user's answer means -------------------------------------------------------

APPROVED: tuple[Decision, ...] = ("approve", "approve_session")


@dataclass(frozen=True)
class Outcome:
    """What a decision means for the request it answers: go ahead, or not (`declined` says why, for the item
    and the model); `stop_turn` is set when the turn stops too (the message of its TurnStopped)."""

    proceed: bool
    declined: str = ""
    stop_turn: str | None = None


PROCEED = Outcome(proceed=True)


def command_outcome(decision: Decision, argv: Sequence[str], reason: str, approvals: SessionApprovals) -> Outcome:
    """A command the policy asked about (`reason`: why it asked); `approve_session` remembers the exact argv."""
    if decision == "approve_session":
        approvals.commands.add(tuple(argv))
    if decision in APPROVED:
        return PROCEED
    return Outcome(False, f"this command needed approval and was not approved ({reason})",
                   "the user denied a command and stopped the turn" if decision == "abort" else None)


def retry_outcome(decision: Decision, argv: Sequence[str], approvals: SessionApprovals) -> Outcome:
    """The offer to run a command again without the sandbox after it failed in it (`on-failure`): any refusal,
    `abort` included, keeps the sandboxed result and the turn goes on."""
    if decision == "approve_session":
        approvals.commands.add(tuple(argv))
    return PROCEED if decision in APPROVED else Outcome(False, "the unsandboxed retry was not approved")


def edit_outcome(decision: Decision, paths: Sequence[Path], reason: str, approvals: SessionApprovals) -> Outcome:
    """An edit the policy asked about (`reason`: why it asked); `approve_session` remembers these files."""
    if decision == "approve_session":
        approvals.paths.update(paths)
    if decision in APPROVED:
        return PROCEED
    return Outcome(False, f"this edit needed approval and was not approved ({reason})",
                   "the user denied an edit and stopped the turn" if decision == "abort" else None)


def mcp_tool_outcome(decision: Decision, server: str, tool: str, approvals: SessionApprovals) -> Outcome:
    """A call to an MCP server's tool the policy asked about; `approve_session` remembers the tool."""
    if decision == "approve_session":
        approvals.commands.add(mcp_tool_key(server, tool))
    if decision in APPROVED:
        return PROCEED
    return Outcome(False, f"the user declined the call to {tool} of MCP server {server}",
                   "the user declined the MCP tool call and stopped the turn" if decision == "abort" else None)


def mcp_tool_key(server: str, tool: str) -> tuple[str, ...]:
    """How the session's approvals remember an MCP tool (beside commands' argvs, which never start with "mcp"
    followed by a server and tool name as a 3-tuple from the model)."""
    return ("mcp", server, tool)


# --- presets a front end offers (/approvals) --------------------------------------------


@dataclass(frozen=True)
class ApprovalPreset:
    """A named pair of policies, as the TUI's /approvals offers them."""

    label: str
    sandbox_mode: SandboxMode
    approval_policy: ApprovalPolicy
    description: str

    @property
    def slug(self) -> str:
        """The label as typed after /approvals: lower case, words joined by "-" ("full-access")."""
        return _slug(self.label)


APPROVAL_PRESETS: tuple[ApprovalPreset, ...] = (
    ApprovalPreset("Read Only", "read-only", "on-request",
                   "reads files and answers; asks before editing or running anything outside the sandbox"),
    ApprovalPreset("Auto", "workspace-write", "on-request",
                   "edits files in this workspace and runs commands in the sandbox; asks for anything else"),
    ApprovalPreset("Full Access", "danger-full-access", "never",
                   "edits any file and runs any command, without asking; use with care"),
)


def preset_named(name: str) -> ApprovalPreset | None:
    """The preset whose label is `name`, ignoring case and spaces versus "-" ("full access", "Full-Access");
    None when there is none (the labels are `[p.label for p in APPROVAL_PRESETS]`)."""
    return next((p for p in APPROVAL_PRESETS if p.slug == _slug(name)), None)


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


ASKS_FOR_UNANNOTATED_MCP_TOOLS: tuple[ApprovalPolicy, ...] = ("untrusted", "on-request")


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
    if config.approval_policy in ASKS_FOR_UNANNOTATED_MCP_TOOLS:
        return McpToolPlan(ask=True, reason=(
            f"the MCP tool {tool} of server {server} is not annotated read-only, and approval_policy is "
            f"'{config.approval_policy}'"))
    return McpToolPlan(ask=False)
