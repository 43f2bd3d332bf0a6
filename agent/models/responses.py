"""Responses API back end (`wire_api = "responses"`): vLLM, recent Ollama and LM Studio, OpenAI.

History goes out as input items (messages, `function_call`, `function_call_output`), the
system prompt as `instructions`; nothing is stored server-side (`store=False`), so every
request carries the whole thread, exactly as with Chat Completions.

A streamed reply counts only once `response.completed` arrived; a stream that stops before is
`StreamEndedEarly`, an event that is not a JSON object or holds a known field of the wrong type is
`StreamUnreadable` (endpoint.py retries both). `response.failed`, `error` and `response.incomplete` are
the server's own verdict and fail the request, except an incomplete reply that stopped at the output cap
(`max_output_tokens`, which every request carries): that is the reply so far, marked `truncated`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.models.base import (
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
    arguments_text,
    json_object,
    mapping,
    token_count,
    translated_errors,
    typed,
)
from agent.models.response_items import to_input_items
from agent.protocol import Usage


def to_response_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters,
         "strict": False}
        for t in request.tools
    ]


def usage_from_responses(usage: Any) -> Usage:
    usage = mapping(usage)
    cached = token_count(mapping(usage.get("input_tokens_details")).get("cached_tokens"))
    reasoning = token_count(mapping(usage.get("output_tokens_details")).get("reasoning_tokens"))
    return Usage(token_count(usage.get("input_tokens")), cached, token_count(usage.get("output_tokens")), reasoning)


TEXT_DELTAS = ("response.output_text.delta",)
REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")


@dataclass
class _Reply:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    arguments: dict[str, list[str]] = field(default_factory=dict)  # item id -> streamed argument pieces

    def add_call(self, item: dict[str, Any], where: str) -> None:
        item_id = typed(item, "id", str, where) or ""
        streamed = "".join(self.arguments.pop(item_id, []))
        arguments = arguments_text(item.get("arguments"), where) or streamed or "{}"
        call_id = typed(item, "call_id", str, where) or item_id or f"call_{len(self.calls)}"
        self.calls.append(ToolCall(call_id, typed(item, "name", str, where) or "", arguments))

    def response(self, completed: dict[str, Any]) -> ModelResponse:
        if not self.calls:  # servers that list calls only in the final response object
            for n, item in enumerate(typed(completed, "output", list, "response") or []):
                if isinstance(item, dict) and item.get("type") == "function_call":
                    self.add_call(item, f"response.output[{n}]")
        usage = usage_from_responses(completed.get("usage"))
        return ModelResponse("".join(self.text), "".join(self.reasoning), tuple(self.calls), usage)


def read_responses_stream(events: Iterable[SseEvent | Waiting]) -> Generator[StreamItem, None, ModelResponse]:
    """Yield the chunks of a streamed response as they arrive; return the whole reply at `response.completed`,
    else raise StreamEndedEarly (or StreamReportedError for the server's own failure events)."""
    reply = _Reply()
    for event in events:
        if isinstance(event, Waiting):
            yield event
            continue
        if event.data.strip() == "[DONE]":
            break
        data = json_object(event.data)
        kind = typed(data, "type", str, "event") or event.event
        if kind in TEXT_DELTAS or kind in REASONING_DELTAS:
            delta = typed(data, "delta", str, kind) or ""
            if delta and kind in TEXT_DELTAS:
                reply.text.append(delta)
                yield TextChunk(delta)
            elif delta:
                reply.reasoning.append(delta)
                yield ReasoningChunk(delta)
        elif kind == "response.function_call_arguments.delta":
            item_id = typed(data, "item_id", str, kind) or ""
            reply.arguments.setdefault(item_id, []).append(typed(data, "delta", str, kind) or "")
        elif kind == "response.output_item.done":
            item = typed(data, "item", dict, kind) or {}
            if item.get("type") == "function_call":
                reply.add_call(item, f"{kind}.item")
        elif kind == "response.completed":
            return reply.response(typed(data, "response", dict, kind) or {})
        elif kind == "response.incomplete":
            incomplete = typed(data, "response", dict, kind) or {}
            details = mapping(incomplete.get("incomplete_details"))
            reason = details.get("reason") if isinstance(details.get("reason"), str) else "no reason given"
            if reason == "max_output_tokens":  # the output cap: the start of a reply, marked as such
                return replace(reply.response(incomplete), truncated=True)
            raise StreamReportedError(f"it stopped the reply early ({reason})")
        elif kind in ("response.failed", "error"):
            raise StreamReportedError(_error_text(data))
    raise StreamEndedEarly("the stream stopped before its response.completed event")


class ResponsesClient(EndpointClient):
    wire_api = "responses"

    def stream(self, request: ModelRequest) -> Generator[StreamItem, None, None]:
        with translated_errors(self.provider, self.model):
            body = self._params(request)
            response = yield from self._retrying(lambda: read_responses_stream(self._events("/responses", body)))
        yield self._checked(response, request)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "instructions": request.instructions,
            "input": to_input_items(request.messages),
            "store": False,
        }
        tools = request.tools if request.tool_choice != "none" else ()  # "none": a text answer, no tools offered
        if tools:
            params["tools"] = to_response_tools(request)
            params["tool_choice"] = request.tool_choice
        params["max_output_tokens"] = self.output_cap(request)
        if request.output_schema is not None and not tools:  # with tools, servers would force JSON
            params["text"] = {"format": {"type": "json_schema", "name": "output", "schema": request.output_schema,
                                         "strict": False}}
        return params | self._reasoning_params(params.get("text", {}))

    def _reasoning_params(self, text: dict[str, Any]) -> dict[str, Any]:
        """Codex's `reasoning: {effort, summary}` and `text.verbosity`, each only when configured."""
        config, params = self.config, {}
        reasoning = {key: value for key, value in (("effort", config.model_reasoning_effort),
                                                    ("summary", config.model_reasoning_summary)) if value}
        if reasoning:
            params["reasoning"] = reasoning
        if config.model_verbosity:
            params["text"] = {**text, "verbosity": config.model_verbosity}
        return params


def _error_text(event: dict[str, Any]) -> str:
    error = mapping(event.get("response")).get("error") or event.get("error") or {}
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        message = event.get("message")
    return message if isinstance(message, str) and message else "unknown error"
