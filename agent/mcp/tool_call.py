"""One model call to an MCP tool: ask if the approval policy says so, call the server, emit the `mcp_tool_call`
item (started, then completed or failed, as Codex's `exec --json` shows it), write the audit record, and return
the text the model gets back.

What the model gets: the text blocks of the result joined (other blocks summarised in one line each), or the
structured content as JSON when there is no text; "error: …" when the call failed, was declined or the tool
reported an error; at most `MAX_OUTPUT_CHARS`, cut in the middle like command output. The item keeps the whole
result. The approval decision itself is agent.safety.approval.plan_mcp_tool_call.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from agent.errors import TurnStopped
from agent.protocol import ApprovalRequested, ItemCompleted, ItemStarted, McpToolCall, McpToolCallError
from agent.safety.approval import mcp_tool_key, mcp_tool_outcome, plan_mcp_tool_call
from agent.tools.truncation import truncate_middle

if TYPE_CHECKING:
    from agent.mcp.connections import CallOutcome, McpTool
    from agent.tools.context import ToolContext

MAX_OUTPUT_CHARS = 32 * 1024
AUDIT_KIND = "mcp_tool_call"


def run_mcp_tool(tool: McpTool, args: dict[str, Any], ctx: ToolContext) -> str:
    item = McpToolCall(ctx.new_item_id(), tool.server, tool.name, arguments=args)
    ctx.emit(ItemStarted(item))
    started = time.monotonic()
    current = ctx.mcp.current(tool, ctx.cancel)  # a tool offered from the cached list: as its server lists it now
    if isinstance(current, str):
        text = _finish(ctx, item, started, error=current)
        _audit(ctx, tool, args, "failed")
        return text
    tool = current
    try:
        declined = _declined(tool, args, item.id, ctx)
    except TurnStopped as e:  # declined, and the turn stops: the item still ends
        _finish(ctx, item, started, error=str(e))
        _audit(ctx, tool, args, "declined")
        raise
    if declined:
        outcome_text = _finish(ctx, item, started, error=declined)
        _audit(ctx, tool, args, "declined")
        return outcome_text
    outcome = ctx.mcp.call(tool, args, ctx.cancel)
    ctx.mcp.report(ctx.warn)  # a server that stopped during the call says so once, now
    if outcome.result is None:
        text = _finish(ctx, item, started, error=outcome.error or "no result")
        _audit(ctx, tool, args, "failed")
        return text
    item.result = outcome.result
    _finish(ctx, item, started, failed=outcome.is_error)
    _audit(ctx, tool, args, "tool_error" if outcome.is_error else "completed")
    text = result_text(outcome)
    return f"error: {text}" if outcome.is_error else text


def _declined(tool: McpTool, args: dict[str, Any], item_id: str, ctx: ToolContext) -> str | None:
    """Why the call may not run (None: it may); raises TurnStopped when the user stopped the turn."""
    approved = mcp_tool_key(tool.server, tool.name) in ctx.approvals.commands
    plan = plan_mcp_tool_call(ctx.config, tool.server, tool.name, tool.read_only, approved)
    if not plan.ask:
        return None
    shown = json.dumps(args, ensure_ascii=False)
    request = ApprovalRequested(item_id, "command", plan.reason,
                                command=f"MCP {tool.server}.{tool.name} {shown}", cwd=str(ctx.cwd))
    outcome = mcp_tool_outcome(ctx.ask(request), tool.server, tool.name, ctx.approvals)
    if outcome.stop_turn:
        raise TurnStopped(outcome.stop_turn)
    return None if outcome.proceed else outcome.declined


def _finish(ctx: ToolContext, item: McpToolCall, started: float, error: str | None = None,
            failed: bool = False) -> str:
    item.duration_ms = int((time.monotonic() - started) * 1000)
    if error is not None:
        item.error, item.status = McpToolCallError(error), "failed"
    else:
        item.status = "failed" if failed else "completed"
    ctx.emit(ItemCompleted(item))
    return f"error: {error}" if error is not None else ""


def result_text(outcome: CallOutcome) -> str:
    result = outcome.result
    if result is None:
        return ""
    parts = [_block_text(block) for block in result.content]
    text = "\n".join(p for p in parts if p)
    if not any(isinstance(b, dict) and b.get("type") == "text" for b in result.content) and \
            result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    return truncate_middle(text, max_bytes=MAX_OUTPUT_CHARS) if len(text) > MAX_OUTPUT_CHARS else text


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return str(block)
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        return f"[{kind} {block.get('mimeType', '')}, {len(str(block.get('data', '')))} base64 characters]"
    if kind == "resource_link":
        return f"[resource {block.get('uri', '')}]"
    if kind == "resource":
        resource = block.get("resource") or {}
        return str(resource.get("text") or f"[resource {resource.get('uri', '')}]")
    return json.dumps(block, ensure_ascii=False)


def _audit(ctx: ToolContext, tool: McpTool, args: dict[str, Any], outcome: str) -> None:
    if ctx.audit is None:
        return
    encoded = json.dumps(args, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ctx.audit.append(AUDIT_KIND, {"server": tool.server, "tool": tool.name,
                                  "arguments_sha256": hashlib.sha256(encoded).hexdigest(), "outcome": outcome})
