"""A fake Ollama for tests: a real HTTP server on 127.0.0.1 that follows Ollama's documented native API
(ollama/ollama docs/api.md) and replays scripted model steps.

Why hand-written: Ollama itself cannot be installed here, and no library serves a scripted Ollama API. It reuses
the scripted OpenAI server's HTTP plumbing and script types (`Reply`, `ToolCall`, `HttpError`, `StreamError`).

What it does as Ollama does:

* ``POST /api/chat``: NDJSON streaming unless ``"stream": false`` (one object per line; ``message.content``,
  ``message.thinking``, whole ``message.tool_calls`` with ``function.arguments`` as an object; a last line with
  ``"done": true``, ``done_reason``, ``prompt_eval_count``, ``eval_count``, ``eval_duration``);
* the window: ``options.num_ctx``, else the Modelfile's ``num_ctx``, else 2048, and never more than the model's
  trained ``context_length`` (Ollama caps it there). A prompt longer than that is cut *silently*: the oldest
  non-system messages are dropped until it fits, and ``prompt_eval_count`` counts only what was kept;
* ``options.num_predict`` caps the reply: longer text is cut and ``done_reason`` is ``"length"``;
* a model whose template has no tools answers 400 ``"<name> does not support tools"`` to a request with tools;
  an unknown model 404 ``model "<name>" not found, try pulling it first``;
* a change of model or window between requests is a reload, counted in ``loads``;
* ``POST /api/show`` (``model_info["<arch>.context_length"]``, ``parameters``, ``capabilities``),
  ``GET /api/tags``, ``GET /api/version``, ``GET /v1/models``.

Tokens are counted as characters // 4 of each message's content (and tool calls), plus 4 per message.
A ``StreamError`` step answers 200 and then an ``{"error": ...}`` line, as Ollama reports a failure mid-stream.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.scripted_server import (
    HttpError,
    RecordedRequest,
    Reply,
    Step,
    StreamError,
    _Handler,
    _HTTPServer,
)

__all__ = ["DEFAULT_NUM_CTX", "FakeOllama", "OllamaModel"]

DEFAULT_NUM_CTX = 2048  # Ollama's documented default window
VERSION = "0.9.0"


@dataclass(frozen=True)
class OllamaModel:
    """A pulled model: its name, trained window, Modelfile num_ctx (if any) and whether its template has tools."""

    name: str = "qwen2.5-coder:7b"
    context_length: int = 32768
    num_ctx: int | None = None
    tools: bool = True
    family: str = "qwen2"


@dataclass(frozen=True)
class Served:
    """What the fake did with one /api/chat request."""

    model: str
    num_ctx: int  # the window it ran with
    prompt_tokens: int  # the whole prompt, before any cut
    prompt_eval_count: int  # what it reported (after the cut)
    cut: bool


def message_tokens(message: dict[str, Any]) -> int:
    calls = json.dumps(message.get("tool_calls") or [])
    return (len(str(message.get("content") or "")) + (len(calls) if message.get("tool_calls") else 0)) // 4 + 4


def kept_after_cut(messages: list[dict[str, Any]], num_ctx: int) -> list[dict[str, Any]]:
    """Ollama's silent truncation: drop the oldest non-system messages until the prompt fits (the last stays)."""
    kept = list(messages)
    while sum(map(message_tokens, kept)) > num_ctx:
        droppable = [i for i, m in enumerate(kept[:-1]) if m.get("role") != "system"]
        if not droppable:
            break
        del kept[droppable[0]]
    return kept


class FakeOllama:
    """Serves `steps` as Ollama would (see the module docstring). `base_url` is what the built-in `ollama`
    provider is configured with (`.../v1`); `requests` records every request, `served` every /api/chat."""

    def __init__(self, steps: Sequence[Step], models: Sequence[OllamaModel] = (OllamaModel(),),
                 chunk_chars: int = 8) -> None:
        self._steps = list(steps)
        self.models = {m.name: m for m in models}
        self.chunk_chars = chunk_chars
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._served: list[Served] = []
        self._loaded: tuple[str, int] | None = None
        self.loads: list[tuple[str, int]] = []
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeOllama:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _OllamaHandler, self)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self.stopping.set()
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()

    @property
    def root(self) -> str:
        assert self._httpd is not None, "FakeOllama is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def served(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    def chats(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/api/chat"]

    # used by the handler ------------------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def next_step(self) -> Step | None:
        with self._lock:
            return self._steps.pop(0) if self._steps else None

    def serve(self, model: OllamaModel, body: dict[str, Any]) -> tuple[Served, list[dict[str, Any]]]:
        options = body.get("options") or {}
        asked = options.get("num_ctx") or model.num_ctx or DEFAULT_NUM_CTX
        num_ctx = min(int(asked), model.context_length)
        messages = list(body.get("messages") or [])
        kept = kept_after_cut(messages, num_ctx)
        whole, counted = sum(map(message_tokens, messages)), min(sum(map(message_tokens, kept)), num_ctx)
        served = Served(model.name, num_ctx, whole, counted, len(kept) < len(messages) or whole > num_ctx)
        with self._lock:
            if self._loaded != (model.name, num_ctx):
                self._loaded = (model.name, num_ctx)
                self.loads.append(self._loaded)
            self._served.append(served)
        return served, kept


