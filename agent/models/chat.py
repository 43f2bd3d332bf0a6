"""Chat Completions back end (`wire_api = "chat"`): Ollama, LM Studio, vLLM, llama.cpp server, LocalAI.

Streams with `stream_options.include_usage`, reassembles tool-call deltas by index, and,
as some servers drop tool calls when streaming, repeats a reply that streamed neither text
nor a call once without streaming.

A streamed reply counts only when a choice carried a `finish_reason` and the stream then said
`data: [DONE]`; a stream that stops before is `StreamEndedEarly`, and a chunk that is not a JSON
object or holds a known field of the wrong type is `StreamUnreadable` (endpoint.py retries both).
Text and arguments are kept as lists of pieces and joined once, so accumulation is linear.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
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
    Waiting,
)
from agent.models.endpoint import (
    EndpointClient,
    SseEvent,
    StreamEndedEarly,
    StreamReportedError,
    StreamUnreadable,
    arguments_text,
    json_object,
    mapping,
    token_count,
    translated_errors,
    typed,
)
from agent.protocol import Usage


def to_chat_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.instructions}]
    messages.extend(_to_chat_message(m) for m in request.messages)
    return messages


def _to_chat_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    body: dict[str, Any] = {"role": message.role, "content": message.content}  # "" never null: some templates crash
    if message.images:
        body["content"] = [{"type": "text", "text": message.content},
                           *({"type": "image_url", "image_url": {"url": url}} for url in message.images)]
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
class _CallParts:
    call_id: str = ""
    name: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Accumulator:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _CallParts] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None

    def add_tool_delta(self, delta: Any, where: str) -> None:
        if not isinstance(delta, dict):
            raise StreamUnreadable(f"{where} is {type(delta).__name__}, not object")
        index = typed(delta, "index", int, where) or 0
        slot = self.calls.setdefault(index, _CallParts())
        slot.call_id = typed(delta, "id", str, where) or slot.call_id
        function = typed(delta, "function", dict, where) or {}
        slot.name.append(typed(function, "name", str, f"{where}.function") or "")
        slot.arguments.append(arguments_text(function.get("arguments"), f"{where}.function"))

    def response(self) -> ModelResponse:
        calls = tuple(
            ToolCall(c.call_id or f"call_{i}", "".join(c.name), "".join(c.arguments))
            for i, c in sorted(self.calls.items())
        )
        return ModelResponse("".join(self.text), "".join(self.reasoning), calls, self.usage)


def usage_from_chat(usage: Any) -> Usage:
    usage = mapping(usage)
    cached = token_count(mapping(usage.get("prompt_tokens_details")).get("cached_tokens"))
    return Usage(token_count(usage.get("prompt_tokens")), cached, token_count(usage.get("completion_tokens")))


def read_chat_stream(events: Iterable[SseEvent | Waiting]) -> Generator[StreamItem, None, ModelResponse]:
    """Yield the chunks of a streamed chat completion as they arrive; return the whole reply once the stream
    has ended as the protocol says (a finish_reason, then [DONE]), else raise StreamEndedEarly."""
    acc = _Accumulator()
    for event in events:
        if isinstance(event, Waiting):
            yield event
            continue
        if event.data.strip() == "[DONE]":
            if acc.finish_reason is None:
                raise StreamEndedEarly("[DONE] came before any choice's finish_reason")
            return acc.response()
        yield from _absorb(json_object(event.data), acc)
    missing = "its finish_reason and [DONE]" if acc.finish_reason is None else "[DONE]"
    raise StreamEndedEarly(f"the stream stopped before {missing}")


def _absorb(chunk: dict[str, Any], acc: _Accumulator) -> Generator[StreamItem, None, None]:
    if chunk.get("error"):
        raise StreamReportedError(_error_text(chunk["error"]))
    if chunk.get("usage") is not None:
        acc.usage = usage_from_chat(chunk["usage"])
    for n, choice in enumerate(typed(chunk, "choices", list, "chunk") or []):
        where = f"choices[{n}]"
        if not isinstance(choice, dict):
            raise StreamUnreadable(f"{where} is {type(choice).__name__}, not object")
        delta = typed(choice, "delta", dict, where) or {}
        yield from _absorb_delta(delta, acc, f"{where}.delta")
        acc.finish_reason = typed(choice, "finish_reason", str, where) or acc.finish_reason


def _absorb_delta(delta: dict[str, Any], acc: _Accumulator, where: str) -> Generator[StreamItem, None, None]:
    # reasoning_content: vLLM, llama.cpp; reasoning: Ollama, LM Studio
    reasoning = typed(delta, "reasoning_content", str, where) or typed(delta, "reasoning", str, where)
    if reasoning:
        acc.reasoning.append(reasoning)
        yield ReasoningChunk(reasoning)
    content = typed(delta, "content", str, where)
    if content:
        acc.text.append(content)
        yield TextChunk(content)
    for n, tool_delta in enumerate(typed(delta, "tool_calls", list, where) or []):
        acc.add_tool_delta(tool_delta, f"{where}.tool_calls[{n}]")


def read_chat_completion(completion: dict[str, Any]) -> ModelResponse:
    """The reply in a non-streamed chat completion (a whole call is one delta)."""
    acc = _Accumulator(usage=usage_from_chat(completion.get("usage")))
    if completion.get("error"):
        raise StreamReportedError(_error_text(completion["error"]))
    choices = typed(completion, "choices", list, "completion") or [{}]
    if not isinstance(choices[0], dict):
        raise StreamUnreadable(f"choices[0] is {type(choices[0]).__name__}, not object")
    message = typed(choices[0], "message", dict, "choices[0]") or {}
    calls = typed(message, "tool_calls", list, "choices[0].message") or []
    message = {**message, "tool_calls": [{"index": i, **c} if isinstance(c, dict) else c for i, c in enumerate(calls)]}
    for _ in _absorb_delta(message, acc, "choices[0].message"):
        pass
    return acc.response()


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) and message else "unknown error"


class ChatClient(EndpointClient):
    wire_api = "chat"

    def stream(self, request: ModelRequest) -> Generator[StreamItem, None, None]:
        with translated_errors(self.provider, self.model):
            body = {**self._params(request), "stream_options": {"include_usage": True}}
            response = yield from self._retrying(lambda: read_chat_stream(self._events("/chat/completions", body)))
            if not response.text and not response.tool_calls:
                response = yield from self._retrying(lambda: self._complete_once(request))
                if response.text:
                    yield TextChunk(response.text)
        yield response

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": to_chat_messages(request)}
        tools = request.tools if request.tool_choice != "none" else ()  # "none": a text answer, no tools offered
        if tools:
            params["tools"] = to_chat_tools(request)
            params["tool_choice"] = request.tool_choice
        if request.max_output_tokens:
            params["max_tokens"] = request.max_output_tokens
        if request.output_schema is not None and not tools:  # with tools, servers would force JSON
            params["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": "output", "schema": request.output_schema}}
        if self.config.model_reasoning_effort:  # gpt-oss on vLLM, Ollama and llama.cpp honours it
            params["reasoning_effort"] = self.config.model_reasoning_effort
        if self.config.model_verbosity:  # OpenAI's Chat Completions takes it top-level; others ignore it
            params["verbosity"] = self.config.model_verbosity
        return params

    def _complete_once(self, request: ModelRequest) -> Generator[StreamItem, None, ModelResponse]:
        completion = yield from self._post("/chat/completions", self._params(request))
        return read_chat_completion(completion)
