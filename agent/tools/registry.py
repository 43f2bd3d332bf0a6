"""Which tools exist and how a model's call reaches one: the built-in `Tool` records, then the session's MCP
tools; `dispatch` parses a call's arguments, runs its tool and returns the text the model gets back, cut to
`tool_output_token_limit`.

Every failure a model can cause (unknown tool, invalid JSON, a bad patch, a refused command) becomes a tool
output starting with "error:" (and an error item) so the turn goes on and the model can correct itself; only
a decision that stops the turn (TurnStopped) leaves `dispatch` as an exception. The tools are declared beside
their code (agent/tools/*_tool.py) against agent.tools.context; this module imports them, never the other
way round. MCP tools are run by agent.mcp.tool_call. Policy is agent.safety.approval's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agent.config import Config
from agent.models.base import ToolCall, ToolSpec
from agent.protocol import ErrorItem, ItemCompleted
from agent.tools.apply_patch_tool import APPLY_PATCH
from agent.tools.context import Tool, ToolContext, ToolError
from agent.tools.plan_tool import UPDATE_PLAN
from agent.tools.shell_tool import SHELL
from agent.tools.truncation import truncate_to_tokens

BUILTIN_TOOLS: tuple[Tool, ...] = (SHELL, APPLY_PATCH, UPDATE_PLAN)
TOOL_SPECS: tuple[ToolSpec, ...] = tuple(tool.spec for tool in BUILTIN_TOOLS)
TOOL_NAMES: tuple[str, ...] = tuple(tool.name for tool in BUILTIN_TOOLS)
_BY_NAME: dict[str, Tool] = {tool.name: tool for tool in BUILTIN_TOOLS}


def tool_specs(mcp: Any = None, warn: Callable[[str], None] | None = None) -> tuple[ToolSpec, ...]:
    """The built-in tools, then the MCP servers' tools (waiting for servers still starting); start-up failures
    not reported yet go to `warn` (None: keep them for a later call that has one)."""
    if mcp is None:
        return TOOL_SPECS
    return TOOL_SPECS + tuple(ToolSpec(t.qualified, t.description, dict(t.input_schema)) for t in mcp.tools(warn))


def tool_names(mcp: Any = None) -> tuple[str, ...]:
    return tuple(t.name for t in tool_specs(mcp)) if mcp is not None else TOOL_NAMES


def dispatch(call: ToolCall, ctx: ToolContext) -> str:
    """Run one call; the output, already cut to `tool_output_token_limit` (about 4 bytes a token, as Codex
    counts). Raises TurnStopped when the user's decision stops the turn."""
    return truncate_to_tokens(_dispatch(call, ctx), ctx.config.tool_output_token_limit)


def _dispatch(call: ToolCall, ctx: ToolContext) -> str:
    tool = _BY_NAME.get(call.name)
    try:
        args = _parse_arguments(call, tool)
        if tool is None and ctx.mcp is not None and (mcp_tool := ctx.mcp.tool(call.name)) is not None:
            from agent.mcp.tool_call import run_mcp_tool  # imports the MCP layer only for a session that has it

            return run_mcp_tool(mcp_tool, args, ctx)
        if tool is None:
            raise ToolError(f"unknown tool {call.name!r}; the tools are: {', '.join(tool_names(ctx.mcp))}")
        return tool.run(args, ctx)
    except ToolError as e:
        ctx.emit(ItemCompleted(ErrorItem(ctx.new_item_id(), f"{call.name}: {e}")))
        return f"error: {e}"


def _parse_arguments(call: ToolCall, tool: Tool | None) -> dict[str, Any]:
    if tool is not None and tool.freeform is not None and (args := tool.freeform(call.arguments)) is not None:
        return args
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


def warm_up(config: Config) -> None:
    """Let the tools prepare for a session that has just started (in the background; never raises)."""
    for tool in BUILTIN_TOOLS:
        if tool.warm_up is not None:
            tool.warm_up(config)
