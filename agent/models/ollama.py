"""Ollama's native chat API (`POST /api/chat`), the back end of the built-in `ollama` provider unless its
`wire_api` is set in config.

Why not Ollama's OpenAI-compatible endpoint: it cannot set the context size, so Ollama runs the model with its
default `num_ctx` (2048 in its docs) and silently cuts every longer prompt. Here every request carries the same
`options.num_ctx`: `model_context_window` from config, else the Modelfile's own `num_ctx`, else the model's
trained length (from `/api/show`) capped at DEFAULT_NUM_CTX. It is constant for the session because a different
num_ctx makes Ollama reload the model. `options.num_predict` is the output cap, as `max_tokens` elsewhere.

The wire format (ollama/ollama docs/api.md): a stream of JSON objects, one per line, each with a `message`
(`content`, `thinking`, whole `tool_calls` whose `function.arguments` is an object), the last with
`"done": true`, `done_reason` ("stop", "length"), `prompt_eval_count` and `eval_count`; an `{"error": ...}`
line reports a failure after the stream started. A stream that stops before `done` is StreamEndedEarly and a
line that is not a JSON object (or a field of the wrong type) StreamUnreadable, retried like the other back ends.
Tool results go back as `{"role": "tool", "content", "tool_name"}`; images as bare base64.

Not here: transport, retries and error sentences (endpoint.py), reading the window (server_info.py).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.config import Config
from agent.errors import UserError
from agent.models.base import (
    ModelRequest,
    ModelRequestFailed,
    ModelResponse,
    ReasoningChunk,
    StreamItem,
    TextChunk,
    ToolCall,
    Waiting,
)
from agent.models.chat import reported_error_text, to_chat_tools
from agent.models.endpoint import (
    CONNECT_TIMEOUT,
    EndpointClient,
    StreamEndedEarly,
    StreamReportedError,
    StreamUnreadable,
    arguments_text,
    body_lines,
    error_text,
    json_object,
    token_count,
    translated_errors,
    typed,
)
from agent.models.server_info import ServerInfo, ollama_show, server_root
from agent.protocol import Usage

DEFAULT_NUM_CTX = 8192  # the cap on a model's trained length: larger windows cost memory most machines lack
THINK_LEVELS = ("low", "medium", "high")


def to_ollama_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.instructions}]
    names: dict[str, str] = {}  # call id -> tool name, for the tool message that answers it
    for message in request.messages:
        if message.role == "tool":
            messages.append({"role": "tool", "content": message.content,
                             "tool_name": names.get(message.tool_call_id or "", "")})
            continue
        body: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.images:
            body["images"] = [url.partition(",")[2] if url.startswith("data:") else url for url in message.images]
        if message.tool_calls:
            body["tool_calls"] = [{"function": {"name": c.name, "arguments": _arguments_object(c.arguments)}}
                                  for c in message.tool_calls]
            names.update((c.call_id, c.name) for c in message.tool_calls)
        messages.append(body)
    return messages


def _arguments_object(arguments: str) -> dict[str, Any]:
    """Ollama takes arguments as an object; text that is not one (the model's own mistake) goes as {}."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class _Reply:
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)

    def add_call(self, call: Any, where: str) -> None:
        if not isinstance(call, dict):
            raise StreamUnreadable(f"{where} is {type(call).__name__}, not object")
        function = typed(call, "function", dict, where) or {}
        call_id = typed(call, "id", str, where) or f"call_{len(self.calls)}"
        name = typed(function, "name", str, f"{where}.function") or ""
        self.calls.append(ToolCall(call_id, name, arguments_text(function.get("arguments"), f"{where}.function")))

    def response(self, final: dict[str, Any]) -> ModelResponse:
        usage = Usage(token_count(final.get("prompt_eval_count")), token_count(final.get("prompt_eval_cached_count")),
                      token_count(final.get("eval_count")))
        nanoseconds = token_count(final.get("eval_duration"))
        return ModelResponse("".join(self.text), "".join(self.thinking), tuple(self.calls), usage,
                             generation_seconds=nanoseconds / 1e9 if nanoseconds else None,
                             truncated=final.get("done_reason") == "length")


