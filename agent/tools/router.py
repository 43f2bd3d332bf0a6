"""Dispatch a model's tool call to its tool, emit the items the user sees, and return the
text the model gets back.

Every failure a model can cause (unknown tool, invalid JSON, a bad patch, a refused
command) becomes a tool output starting with "error:" so the turn goes on and the model
can correct itself. Policy comes from agent.safety.approval; tools never decide it. The
handlers of shell and apply_patch live in command_tool.py and patch_tool.py; the tools of
the session's MCP servers (`ToolContext.mcp`) are run by agent/mcp/tool_call.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import Config
from agent.models.base import ToolCall, ToolSpec
from agent.protocol import (
    ApprovalRequested,
    Decision,
    ErrorItem,
    Event,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    TodoList,
    Warning,
)
from agent.safety.approval import SessionApprovals
from agent.tools import apply_patch, plan, shell


def _spec(raw: dict[str, Any]) -> ToolSpec:
    return ToolSpec(raw["name"], raw["description"], raw["parameters"])


TOOL_SPECS: tuple[ToolSpec, ...] = (
    _spec(shell.TOOL_SPEC),
    _spec(apply_patch.TOOL_SPEC),
    _spec(plan.TOOL_SPEC),
)
TOOL_NAMES = tuple(t.name for t in TOOL_SPECS)


def tool_specs(mcp: Any = None, warn: Callable[[str], None] | None = None) -> tuple[ToolSpec, ...]:
    """The built-in tools, then the MCP servers' tools (waiting for servers still starting); start-up failures
    not reported yet go to `warn` (None: keep them for a later call that has one)."""
    if mcp is None:
        return TOOL_SPECS
    return TOOL_SPECS + tuple(ToolSpec(t.qualified, t.description, dict(t.input_schema)) for t in mcp.tools(warn))


def tool_names(mcp: Any = None) -> tuple[str, ...]:
    return tuple(t.name for t in tool_specs(mcp)) if mcp is not None else TOOL_NAMES


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


def dispatch(call: ToolCall, ctx: ToolContext) -> str:
    try:
        args = _parse_arguments(call)
        handler = _handlers().get(call.name)
        if handler is None and ctx.mcp is not None and (tool := ctx.mcp.tool(call.name)) is not None:
            from agent.mcp.tool_call import run_mcp_tool

            return run_mcp_tool(tool, args, ctx)
        if handler is None:
            raise ToolError(f"unknown tool {call.name!r}; the tools are: {', '.join(tool_names(ctx.mcp))}")
        return handler(args, ctx)
    except ToolError as e:
        ctx.emit(ItemCompleted(ErrorItem(ctx.new_item_id(), f"{call.name}: {e}")))
        return f"error: {e}"


def _parse_arguments(call: ToolCall) -> dict[str, Any]:
    if call.name == "apply_patch" and call.arguments.lstrip().startswith("*** Begin Patch"):
        return {"input": call.arguments}  # freeform form: the raw patch text
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as e:
        raise ToolError(
            f"the arguments of {call.name} are not valid JSON ({e.msg} at position {e.pos}); "
            "send the call again with the arguments as one JSON object"
        ) from e
    if not isinstance(args, dict):
        raise ToolError(f"the arguments of {call.name} must be a JSON object, got {type(args).__name__}")
    return args


def run_update_plan(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        entries, explanation = plan.parse_plan(args)
    except plan.PlanError as e:
        raise ToolError(str(e)) from e
    if ctx.plan_item is None:
        ctx.plan_item = TodoList(ctx.new_item_id(), entries, explanation)
        ctx.emit(ItemStarted(ctx.plan_item))
    else:
        ctx.plan_item.items, ctx.plan_item.explanation = entries, explanation
        ctx.emit(ItemUpdated(ctx.plan_item))
    return "Plan updated"


def finish(ctx: ToolContext, item: Any, **updates: Any) -> None:
    """Set the item's final fields and emit its completion."""
    for name, value in updates.items():
        setattr(item, name, value)
    ctx.emit(ItemCompleted(item))


def warm_up(config: Config) -> None:
    """Let the tools prepare for a session that has just started (in the background; never raises)."""
    from agent.tools.command_tool import warm_up as warm_up_commands

    warm_up_commands(config)


def _handlers() -> dict[str, Callable[[dict[str, Any], ToolContext], str]]:
    from agent.tools.command_tool import run_shell
    from agent.tools.patch_tool import run_apply_patch

    return {"shell": run_shell, "apply_patch": run_apply_patch, "update_plan": run_update_plan}