class _OllamaHandler(_Handler):
    server: _HTTPServer

    @property
    def fake(self) -> FakeOllama:
        return self.server.owner  # type: ignore[return-value]

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.fake.record(RecordedRequest(url.path, body, headers, method))
        route = url.path.rstrip("/")
        try:
            if method == "POST" and route == "/api/chat":
                self._chat(body)
            elif method == "POST" and route == "/api/show":
                self._show(body)
            elif method == "GET" and route == "/api/tags":
                self._send_json(200, {"models": [_tag(m) for m in self.fake.models.values()]})
            elif method == "GET" and route == "/api/version":
                self._send_json(200, {"version": VERSION})
            elif method == "GET" and route == "/v1/models":
                data = [{"id": name, "object": "model", "created": 0, "owned_by": "library"}
                        for name in self.fake.models]
                self._send_json(200, {"object": "list", "data": data})
            else:
                self._send_bytes(404, b"404 page not found", "text/plain")
        except ConnectionError:
            self.close_connection = True

    def _model(self, body: dict[str, Any]) -> OllamaModel | None:
        model = self.fake.models.get(str(body.get("model") or ""))
        if model is None:
            self._send_json(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
        return model

    def _show(self, body: dict[str, Any]) -> None:
        model = self._model(body)
        if model is None:
            return
        parameters = f"num_ctx                        {model.num_ctx}\n" if model.num_ctx else ""
        self._send_json(200, {
            "modelfile": f"FROM {model.name}\n",
            "parameters": parameters + 'stop                           "<|im_end|>"',
            "template": "{{ .Prompt }}" + ("{{ if .Tools }}{{ .Tools }}{{ end }}" if model.tools else ""),
            "details": {"format": "gguf", "family": model.family, "parameter_size": "7.6B"},
            "model_info": {"general.architecture": model.family,
                           f"{model.family}.context_length": model.context_length},
            "capabilities": ["completion", "tools"] if model.tools else ["completion"],
        })

    def _chat(self, body: dict[str, Any]) -> None:
        model = self._model(body)
        if model is None:
            return
        if body.get("tools") and not model.tools:
            self._send_json(400, {"error": f"registry.ollama.ai/library/{model.name} does not support tools"})
            return
        step = self.fake.next_step()
        if step is None:
            self._send_json(500, {"error": "fake ollama: script exhausted"})
            return
        if isinstance(step, HttpError):
            self._send_json(step.status, {"error": step.message})
            return
        served, _kept = self.fake.serve(model, body)
        if isinstance(step, StreamError):
            self._start_stream("application/x-ndjson")
            self._write_chunk((json.dumps({"error": step.message}) + "\n").encode())
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        if not isinstance(step, Reply):
            raise TypeError(f"fake ollama serves Reply, HttpError and StreamError steps, not {step!r}")
        lines = _reply_lines(step, served, body, self.fake.chunk_chars)
        if body.get("stream") is False:
            self._send_json(200, _unstreamed(lines))
            return
        self._start_stream("application/x-ndjson")
        for line in lines:
            if step.delay_ms:
                time.sleep(step.delay_ms / 1000)
            self._write_chunk((json.dumps(line) + "\n").encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _reply_lines(reply: Reply, served: Served, body: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """The NDJSON objects of one streamed reply, honouring options.num_predict."""
    model, now = str(body.get("model")), "2026-12-01T12:00:00.000000Z"
    num_predict = int((body.get("options") or {}).get("num_predict") or -1)
    text, reason = reply.text, "stop"
    if num_predict > 0 and len(text) // 4 > num_predict:
        text, reason = text[: num_predict * 4], "length"
    lines: list[dict[str, Any]] = []
    lines += [{"message": {"role": "assistant", "content": "", "thinking": reply.reasoning[i:i + size]}}
              for i in range(0, len(reply.reasoning), size)]
    lines += [{"message": {"role": "assistant", "content": text[i:i + size]}} for i in range(0, len(text), size)]
    if reply.tool_calls and reason == "stop":
        calls = [{"function": {"name": c.name, "arguments": c.arguments if isinstance(c.arguments, dict)
                               else json.loads(c.arguments)}} for c in reply.tool_calls]
        lines.append({"message": {"role": "assistant", "content": "", "tool_calls": calls}})
    for line in lines:
        line.update(model=model, created_at=now, done=False)
    eval_count = (len(text) + len(reply.reasoning)) // 4 + 1
    lines.append({"model": model, "created_at": now, "message": {"role": "assistant", "content": ""},
                  "done": True, "done_reason": reason, "total_duration": 5_000_000, "load_duration": 1_000_000,
                  "prompt_eval_count": served.prompt_eval_count, "prompt_eval_duration": 1_000_000,
                  "eval_count": eval_count, "eval_duration": 2_000_000})
    return lines


def _unstreamed(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One object for `"stream": false`: the final line with the whole message."""
    content = "".join(line["message"].get("content", "") for line in lines[:-1])
    thinking = "".join(line["message"].get("thinking", "") for line in lines[:-1])
    calls = [c for line in lines[:-1] for c in line["message"].get("tool_calls", [])]
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    return {**lines[-1], "message": message}


def _tag(model: OllamaModel) -> dict[str, Any]:
    return {"name": model.name, "model": model.name, "modified_at": "2026-11-01T10:00:00Z", "size": 4_683_087_332,
            "digest": "0" * 64, "details": {"format": "gguf", "family": model.family, "parameter_size": "7.6B",
                                            "quantization_level": "Q4_K_M"}}
