"""The contract every tool is written against: the `Tool` record, the `ToolContext` a call may use, `ToolError`
for a failure the model should read, `finish` to complete an item and `settle` to act on a user's answer.

Tools import this module; the registry (agent.tools.registry) imports the tools. Nothing here runs a tool,
decides policy (agent.safety.approval) or knows which tools exist.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import Config
from agent.errors import TurnStopped
from agent.models.base import ToolSpec
from agent.protocol import ApprovalRequested, Decision, Event, ItemCompleted, TodoList, Warning
from agent.safety.approval import Outcome, SessionApprovals

Ask = Callable[[ApprovalRequested], Decision]
BeforeEdit = Callable[[Sequence[Path]], None]


@dataclass
class ToolContext:
    """What a tool call may use: the config, the event sink, the turn's cancel flag, the way to ask
    the user (`ask` blocks until a front end decides), and the hook that snapshots before edits."""

    config: Config
    emit: Callable[[Event], None]
    new_item_id: Callable[[], str]
    cancel: threading.Event
    ask: Ask
    approvals: SessionApprovals = field(default_factory=SessionApprovals)
    before_edit: BeforeEdit | None = None
    plan_item: TodoList | None = None
    mcp: Any = None  # agent.mcp.connections.McpConnections, when MCP servers are configured
    audit: Any = None  # agent.audit.AuditLog, for records the events do not carry (MCP calls)

    def warn(self, message: str) -> None:
        self.emit(Warning(message))

    @property
    def cwd(self) -> Path:
        return self.config.cwd


class ToolError(Exception):
    """A failure to report to the model as the tool's output."""


Handler = Callable[[dict[str, Any], ToolContext], str]


@dataclass(frozen=True)
class Tool:
    """One built-in tool: what the model is told (`spec`), what runs a call (`run`: the parsed arguments and the
    context in, the text the model gets back out), what prepares it as a session starts (`warm_up`, in the
    background, never raising), and the raw argument text it accepts besides a JSON object (`freeform`: the
    arguments it stands for, or None when the text is not of that form)."""

    spec: ToolSpec
    run: Handler
    warm_up: Callable[[Config], None] | None = None
    freeform: Callable[[str], dict[str, Any] | None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def finish(ctx: ToolContext, item: Any, **updates: Any) -> None:
    """Set the item's final fields and emit its completion."""
    for name, value in updates.items():
        setattr(item, name, value)
    ctx.emit(ItemCompleted(item))


def settle(ctx: ToolContext, item: Any, outcome: Outcome, why_field: str) -> str | None:
    """Act on the answer to an approval request (agent.safety.approval's outcome): None when it may go ahead;
    else the item completes as declined (its `why_field` holding the reason), the turn stops if the user chose
    that (TurnStopped), and the reason is returned for the tool's output."""
    if outcome.proceed:
        return None
    finish(ctx, item, status="declined", **{why_field: outcome.declined})
    if outcome.stop_turn:
        raise TurnStopped(outcome.stop_turn)
    return outcome.declined
