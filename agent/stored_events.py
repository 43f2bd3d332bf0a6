"""A rollout's stored events, typed again: what a front end needs to redraw a resumed thread's transcript.

A rollout keeps each event in its `exec --json` form, plus the user's prompts as Codex writes them
(`{"type": "user_message", "message": ...}`; see agent/rollout.py). `events_from_rollout` turns the list
`load_rollout(path).events` holds back into `agent.protocol` events: prompts become `UserPrompt`,
`item.completed` lines `ItemCompleted` with their item, `turn.failed` lines `TurnFailed`. That is all a
transcript shows of a finished turn; the other stored lines (thread and turn starts, usage, warnings) are
left out, and so is anything malformed (a file written by another version must not stop a resume).

Pure data: no I/O, no Textual, no rendering decisions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

from agent.protocol import (
    AgentMessage,
    CommandExecution,
    ErrorItem,
    Event,
    FileChangeItem,
    Item,
    ItemCompleted,
    McpToolCall,
    McpToolCallError,
    McpToolCallResult,
    PathChange,
    Reasoning,
    TodoEntry,
    TodoList,
    TurnFailed,
    TurnFailureReason,
    UserPrompt,
)

# How the session words an interrupt; stored `turn.failed` lines carry no reason, so older files are read by it.
INTERRUPT_MESSAGE = "interrupted by the user"


def events_from_rollout(stored: list[dict[str, Any]]) -> list[Event]:
    """The typed events of a rollout's stored event payloads, in order; lines a transcript does not show are
    skipped."""
    events: list[Any] = []
    for payload in stored:
        if (event := _event(payload)) is not None:
            events.append(event)
    return events


def _event(payload: Any) -> Any:
    if not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if kind == "user_message" and isinstance(payload.get("message"), str):
        return UserPrompt(payload["message"])
    if kind == "item.completed" and isinstance(payload.get("item"), dict):
        item = item_from_json(payload["item"])
        return ItemCompleted(item) if item is not None else None
    if kind == "turn.failed":
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        message = error.get("message") if isinstance(error.get("message"), str) else "the turn failed"
        return TurnFailed(message, reason=_failure_reason(payload, message))
    return None


def _failure_reason(payload: dict[str, Any], message: str) -> TurnFailureReason:
    reason = payload.get("reason")
    if reason in get_args(TurnFailureReason):
        return reason
    return "interrupted" if INTERRUPT_MESSAGE in message else "error"


def item_from_json(data: dict[str, Any]) -> Item | None:
    """An item from its `exec --json` form (`protocol.item_to_json`); None when it is not one we know."""
    kind = data.get("type")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        if kind == "agent_message":
            return AgentMessage(fields["id"], fields.get("text", ""))
        if kind == "reasoning":
            return Reasoning(fields["id"], fields.get("text", ""))
        if kind == "command_execution":
            names = {f.name for f in dataclasses.fields(CommandExecution)} - {"type"}
            return CommandExecution(**{k: v for k, v in fields.items() if k in names})
        if kind == "file_change":
            changes = [PathChange(c["path"], c["kind"]) for c in fields.get("changes", [])]
            status = "declined" if fields.get("declined") else fields.get("status", "completed")
            return FileChangeItem(fields["id"], changes, status, fields.get("error"))
        if kind == "todo_list":
            entries = [TodoEntry(e["text"], bool(e["completed"])) for e in fields.get("items", [])]
            return TodoList(fields["id"], entries)
        if kind == "error":
            return ErrorItem(fields["id"], fields.get("message", ""))
        if kind == "mcp_tool_call":
            return _mcp_item(fields)
    except (KeyError, TypeError):
        return None
    return None


def _mcp_item(fields: dict[str, Any]) -> McpToolCall:
    result, error = fields.get("result"), fields.get("error")
    return McpToolCall(fields["id"], fields["server"], fields["tool"], fields.get("arguments"),
                       McpToolCallResult(result.get("content", []), result.get("structured_content"))
                       if isinstance(result, dict) else None,
                       McpToolCallError(str(error.get("message", ""))) if isinstance(error, dict) else None,
                       fields.get("status", "completed"), fields.get("duration_ms"))
