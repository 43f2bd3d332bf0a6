"""Chat Completions back end (`wire_api = "chat"`): Ollama, LM Studio, vLLM, llama.cpp server, LocalAI.

Streams with `stream_options.include_usage`, reassembles tool-call deltas by index, and,
as some servers drop tool calls when streaming, repeats a reply that streamed neither text
nor a call once without streaming. A server that cannot stream when tools are offered
(llama_cpp.server's `chatml-function-calling` answers such a request with an empty stream; others
with an error naming streaming) is remembered for the session: from then on those requests go out
unstreamed at once, so no step costs two requests. Every request carries `max_tokens`, and a reply
that stopped there (`finish_reason: "length"`) is marked `truncated`.

A streamed reply counts only when a choice carried a `finish_reason` and the stream then said
`data: [DONE]`; a stream that stops before is `StreamEndedEarly`, and a chunk that is not a JSON
object or holds a known field of the wrong type is `StreamUnreadable` (endpoint.py retries both).
Text and arguments are kept as lists of pieces and joined once, so accumulation is linear.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.config import Config
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
    StreamingRefused,
    StreamReportedError,
    StreamUnreadable,
    arguments_text,
    error_text,
    json_object,
    mapping,
    sse_events,
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
        return ModelResponse("".join(self.text), "".join(self.reasoning), calls, self.usage,
                             truncated=self.finish_reason == "length")


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
        raise StreamReportedError(reported_error_text(chunk["error"]))
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
        raise StreamReportedError(reported_error_text(completion["error"]))
    choices = typed(completion, "choices", list, "completion") or [{}]
    if not isinstance(choices[0], dict):
        raise StreamUnreadable(f"choices[0] is {type(choices[0]).__name__}, not object")
    acc.finish_reason = typed(choices[0], "finish_reason", str, "choices[0]")
    message = typed(choices[0], "message", dict, "choices[0]") or {}
    calls = typed(message, "tool_calls", list, "choices[0].message") or []
    message = {**message, "tool_calls": [{"index": i, **c} if isinstance(c, dict) else c for i, c in enumerate(calls)]}
    for _ in _absorb_delta(message, acc, "choices[0].message"):
        pass
    return acc.response()


def reported_error_text(error: Any) -> str:
    """The message of an `error` a server put in its reply (an object with `message`, or the text itself)."""
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) and message else "unknown error"


class ChatClient(EndpointClient):
    wire_api = "chat"

    def __init__(self, config: Config, model: str):
        super().__init__(config, model)
        self.streams_with_tools = True  # False once the server showed it cannot (for the rest of the session)

    def stream(self, request: ModelRequest) -> Generator[StreamItem, None, None]:
        with translated_errors(self.provider, self.model):
            response = yield from self._reply(request)
        yield self._checked(response, request)

    def _reply(self, request: ModelRequest) -> Generator[StreamItem, None, ModelResponse]:
        offers_tools = bool(self._offered_tools(request))
        if offers_tools and not self.streams_with_tools:
            return (yield from self._unstreamed(request))
        body = {**self._params(request), "stream_options": {"include_usage": True}}
        try:
            response = yield from self._retrying(lambda: self._streamed(body, offers_tools))
        except StreamingRefused as refusal:
            response = yield from self._unstreamed(request)
            return self._stop_streaming_tools(response, refusal.detail)
        if response.text or response.tool_calls:
            return response
        retried = yield from self._unstreamed(request)  # some servers drop calls (or everything) when streaming
        if offers_tools and (retried.text or retried.tool_calls):
            return self._stop_streaming_tools(retried, "its streamed reply was empty, the unstreamed one was not")
        return retried

    def _streamed(self, body: dict[str, Any], offers_tools: bool) -> Generator[StreamItem, None, ModelResponse]:
        """One streamed attempt; with tools offered, a failure that says "no streaming with tools" is a
        StreamingRefused rather than a transport failure to retry as is."""
        import openai

        body_bytes = _Counted(self._body("/chat/completions", {**body, "stream": True}))
        try:
            return (yield from read_chat_stream(sse_events(body_bytes)))
        except StreamEndedEarly as e:
            if offers_tools and body_bytes.size == 0:  # llama_cpp.server: 200, then an empty body
                raise StreamingRefused("its streamed reply was empty") from e
            raise
        except (StreamReportedError, openai.APIStatusError) as e:
            text = error_text(e) if isinstance(e, openai.APIStatusError) else str(e)
            if offers_tools and "stream" in text.lower() and "tool" in text.lower():
                raise StreamingRefused(f"it answered: {text[:160]}") from e
            raise

    def _unstreamed(self, request: ModelRequest) -> Generator[StreamItem, None, ModelResponse]:
        response = yield from self._retrying(lambda: self._complete_once(request))
        if response.text:
            yield TextChunk(response.text)
        return response

    def _stop_streaming_tools(self, response: ModelResponse, detail: str) -> ModelResponse:
        self.streams_with_tools = False
        return self._warn_once("stream with tools", response, (
            f"{self.provider.name} at {self.provider.base_url} cannot stream replies when tools are offered "
            f"({detail}), so for the rest of this session such requests are sent without streaming."))

    def _offered_tools(self, request: ModelRequest) -> tuple[Any, ...]:
        return request.tools if request.tool_choice != "none" else ()  # "none": a text answer, no tools offered

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": to_chat_messages(request)}
        tools = self._offered_tools(request)
        if tools:
            params["tools"] = to_chat_tools(request)
            params["tool_choice"] = request.tool_choice
        params["max_tokens"] = self.output_cap(request)
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


class _Counted:
    """Body bytes as they arrive, counting them."""

    def __init__(self, chunks: Iterable[bytes | Waiting]):
        self._chunks, self.size = chunks, 0

    def __iter__(self) -> Iterator[bytes | Waiting]:
        for chunk in self._chunks:
            if not isinstance(chunk, Waiting):
                self.size += len(chunk)
            yield chunk
