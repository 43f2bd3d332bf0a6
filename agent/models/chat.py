"""Chat Completions back end (`wire_api = "chat"`): Ollama, LM Studio, vLLM, llama.cpp server, LocalAI.

Streams with `stream_options.include_usage`, reassembles tool-call deltas by index, and,
as some servers drop tool calls when streaming, repeats a reply that streamed neither text
nor a call once without streaming.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.models.base import (
    Message,
    ModelRequest,
    ModelResponse,
    ReasoningChunk,
    StreamItem,
    TextChunk,
    ToolCall,
)
from agent.models.endpoint import EndpointClient, translated_errors
from agent.protocol import Usage


def to_chat_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.instructions}]
    messages.extend(_to_chat_message(m) for m in request.messages)
    return messages


def _to_chat_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    body: dict[str, Any] = {"role": message.role, "content": message.content}  # "" never null: some templates crash
    if message.tool_calls:
        body["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return body


def to_chat_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in request.tools
    ]


@dataclass
class _Accumulator:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)

    def add_tool_delta(self, delta: dict[str, Any]) -> None:
        slot = self.calls.setdefault(delta.get("index") or 0, {"id": "", "name": "", "arguments": ""})
        if delta.get("id"):
            slot["id"] = delta["id"]
        function = delta.get("function") or {}
        slot["name"] += function.get("name") or ""
        slot["arguments"] += function.get("arguments") or ""

    def response(self) -> ModelResponse:
        calls = tuple(
            ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"]) for i, c in sorted(self.calls.items())
        )
        return ModelResponse("".join(self.text), "".join(self.reasoning), calls, self.usage)


def usage_from_chat(usage: dict[str, Any] | None) -> Usage:
    if not usage:
        return Usage()
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(usage.get("prompt_tokens") or 0, cached, usage.get("completion_tokens") or 0)


class ChatClient(EndpointClient):
    wire_api = "chat"

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]:
        acc = _Accumulator()
        with translated_errors(self.provider, self.model):
            body = {**self._params(request), "stream_options": {"include_usage": True}}
            for chunk in self._events("/chat/completions", body):
                yield from self._absorb(chunk, acc)
            response = acc.response()
            if not response.text and not response.tool_calls:
                response = self._complete_once(request)
                if response.text:
                    yield TextChunk(response.text)
        yield response

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": to_chat_messages(request)}
        if request.tools:
            params["tools"] = to_chat_tools(request)
            params["tool_choice"] = request.tool_choice
        if request.max_output_tokens:
            params["max_tokens"] = request.max_output_tokens
        if request.output_schema is not None and not request.tools:  # with tools, servers would force JSON
            params["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "output", "schema": request.output_schema}}
        return params

    def _absorb(self, chunk: dict[str, Any], acc: _Accumulator) -> Iterator[StreamItem]:
        if chunk.get("usage"):
            acc.usage = usage_from_chat(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")  # vLLM, Ollama, LM Studio
            if reasoning:
                acc.reasoning.append(reasoning)
                yield ReasoningChunk(reasoning)
            if delta.get("content"):
                acc.text.append(delta["content"])
                yield TextChunk(delta["content"])
            for tool_delta in delta.get("tool_calls") or []:
                acc.add_tool_delta(tool_delta)

    def _complete_once(self, request: ModelRequest) -> ModelResponse:
        completion = self._post("/chat/completions", self._params(request))
        choices = completion.get("choices") or [{}]
        message = choices[0].get("message") or {}
        acc = _Accumulator(usage=usage_from_chat(completion.get("usage")))
        for index, call in enumerate(message.get("tool_calls") or []):
            acc.add_tool_delta({"index": index, **call})  # a whole call is one delta
        acc.text.append(message.get("content") or "")
        return acc.response()
