"""Responses-API items ⇄ history `Message`s: the one conversion the Responses back end and the rollout files share.

One `Message` becomes items: a user message one `message` (`input_text`, then its images as `input_image`); an
assistant message its text `message` (`output_text`; left out when the text is empty and there are calls) and
then one `function_call` per tool call; a tool message one `function_call_output`::

    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "..."}]}
    {"type": "function_call", "call_id": "...", "name": "shell", "arguments": "<raw JSON text>"}
    {"type": "function_call_output", "call_id": "...", "output": "<tool output>"}

`message_to_items` is the stored form: it keeps an empty text message when it is all the message says, so a
history reads back as it was written. `to_input_items` is the request form (`input` of a Responses request),
which leaves empty text messages out. Reading (`add_item`, `items_to_messages`) groups `function_call`s into the
assistant message just before them, reads Codex's own item types too (`custom_tool_call`, `local_shell_call`, a
`developer` message, its string-command shell tools as calls of our `shell`), and names what it cannot carry
(`reasoning`, `web_search_call`, ...) instead of failing.

This module does not parse a streamed reply (agent.models.responses does, with its validation), does not read or
write files (agent.rollout does) and keeps no state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from agent.models.base import Message, ToolCall


def message_to_items(message: Message) -> list[dict[str, Any]]:
    """The items of one history message, in the stored form (a rollout's) and the sent form (a request's)."""
    if message.role == "tool":
        return [{"type": "function_call_output", "call_id": message.tool_call_id or "", "output": message.content}]
    items: list[dict[str, Any]] = []
    attached = message.images
    if message.role == "user" or message.content or attached or not message.tool_calls:
        part = "input_text" if message.role == "user" else "output_text"
        pictures = [{"type": "input_image", "image_url": url} for url in attached]
        items.append({"type": "message", "role": message.role,
                      "content": [{"type": part, "text": message.content}, *pictures]})
    items += [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments}
        for call in message.tool_calls
    ]
    return items


def to_input_items(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """The `input` of a Responses request: every message's items, images included, without empty text messages."""
    return [item for message in messages for item in message_to_items(message) if not _is_empty_message(item)]


def items_to_messages(items: Sequence[Any]) -> list[Message]:
    """History messages from Responses-API items; items of other types or roles are skipped."""
    history: list[Message] = []
    for item in items:
        add_item(history, item)
    return history


def add_item(history: list[Message], item: Any) -> str | None:
    """Add one Responses-API item to history; returns what was dropped (a name for a warning), else None."""
    if not isinstance(item, dict):
        return "non-object"
    kind = item.get("type")
    role = item.get("role")
    if kind == "message" and role in ("user", "assistant"):
        history.append(Message(role, content_text(item.get("content")), images=_images(item.get("content"))))
    elif kind == "message" and role == "developer":  # Codex's permissions text, developer_instructions
        history.append(Message("user", content_text(item.get("content"), "\n\n")))  # we have no developer role
    elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
        _add_call(history, _call_of(item))
    elif kind in ("function_call_output", "custom_tool_call_output"):
        history.append(Message("tool", content_text(item.get("output")), tool_call_id=str(item.get("call_id", ""))))
    else:
        return str(kind) if kind != "message" else f"{role} message"
    return None


def _is_empty_message(item: dict[str, Any]) -> bool:
    """A `message` item with one empty text part and nothing else (no image)."""
    return item["type"] == "message" and len(item["content"]) == 1 and not item["content"][0]["text"]


def _call_of(item: dict[str, Any]) -> ToolCall:
    """A tool call from a function_call, a freeform custom_tool_call (Codex's apply_patch: its `input` is the
    patch text) or a local_shell_call (its `action.command` is the argv)."""
    call_id = str(item.get("call_id") or item.get("id") or "")
    if item.get("type") == "custom_tool_call":
        return ToolCall(call_id, str(item.get("name", "")), json.dumps({"input": _as_text(item.get("input"))}))
    if item.get("type") == "local_shell_call":
        action = item.get("action") if isinstance(item.get("action"), dict) else {}
        args = {"command": action.get("command") or []}
        if action.get("working_directory"):
            args["workdir"] = action["working_directory"]
        return ToolCall(call_id, "shell", json.dumps(args))
    name, arguments = str(item.get("name", "")), _as_text(item.get("arguments"))
    return _as_shell_call(call_id, name, arguments) or ToolCall(call_id, name, arguments)


def _as_shell_call(call_id: str, name: str, arguments: str) -> ToolCall | None:
    """Codex's string-command shell tools (`exec_command {"cmd"}`, `shell_command {"command"}`) as a call of our
    `shell` tool, so the resumed model sees calls of a tool it has; None for anything else."""
    key = {"exec_command": "cmd", "shell_command": "command"}.get(name)
    try:
        args = json.loads(arguments) if key else None
    except json.JSONDecodeError:
        return None
    if not isinstance(args, dict) or not isinstance(args.get(key), str):
        return None
    shell_args: dict[str, Any] = {"command": ["bash", "-lc", args[key]]}
    if isinstance(args.get("workdir"), str):
        shell_args["workdir"] = args["workdir"]
    return ToolCall(call_id, "shell", json.dumps(shell_args))


def _add_call(history: list[Message], call: ToolCall) -> None:
    last = history[-1] if history else None
    if last is not None and last.role == "assistant":
        history[-1] = Message("assistant", last.content, (*last.tool_calls, call))
    else:
        history.append(Message("assistant", "", (call,)))


def content_text(content: Any, separator: str = "") -> str:
    """The text of an item's content: a string, a list of parts (their `text`s joined) or Codex's older form."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):  # an older Codex output form: {"content": "...", "success": true}
        return content_text(content.get("content"))
    if isinstance(content, list):
        return separator.join(part["text"] for part in content
                              if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def _images(content: Any) -> tuple[str, ...]:
    """The `image_url`s of a message's `input_image` parts (Codex writes `data:` URLs there)."""
    if not isinstance(content, list):
        return ()
    return tuple(part["image_url"] for part in content if isinstance(part, dict)
                 and part.get("type") == "input_image" and isinstance(part.get("image_url"), str))


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
