"""Responses API back end (`wire_api = "responses"`): vLLM, recent Ollama and LM Studio, OpenAI.

History goes out as input items (messages, `function_call`, `function_call_output`), the
system prompt as `instructions`; nothing is stored server-side (`store=False`), so every
request carries the whole thread, exactly as with Chat Completions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.models.base import (
    Message,
    ModelRequest,
    ModelRequestFailed,
    ModelResponse,
    ReasoningChunk,
    StreamItem,
    TextChunk,
    ToolCall,
)
from agent.models.endpoint import EndpointClient, translated_errors
from agent.protocol import Usage


def to_input_items(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id, "output": message.content})
            continue
        if message.content:
            kind = "input_text" if message.role == "user" else "output_text"
            items.append({"type": "message", "role": message.role,
                          "content": [{"type": kind, "text": message.content}]})
        items.extend(
            {"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments}
            for c in message.tool_calls
        )
    return items


def to_response_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters,
         "strict": False}
        for t in request.tools
    ]


def usage_from_responses(usage: dict[str, Any] | None) -> Usage:
    if not usage:
        return Usage()
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(usage.get("input_tokens") or 0, cached, usage.get("output_tokens") or 0, reasoning)


class ResponsesClient(EndpointClient):
    wire_api = "responses"

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]:
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        with translated_errors(self.provider, self.model):
            for event in self._events("/responses", self._params(request)):
                kind = event.get("type")
                delta = event.get("delta") or ""
                if kind == "response.output_text.delta":
                    text.append(delta)
                    yield TextChunk(delta)
                elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                    reasoning.append(delta)
                    yield ReasoningChunk(delta)
                elif kind == "response.output_item.done" and (item := event.get("item") or {}).get("type") == \
                        "function_call":
                    calls.append(ToolCall(item.get("call_id") or item.get("id") or f"call_{len(calls)}",
                                          item.get("name") or "", item.get("arguments") or "{}"))
                elif kind == "response.completed":
                    usage = usage_from_responses((event.get("response") or {}).get("usage"))
                elif kind in ("response.failed", "error"):
                    raise ModelRequestFailed(f"{self.provider.name} at {self.provider.base_url} failed the request: "
                                            f"{_error_text(event)}")
        yield ModelResponse("".join(text), "".join(reasoning), tuple(calls), usage)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "instructions": request.instructions,
            "input": to_input_items(request.messages),
            "store": False,
        }
        if request.tools:
            params["tools"] = to_response_tools(request)
            params["tool_choice"] = request.tool_choice
        if request.max_output_tokens:
            params["max_output_tokens"] = request.max_output_tokens
        if request.output_schema is not None and not request.tools:  # with tools, servers would force JSON
            params["text"] = {"format": {"type": "json_schema", "name": "output", "schema": request.output_schema,
                                         "strict": False}}
        return params


def _error_text(event: dict[str, Any]) -> str:
    error = (event.get("response") or {}).get("error") or event.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else None
    return message or event.get("message") or "unknown error"
