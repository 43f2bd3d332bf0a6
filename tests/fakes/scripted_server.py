"""A scripted fake of the OpenAI HTTP API for tests: a real server on 127.0.0.1 that replays model steps.

Why hand-written: this is a test fake of the *wire protocol* (Chat Completions SSE chunks and Responses API
events), not application logic. No library serves a scripted OpenAI API that replays a fixed list of replies,
tool calls and HTTP failures while recording requests, so it is built on the standard library only
(``http.server.ThreadingHTTPServer``) and exercised through the real ``openai`` SDK in its tests.

Each POST to ``/v1/chat/completions`` or ``/v1/responses`` (the ``/v1`` prefix is optional, query strings are
ignored for routing but recorded) consumes the next step of the script:

* ``Reply`` -> a model answer (text, reasoning, tool calls), streamed when the request has ``"stream": true``;
* ``HttpError`` -> that HTTP status with an OpenAI-style error body (one step per failed request);
* ``StreamError`` -> status 200 and a stream whose only event is an error, as servers report a failure
  that happens after the response started (chat: ``data: {"error": {...}}``; responses: an ``error`` event);
* ``Cut`` -> a streamed ``Reply`` cut at a chosen byte (or before/after a chosen text) of its event stream, then
  the body ends cleanly, the connection drops, or the server goes silent;
* ``Hang`` -> the request is accepted and never answered (optionally after sending the stream's headers);
* ``Garbage`` -> status 200 and any bytes as the body (not SSE, not JSON, random bytes).

A huge tool-call argument is a ``Reply`` whose ``ToolCall`` carries a long string; ``Reply.chunk_chars`` sets
the delta size for that step. Without a delay, frames are written in batches of about 64 KiB so the server
is never the slow side of a benchmark.

When the script is exhausted the server answers 500 "scripted server: script exhausted after N steps" with
``x-should-retry: false`` so the SDK fails at once. ``GET /v1/models`` lists one model, "scripted".

Servers are asked what they are before the first model request (agent/models/server_info.py). Those discovery
requests (``/props``, ``/version``, ``/api/version``, ``/api/v0/models``, ``/api/show``, ``/api/tags``) are
recorded in ``probes``, not ``requests``, and answered 404 unless ``serves_as`` makes the server look like one
family with a window: ``ServedAs("llama.cpp", 4096)`` answers ``/props``, ``"lmstudio"`` ``/api/v0/models``,
``"vllm"`` ``/version`` and a ``max_model_len`` in ``/v1/models``.

``refuse_streaming_tools`` makes the server fail every streamed chat request that offers tools without using a
step, as llama_cpp.server's ``chatml-function-calling`` does: ``"empty"`` answers 200 with an empty event
stream (what that server sends), ``"error"`` answers 500 "Automatic streaming tool choice is not supported".

Streams use chunked transfer encoding, so HTTP/1.1 keep-alive keeps working between requests.

CLI: ``python -m tests.fakes.scripted_server SCRIPT.json [--log requests.jsonl] [--port 0]
[--exit-when-done]`` prints the base URL as its first stdout line, then serves until SIGTERM/SIGINT (or
until the script is used up when ``--exit-when-done`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "Cut",
    "Garbage",
    "Hang",
    "HttpError",
    "RecordedRequest",
    "Reply",
    "ServedAs",
    "ScriptedServer",
    "Step",
    "StreamError",
    "ToolCall",
    "load_script",
    "main",
]

MODEL_ID = "scripted"
PROBE_PATHS = frozenset({"/props", "/version", "/api/version", "/api/v0/models", "/api/show", "/api/tags"})
STREAMING_TOOLS_REFUSAL = "Automatic streaming tool choice is not supported"


@dataclass(frozen=True)
class ServedAs:
    """Which server family the scripted server answers discovery requests as, and the window it reports."""

    kind: Literal["llama.cpp", "lmstudio", "vllm"]
    n_ctx: int


# --------------------------------------------------------------------------------------------- script model


@dataclass(frozen=True)
class ToolCall:
    """A function call the model makes. A ``str`` ``arguments`` is sent verbatim (may be invalid JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None  # default: generated "call_<n>"


@dataclass(frozen=True)
class Reply:
    """One model response."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""
    delay_ms: int = 0  # sleep between streamed chunks
    chunk_chars: int | None = None  # characters per streamed piece for this reply (default: the server's)
    wait_ms: int = 0  # silence before answering at all, as a server evaluating a long prompt
    finish_reason: str | None = None  # chat's finish_reason (default: "tool_calls" or "stop"), e.g. "length"


@dataclass(frozen=True)
class HttpError:
    """The request fails with ``status`` and an OpenAI-style error JSON body.

    ``retry_after_ms`` (optional) is sent as the ``retry-after-ms`` header, which the openai SDK honours,
    so retry tests need not wait for the SDK's default back-off.
    """

    status: int = 500
    message: str = "scripted failure"
    retry_after_ms: int | None = None


@dataclass(frozen=True)
class StreamError:
    """The request is answered 200 with a stream that carries only an error event."""

    message: str = "scripted stream failure"


@dataclass(frozen=True)
class Cut:
    """A streamed ``reply`` cut short: its event stream (chat: including ``data: [DONE]``) stops after
    ``at_byte`` bytes, or right before the first ``before`` text, or right after the first ``after`` text.

    ``ending``: "end" ends the HTTP body cleanly (the event stream is still unfinished), "close" drops the
    connection mid-body (no final chunk), "hang" keeps the connection open and sends nothing more.
    """

    reply: Reply
    at_byte: int | None = None
    before: str | None = None
    after: str | None = None
    ending: Literal["end", "close", "hang"] = "end"

    def cut_point(self, stream: bytes) -> int:
        if self.at_byte is not None:
            return max(0, min(self.at_byte, len(stream)))
        marker = (self.before or self.after or "").encode("utf-8")
        where = stream.find(marker)
        if not marker or where < 0:
            raise ValueError(f"Cut marker {marker!r} is not in the scripted stream (is it split across pieces? "
                             "raise the reply's chunk_chars)")
        return where if self.before else where + len(marker)


@dataclass(frozen=True)
class Hang:
    """The request is accepted and never answered until the server stops; with ``headers`` the 200 status and
    the event-stream headers are sent first (the server "started" and then went silent)."""

    headers: bool = False


@dataclass(frozen=True)
class Garbage:
    """Status 200 and ``body`` as is: not SSE, not JSON, random bytes. ``chunked`` sends it with chunked
    transfer encoding (as a stream), otherwise with a Content-Length."""

    body: bytes
    content_type: str = "text/event-stream"
    chunked: bool = True


Step = Reply | HttpError | StreamError | Cut | Hang | Garbage


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received. ``path`` has no query string; ``headers`` keys are lower-case."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    method: str = "POST"
    query: dict[str, str] = field(default_factory=dict)


def load_script(path_or_list: str | Path | Sequence[Any] | dict[str, Any]) -> list[Step]:
    """Build steps from a JSON file path, a parsed list, or ``{"steps": [...]}``.

    Step objects: ``{"text", "reasoning", "delay_ms", "tool_calls": [{"name", "arguments", "call_id"}]}``
    or ``{"error": 500, "message": "...", "retry_after_ms": 10}``. Already-built steps pass through.
    """
    data: Any = path_or_list
    if isinstance(data, str | Path):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data["steps"]
    return [_parse_step(item) for item in data]


def _parse_step(item: Any) -> Step:
    if isinstance(item, Reply | HttpError | StreamError | Cut | Hang | Garbage):
        return item
    if not isinstance(item, dict):
        raise ValueError(f"script step must be an object, got {item!r}")
    if "error" in item:
        return HttpError(
            status=int(item["error"]),
            message=str(item.get("message", "scripted failure")),
            retry_after_ms=item.get("retry_after_ms"),
        )
    calls = tuple(
        ToolCall(name=c["name"], arguments=c.get("arguments", {}), call_id=c.get("call_id"))
        for c in item.get("tool_calls", ())
    )
    return Reply(
        text=item.get("text", ""),
        tool_calls=calls,
        reasoning=item.get("reasoning", ""),
        delay_ms=int(item.get("delay_ms", 0)),
    )


# --------------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Call:
    call_id: str
    item_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class _Usage:
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def chat(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }

    def responses(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total,
        }


@dataclass(frozen=True)
class _Turn:
    """Everything needed to render one Reply for one request."""

    reply: Reply
    request: dict[str, Any]
    response_id: str
    message_id: str
    reasoning_id: str
    calls: tuple[_Call, ...]
    usage: _Usage
    created: int
    chunk_chars: int

    @property
    def model(self) -> str:
        return str(self.request.get("model") or MODEL_ID)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


# Chat Completions ---------------------------------------------------------------------------------------


def _chat_chunk(turn: _Turn, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": turn.response_id,
        "object": "chat.completion.chunk",
        "created": turn.created,
        "model": turn.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def _chat_deltas(turn: _Turn) -> list[dict[str, Any]]:
    size = turn.chunk_chars
    deltas: list[dict[str, Any]] = [{"role": "assistant"}]
    deltas += [{"reasoning_content": p} for p in _pieces(turn.reply.reasoning, size)]
    deltas += [{"content": p} for p in _pieces(turn.reply.text, size)]
    for index, call in enumerate(turn.calls):
        head = {"index": index, "id": call.call_id, "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        deltas += [
            {"tool_calls": [{"index": index, "function": {"arguments": p}}]}
            for p in _pieces(call.arguments, size)
        ]
    return deltas


def _finish_reason(turn: _Turn) -> str:
    return turn.reply.finish_reason or ("tool_calls" if turn.calls else "stop")


def _chat_stream_chunks(turn: _Turn) -> list[dict[str, Any]]:
    """The ``data:`` payloads of a streamed chat completion (without the final ``[DONE]``)."""
    chunks = [_chat_chunk(turn, delta, None) for delta in _chat_deltas(turn)]
    chunks.append(_chat_chunk(turn, {}, _finish_reason(turn)))
    if (turn.request.get("stream_options") or {}).get("include_usage"):
        usage_chunk = _chat_chunk(turn, {}, None)
        usage_chunk["choices"] = []
        usage_chunk["usage"] = turn.usage.chat()
        chunks.append(usage_chunk)
    return chunks


def _chat_completion(turn: _Turn) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.reply.text or None, "refusal": None}
    if turn.reply.reasoning:
        message["reasoning_content"] = turn.reply.reasoning
    if turn.calls:
        message["tool_calls"] = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in turn.calls
        ]
    return {
        "id": turn.response_id,
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.model,
        "system_fingerprint": None,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(turn)}
        ],
        "usage": turn.usage.chat(),
    }


# Responses API ------------------------------------------------------------------------------------------


def _reasoning_item(turn: _Turn, done: bool) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": turn.reply.reasoning}] if done else []
    return {
        "id": turn.reasoning_id,
        "type": "reasoning",
        "summary": summary,
        "encrypted_content": None,
        "status": "completed" if done else "in_progress",
    }


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(turn: _Turn, done: bool) -> dict[str, Any]:
    return {
        "id": turn.message_id,
        "type": "message",
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": [_output_text(turn.reply.text)] if done else [],
    }


def _function_item(call: _Call, done: bool) -> dict[str, Any]:
    return {
        "id": call.item_id,
        "type": "function_call",
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments if done else "",
        "status": "completed" if done else "in_progress",
    }


def _output_items(turn: _Turn) -> list[dict[str, Any]]:
    items = [_reasoning_item(turn, True)] if turn.reply.reasoning else []
    if turn.reply.text or not turn.calls:
        items.append(_message_item(turn, True))
    return items + [_function_item(call, True) for call in turn.calls]


def _response_object(turn: _Turn, status: str = "completed") -> dict[str, Any]:
    """The Responses API ``response`` object (empty output and no usage while in progress)."""
    done = status == "completed"
    req = turn.request
    return {
        "id": turn.response_id,
        "object": "response",
        "created_at": turn.created,
        "model": turn.model,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": req.get("instructions"),
        "metadata": req.get("metadata") or {},
        "output": _output_items(turn) if done else [],
        "parallel_tool_calls": req.get("parallel_tool_calls", True),
        "temperature": req.get("temperature", 1.0),
        "top_p": req.get("top_p", 1.0),
        "tool_choice": req.get("tool_choice", "auto"),
        "tools": req.get("tools") or [],
        "max_output_tokens": req.get("max_output_tokens"),
        "previous_response_id": req.get("previous_response_id"),
        "reasoning": req.get("reasoning") or {"effort": None, "summary": None},
        "text": req.get("text") or {"format": {"type": "text"}},
        "truncation": req.get("truncation", "disabled"),
        "service_tier": "default",
        "store": req.get("store", False),
        "background": False,
        "user": None,
        "usage": turn.usage.responses() if done else None,
    }


class _Events:
    """Collects ``(event type, payload)`` pairs with increasing ``sequence_number``."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def add(self, kind: str, **fields: Any) -> None:
        self.items.append((kind, {"type": kind, "sequence_number": len(self.items), **fields}))


def _reasoning_events(ev: _Events, turn: _Turn, index: int) -> None:
    ids = {"item_id": turn.reasoning_id, "output_index": index, "summary_index": 0}
    text = turn.reply.reasoning
    ev.add("response.output_item.added", output_index=index, item=_reasoning_item(turn, False))
    ev.add("response.reasoning_summary_part.added", **ids, part={"type": "summary_text", "text": ""})
    for piece in _pieces(text, turn.chunk_chars):
        ev.add("response.reasoning_summary_text.delta", **ids, delta=piece)
    ev.add("response.reasoning_summary_text.done", **ids, text=text)
    ev.add("response.reasoning_summary_part.done", **ids, part={"type": "summary_text", "text": text})
    ev.add("response.output_item.done", output_index=index, item=_reasoning_item(turn, True))


def _message_events(ev: _Events, turn: _Turn, index: int) -> None:
    ids = {"item_id": turn.message_id, "output_index": index, "content_index": 0}
    text = turn.reply.text
    ev.add("response.output_item.added", output_index=index, item=_message_item(turn, False))
    ev.add("response.content_part.added", **ids, part=_output_text(""))
    for piece in _pieces(text, turn.chunk_chars):
        ev.add("response.output_text.delta", **ids, delta=piece, logprobs=[])
    ev.add("response.output_text.done", **ids, text=text, logprobs=[])
    ev.add("response.content_part.done", **ids, part=_output_text(text))
    ev.add("response.output_item.done", output_index=index, item=_message_item(turn, True))


def _function_events(ev: _Events, call: _Call, index: int, chunk_chars: int) -> None:
    ids = {"item_id": call.item_id, "output_index": index}
    ev.add("response.output_item.added", output_index=index, item=_function_item(call, False))
    for piece in _pieces(call.arguments, chunk_chars):
        ev.add("response.function_call_arguments.delta", **ids, delta=piece)
    ev.add("response.function_call_arguments.done", **ids, name=call.name, arguments=call.arguments)
    ev.add("response.output_item.done", output_index=index, item=_function_item(call, True))


def _response_stream_events(turn: _Turn) -> list[tuple[str, dict[str, Any]]]:
    """The ``(event, data)`` pairs of a streamed Responses API answer, ending with ``response.completed``."""
    ev = _Events()
    ev.add("response.created", response=_response_object(turn, "in_progress"))
    ev.add("response.in_progress", response=_response_object(turn, "in_progress"))
    index = 0
    if turn.reply.reasoning:
        _reasoning_events(ev, turn, index)
        index += 1
    if turn.reply.text or not turn.calls:
        _message_events(ev, turn, index)
        index += 1
    for call in turn.calls:
        _function_events(ev, call, index, turn.chunk_chars)
        index += 1
    ev.add("response.completed", response=_response_object(turn, "completed"))
    return ev.items


# --------------------------------------------------------------------------------------------- server


def _prompt_text(body: dict[str, Any]) -> str:
    prompt = body.get("messages", body.get("input", ""))
    return json.dumps(prompt, ensure_ascii=False)


def _common_prefix_len(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    for i in range(limit):
        if a[i] != b[i]:
            return i
    return limit


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    if status == 429:
        kind = "rate_limit_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class ScriptedServer:
    """Serves ``steps`` over HTTP. Use as a context manager or call ``start()``/``stop()``.

    ``base_url`` is ``http://127.0.0.1:<port>/v1``; ``requests`` is a snapshot of every request received
    (GETs included); ``remaining`` counts steps not yet consumed; ``finished`` (an Event) is set once the
    last step has been fully written. Steps may also be given as JSON-style dicts (see ``load_script``).
    Usage numbers are fakes: tokens = characters // 4, and cached tokens = the common prefix of this and
    the previous request's serialized ``messages``/``input``.
    """

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        log_path: Path | None = None,
        chunk_chars: int = 8,
        host: str = "127.0.0.1",
        port: int = 0,
        serves_as: ServedAs | None = None,
        refuse_streaming_tools: Literal["empty", "error"] | None = None,
    ) -> None:
        self._steps = [_parse_step(step) for step in steps]
        self.serves_as = serves_as
        self.refuse_streaming_tools = refuse_streaming_tools
        self._probes: list[RecordedRequest] = []
        self._log_path = Path(log_path) if log_path is not None else None
        self.chunk_chars = max(1, chunk_chars)
        self._address = (host, port)
        self._lock = threading.Lock()
        self._next_index = 0
        self._requests: list[RecordedRequest] = []
        self._previous_prompt = ""
        self._counter = itertools.count(1)
        self._call_counter = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()  # set once the last step has been fully served
        self.stopping = threading.Event()  # set by stop(): hanging steps give up
        if not self._steps:
            self.finished.set()

    # lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(self._address, _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # state -------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def probes(self) -> list[RecordedRequest]:
        """Discovery requests (see the module docstring), kept apart from ``requests``."""
        with self._lock:
            return list(self._probes)

    def record_probe(self, request: RecordedRequest) -> None:
        with self._lock:
            self._probes.append(request)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._steps) - self._next_index

    @property
    def total_steps(self) -> int:
        return len(self._steps)

    # used by the handler -----------------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self._log_path is not None:
                line = json.dumps({"path": request.path, "body": request.body}, ensure_ascii=False)
                with self._log_path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
                    fh.flush()

    def next_step(self) -> Step | None:
        with self._lock:
            if self._next_index >= len(self._steps):
                return None
            step = self._steps[self._next_index]
            self._next_index += 1
            return step

    def step_served(self) -> None:
        if self.remaining == 0:
            self.finished.set()

    def make_turn(self, reply: Reply, body: dict[str, Any], prefix: str) -> _Turn:
        with self._lock:
            prompt = _prompt_text(body)
            cached = _common_prefix_len(prompt, self._previous_prompt) // 4
            self._previous_prompt = prompt
            n = next(self._counter)
            calls = tuple(self._resolve_call(call) for call in reply.tool_calls)
        out_chars = len(reply.text) + sum(len(c.arguments) for c in calls)
        reasoning_tokens = len(reply.reasoning) // 4
        usage = _Usage(len(prompt) // 4, cached, out_chars // 4 + reasoning_tokens, reasoning_tokens)
        return _Turn(
            reply=reply,
            request=body,
            response_id=f"{prefix}{n}",
            message_id=f"msg_{n}",
            reasoning_id=f"rs_{n}",
            calls=calls,
            usage=usage,
            created=int(time.time()),
            chunk_chars=max(1, reply.chunk_chars or self.chunk_chars),
        )

    def _resolve_call(self, call: ToolCall) -> _Call:
        n = next(self._call_counter)
        return _Call(
            call_id=call.call_id or f"call_{n}",
            item_id=f"fc_{n}",
            name=call.name,
            arguments=_arguments_text(call.arguments),
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: ScriptedServer
    ) -> None:
        self.owner = owner
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._sockets_lock:
            self._sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self._sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping kept-alive or half-read connections is normal; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Drop kept-alive connections so their handler threads end with the server."""
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # routing -----------------------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        headers = {key.lower(): value for key, value in self.headers.items()}
        query = dict(parse_qsl(url.query))
        owner = self.server.owner
        recorded = RecordedRequest(url.path, body, headers, method, query)
        route = url.path.rstrip("/")
        if route in PROBE_PATHS:
            owner.record_probe(recorded)
            self._answer_probe(method, route)
            return
        owner.record(recorded)
        route = route[3:] if route.startswith("/v1/") else route
        try:
            if method == "GET" and route == "/models":
                self._send_json(200, {"object": "list", "data": [_model_entry(MODEL_ID, owner.serves_as)]})
            elif method == "POST" and route == "/chat/completions" and self._refuses_stream(body):
                self._refuse_stream()
            elif method == "GET" and route.startswith("/models/"):
                self._send_json(200, _model_entry(route.removeprefix("/models/")))
            elif method == "POST" and route == "/chat/completions":
                self._serve_step(body, chat=True)
            elif method == "POST" and route == "/responses":
                self._serve_step(body, chat=False)
            else:
                self._send_json(404, _error_body(404, f"scripted server: unknown path {method} {url.path}"))
        except ConnectionError:
            self.close_connection = True  # the client went away mid-answer (e.g. an interrupt test)

    def _answer_probe(self, method: str, route: str) -> None:
        served = self.server.owner.serves_as
        kind = served.kind if served is not None else None
        if kind == "llama.cpp" and method == "GET" and route == "/props":
            self._send_json(200, {"default_generation_settings": {"n_ctx": served.n_ctx}, "total_slots": 1})
        elif kind == "lmstudio" and method == "GET" and route == "/api/v0/models":
            entry = {"id": MODEL_ID, "object": "model", "type": "llm", "state": "loaded",
                     "max_context_length": served.n_ctx * 4, "loaded_context_length": served.n_ctx}
            self._send_json(200, {"object": "list", "data": [entry]})
        elif kind == "vllm" and method == "GET" and route == "/version":
            self._send_json(200, {"version": "0.6.3"})
        else:
            self._send_json(404, _error_body(404, f"scripted server: unknown path {method} {route}"))

    def _refuses_stream(self, body: dict[str, Any]) -> bool:
        return bool(self.server.owner.refuse_streaming_tools and body.get("stream") and body.get("tools"))

    def _refuse_stream(self) -> None:
        if self.server.owner.refuse_streaming_tools == "error":
            self._send_json(500, _error_body(500, STREAMING_TOOLS_REFUSAL))
            return
        self._start_stream()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _serve_step(self, body: dict[str, Any], *, chat: bool) -> None:
        owner = self.server.owner
        step = owner.next_step()
        if step is None:
            message = f"scripted server: script exhausted after {owner.total_steps} steps"
            self._send_json(500, _error_body(500, message), {"x-should-retry": "false"})
            return
        try:
            if isinstance(step, HttpError):
                self._send_error_step(step)
            elif isinstance(step, StreamError):
                error = {"message": step.message, "code": "server_error", "param": None}
                frame = (_sse(None, {"error": {**error, "type": "server_error"}}) if chat
                         else _sse("error", {"type": "error", **error}))
                self._send_stream([frame], 0)
            elif isinstance(step, Cut):
                self._send_cut(step, owner.make_turn(step.reply, body, "chatcmpl-" if chat else "resp_"), chat)
            elif isinstance(step, Hang):
                self._hang(step)
            elif isinstance(step, Garbage):
                self._send_garbage(step)
            else:
                self._send_reply(owner.make_turn(step, body, "chatcmpl-" if chat else "resp_"), body, chat)
        finally:
            owner.step_served()

    def _send_cut(self, step: Cut, turn: _Turn, chat: bool) -> None:
        stream = b"".join(_stream_frames(turn, chat))
        try:
            cut = step.cut_point(stream)
        except ValueError as e:  # a mistake in the test's script: fail loudly, never as a dropped connection
            self._send_json(500, _error_body(500, f"scripted server: {e}"), {"x-should-retry": "false"})
            return
        self._start_stream()
        if cut:
            self._write_chunk(stream[:cut])
        if step.ending == "end":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif step.ending == "hang":
            self.server.owner.stopping.wait()
        self.close_connection = True  # "close" (and the others, once done): the body is never finished

    def _hang(self, step: Hang) -> None:
        if step.headers:
            self._start_stream()
        self.server.owner.stopping.wait()
        self.close_connection = True

    def _send_garbage(self, step: Garbage) -> None:
        if not step.chunked:
            self._send_bytes(200, step.body, step.content_type)
            return
        self._start_stream(step.content_type)
        if step.body:
            self._write_chunk(step.body)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_error_step(self, step: HttpError) -> None:
        extra = {} if step.retry_after_ms is None else {"retry-after-ms": str(step.retry_after_ms)}
        self._send_json(step.status, _error_body(step.status, step.message), extra)

    def _send_reply(self, turn: _Turn, body: dict[str, Any], chat: bool) -> None:
        if turn.reply.wait_ms and self.server.owner.stopping.wait(turn.reply.wait_ms / 1000):
            return
        if not body.get("stream"):
            self._send_json(200, _chat_completion(turn) if chat else _response_object(turn))
            return
        self._send_stream(_stream_frames(turn, chat), turn.reply.delay_ms)

    # writing -----------------------------------------------------------------------------------------------

    def _read_body(self) -> dict[str, Any]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = b"".join(self._read_chunked())
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"_raw": raw.decode("utf-8", "replace")}
        return parsed if isinstance(parsed, dict) else {"_json": parsed}

    def _read_chunked(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _send_json(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode("utf-8"), "application/json", extra)

    def _send_bytes(self, status: int, data: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_stream(self, content_type: str = "text/event-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _send_stream(self, frames: list[bytes], delay_ms: int) -> None:
        self._start_stream()
        if delay_ms:
            for i, frame in enumerate(frames):
                if i:
                    time.sleep(delay_ms / 1000)
                self._write_chunk(frame)
        else:
            for batch in _batches(frames, BATCH_BYTES):
                self._write_chunk(batch)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()


BATCH_BYTES = 64 * 1024


def _batches(frames: list[bytes], size: int) -> Iterator[bytes]:
    """Frames joined into writes of about `size` bytes (one frame is never split)."""
    batch: list[bytes] = []
    length = 0
    for frame in frames:
        batch.append(frame)
        length += len(frame)
        if length >= size:
            yield b"".join(batch)
            batch, length = [], 0
    if batch:
        yield b"".join(batch)


def _stream_frames(turn: _Turn, chat: bool) -> list[bytes]:
    """The whole event stream of a reply, one SSE frame per event (chat ends with ``data: [DONE]``)."""
    if chat:
        return [_sse(None, chunk) for chunk in _chat_stream_chunks(turn)] + [b"data: [DONE]\n\n"]
    return [_sse(kind, data) for kind, data in _response_stream_events(turn)]


def _model_entry(model_id: str, served: ServedAs | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": model_id, "object": "model", "created": 0, "owned_by": "test"}
    if served is not None and served.kind == "vllm":
        entry["max_model_len"] = served.n_ctx
    return entry


def _sse(event: str | None, data: dict[str, Any]) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


# --------------------------------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.scripted_server", description="Serve a scripted fake OpenAI API."
    )
    parser.add_argument("script", type=Path, help="JSON script: a list of steps or {'steps': [...]}")
    parser.add_argument("--log", type=Path, default=None, help="append each request as a JSON line here")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: ephemeral)")
    parser.add_argument("--chunk-chars", type=int, default=8, help="characters per streamed piece")
    parser.add_argument("--exit-when-done", action="store_true", help="exit once every step has been served")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    steps = load_script(args.script)
    server = ScriptedServer(steps, log_path=args.log, chunk_chars=args.chunk_chars, port=args.port)
    with server:
        print(server.base_url, flush=True)
        while not stop.wait(0.05):
            if args.exit_when_done and server.finished.is_set():
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