def read_ollama_stream(lines: Iterable[str | Waiting]) -> Generator[StreamItem, None, ModelResponse]:
    """Yield the chunks of a streamed /api/chat reply; return the whole reply at its `"done": true` object,
    else raise StreamEndedEarly (or StreamReportedError for an error line)."""
    reply = _Reply()
    for line in lines:
        if isinstance(line, Waiting):
            yield line
            continue
        if not line.strip():
            continue
        chunk = json_object(line, "a line of the stream")
        if chunk.get("error"):
            raise StreamReportedError(reported_error_text(chunk["error"]))
        message = typed(chunk, "message", dict, "line") or {}
        thinking = typed(message, "thinking", str, "message")
        if thinking:
            reply.thinking.append(thinking)
            yield ReasoningChunk(thinking)
        content = typed(message, "content", str, "message")
        if content:
            reply.text.append(content)
            yield TextChunk(content)
        for n, call in enumerate(typed(message, "tool_calls", list, "message") or []):
            reply.add_call(call, f"message.tool_calls[{n}]")
        if typed(chunk, "done", bool, "line"):
            return reply.response(chunk)
    raise StreamEndedEarly('the stream stopped before its last object ("done": true)')


class OllamaClient(EndpointClient):
    wire_api = "ollama"

    def __init__(self, config: Config, model: str):
        super().__init__(config, model)
        self._root = server_root(self.provider.base_url or "")
        self._num_ctx: int | None = None

    def describe(self) -> str:
        return f"{self.model} via {self.provider.name} (native /api/chat) at {self.provider.base_url}"

    def _discover(self) -> ServerInfo:
        return ollama_show(self._client, self.provider, self.model)

    @property
    def num_ctx(self) -> int:
        """The window every request of this session asks Ollama for (see the module docstring)."""
        if self._num_ctx is None:
            info = self.server_info
            trained = min(info.trained_window or DEFAULT_NUM_CTX, DEFAULT_NUM_CTX)
            self._num_ctx = self.config.model_context_window or info.num_ctx_parameter or trained
        return self._num_ctx

    @property
    def context_window(self) -> int | None:
        return self.num_ctx

    def _server_window(self) -> int | None:
        """Ollama runs a model with at most its trained length, whatever num_ctx asks for."""
        trained = self.server_info.trained_window
        return min(self.num_ctx, trained) if trained else self.num_ctx

    def _cut_fix(self) -> str:
        trained = self.server_info.trained_window
        if trained and trained < self.num_ctx:
            return (f"model '{self.model}' was trained for {trained} tokens, so Ollama ignores the larger "
                    f"model_context_window = {self.num_ctx} in {self.config.config_file}: set it to {trained} so "
                    "the conversation is compacted in time, or use a model trained for longer prompts")
        return (f"set model_context_window in {self.config.config_file} (sent to Ollama as num_ctx) to a window "
                "that holds the conversation")

    def stream(self, request: ModelRequest) -> Generator[StreamItem, None, None]:
        with translated_errors(self.provider, self.model):
            body = self._params(request)
            response = yield from self._retrying(
                lambda: read_ollama_stream(body_lines(self._body(self._root + "/api/chat", body))))
        yield self._checked(response, request)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": to_ollama_messages(request),
            "stream": True,
            "options": {"num_ctx": self.num_ctx, "num_predict": self.output_cap(request)},
        }
        tools = request.tools if request.tool_choice != "none" else ()  # "none": a text answer, no tools offered
        if tools:
            params["tools"] = to_chat_tools(request)
        if request.output_schema is not None and not tools:
            params["format"] = request.output_schema
        effort = self.config.model_reasoning_effort
        if effort:  # gpt-oss takes a level; other thinking models only on/off
            params["think"] = effort if effort in THINK_LEVELS else True
        return params

    def _listed_models(self) -> list[str]:
        """The models Ollama has pulled (GET /api/tags)."""
        import openai

        try:
            tags = self._client.with_options(timeout=CONNECT_TIMEOUT, max_retries=0).get(
                self._root + "/api/tags", cast_to=object)
        except (openai.OpenAIError, UserError):
            return []
        models = tags.get("models") if isinstance(tags, dict) else None
        return [m["name"] for m in models or () if isinstance(m, dict) and isinstance(m.get("name"), str)]

    def _user_error(self, error: BaseException, attempts: int = 1) -> UserError:
        import openai

        if isinstance(error, openai.APIStatusError) and "does not support tools" in error_text(error):
            return ModelRequestFailed(
                f"{self.provider.name} at {self.provider.base_url} says model '{self.model}' does not support tools "
                f"(its chat template has none): choose a model whose `ollama show {self.model}` lists the tools "
                f"capability, or set tool_call_format = \"text\" in {self.config.config_file}.")
        if isinstance(error, StreamUnreadable):
            return ModelRequestFailed(
                f"{self.provider.name} at {self.provider.base_url} sent a reply that is not an Ollama /api/chat "
                f"stream ({error.detail}): check that base_url in [model_providers.{self.provider.id}] names an "
                f"Ollama server, or set wire_api for it in {self.config.config_file} if it is another server.")
        return super()._user_error(error, attempts)
