"""Recover tool calls that local models print as text instead of native `tool_calls`.

Recognised, in this order: `<tool_call>…</tool_call>` tags (Qwen, Hermes), fenced
```json blocks, and a bare JSON object. An object counts as a call only when it names a
declared tool (`{"name": …, "arguments"|"parameters"|"args": …}`, optionally wrapped in
`{"function": …}`); anything else is ordinary text. A tag whose body is not valid JSON
still yields a call (name "unknown" unless one can be read), so the session can send the
parse error back to the model instead of silently treating it as a final answer.

Hand-written: no library parses these ad-hoc conventions; json.JSONDecoder.raw_decode
does the real parsing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from agent.models.base import ToolCall

TAG_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
FENCE_RE = re.compile(r"```(?:json|tool_call|tool)?\s*\n(.*?)```", re.DOTALL)
NAME_RE = re.compile(r'"name"\s*:\s*"([^"]+)"')


def recover_tool_calls(text: str, tool_names: Collection[str]) -> list[ToolCall]:
    """Tool calls written in `text`, or [] when the text is an ordinary answer."""
    tagged = TAG_RE.findall(text)
    if tagged:
        return [_from_tag_body(body, tool_names) for body in tagged]
    for block in FENCE_RE.findall(text):
        calls = _objects_as_calls(block, tool_names)
        if calls:
            return calls
    return _objects_as_calls(text, tool_names)


def _from_tag_body(body: str, tool_names: Collection[str]) -> ToolCall:
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        match = NAME_RE.search(body)
        return ToolCall(_new_id(), match.group(1) if match else "unknown", body)
    call = _as_call(obj, tool_names, tagged=True)
    return call or ToolCall(_new_id(), str(obj.get("name", "unknown")) if isinstance(obj, dict) else "unknown", body)


def _objects_as_calls(text: str, tool_names: Collection[str]) -> list[ToolCall]:
    calls = []
    for obj in _json_values(text):
        items = obj if isinstance(obj, list) else [obj]
        calls.extend(call for item in items if (call := _as_call(item, tool_names)))
    return calls


def _json_values(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    values, index = [], 0
    while (start := _next_open(text, index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        values.append(value)
        index = end
    return values


def _next_open(text: str, index: int) -> int:
    positions = [p for p in (text.find("{", index), text.find("[", index)) if p != -1]
    return min(positions, default=-1)


ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")


def _as_call(obj: Any, tool_names: Collection[str], tagged: bool = False) -> ToolCall | None:
    """A call when `obj` names a declared tool and (outside tags, to spare ordinary JSON) carries arguments."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    has_arguments = any(k in obj for k in ARGUMENT_KEYS)
    if name not in tool_names or not (has_arguments or tagged):
        return None
    arguments = next((obj[k] for k in ARGUMENT_KEYS if k in obj), {})
    if name == "apply_patch" and isinstance(arguments, str) and "*** Begin Patch" in arguments:
        arguments = {"input": arguments}
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(_new_id(), name, raw)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"
