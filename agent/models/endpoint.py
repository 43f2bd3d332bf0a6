"""What the two OpenAI-compatible back ends share: sending a request, reading its reply as server-sent
events while showing that we wait, retrying transport failures, and turning every failure into one
sentence a user can act on.

A reply counts only when it arrived whole. The wire decoders (chat.py, responses.py) read events from
`sse_events` and raise `StreamEndedEarly` when the stream stops before its protocol's end and
`StreamUnreadable` for bytes that are not the protocol (not SSE, not JSON, wrong types); both are
transport failures, retried like a dropped connection, and nothing of a failed attempt is used.

Retries are ours, not the `openai` SDK's (its `max_retries` is 0): connection errors, 408/409/429/5xx
(honouring `x-should-retry` and `retry-after(-ms)`), cut and unreadable streams are retried up to the
provider's `request_max_retries`; an idle timeout (no byte for `stream_idle_timeout_ms`) at most once, so
a server that accepts and never answers costs two idle timeouts, not five. The body is read by a thread
so the caller gets a `Waiting` tick every second of silence (servers send nothing while they read a long
prompt) and can be interrupted.

Requests go through the SDK's generic `post`: its authentication, headers and error types, but the raw
body rather than its typed models. `client.responses` / `client.chat` would import the typed resources and
validate every streamed event into pydantic models, which costs more than the whole request to a local
server (~0.3 s per run measured in benchmarks/harness.py), and OpenAI-compatible servers differ in the
fields they send anyway, so the back ends read what is there, checking each field's type.

Not here: the wire formats themselves (chat.py, responses.py) and what a turn does with a reply.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config import Config, ProviderInfo
from agent.errors import UserError
from agent.models.base import (
    ContextWindowExceeded,
    ModelRequest,
    ModelRequestFailed,
    ModelResponse,
    ModelUnavailable,
    Retrying,
    StreamItem,
    Waiting,
)
from agent.models.server_info import (
    UNKNOWN,
    ServerInfo,
    discover,
    estimate_prompt_tokens,
    output_cap,
    prompt_cut_warning,
    prompt_was_cut,
)

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

START_HINTS = {
    "ollama": "start it with `ollama serve`",
    "lmstudio": "start LM Studio's server with `lms server start`",
}

CONTEXT_ERROR_MARKERS = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "too many tokens",
    "exceeds the available context",
    "n_ctx",
    "prompt is too long",
)

WIRE_NAMES = {"chat": "Chat Completions", "responses": "Responses API"}
TICK_SECONDS = 1.0
WAIT_SHOWN_AFTER = 2.0  # seconds of silence before "waiting for the model" appears
IDLE_RETRIES = 1
MAX_SERVER_DELAY = 60.0  # a longer retry-after is not waited for
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT_SLACK = 30.0  # the HTTP read timeout only ends the reader thread; the idle clock is ours


# --- failures of a reply in transport ----------------------------------------------------------


class BrokenStream(Exception):
    """A reply that did not arrive whole or cannot be read; `detail` says what was wrong, for the user."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class StreamEndedEarly(BrokenStream):
    """The stream stopped before its protocol's end (cut, dropped, or no final event)."""


class StreamUnreadable(BrokenStream):
    """The server sent bytes that are not the protocol: not SSE, not UTF-8, not JSON, or a field of the wrong type."""


class StreamReportedError(Exception):
    """The server reported an error inside the stream (not retried: it said so itself)."""


class StreamingRefused(Exception):
    """A streamed request that offered tools failed as servers fail that cannot stream with tools (an empty
    stream, or an error that names streaming); the back end sends it again without streaming."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class IdleTimeout(Exception):
    """No byte arrived for the provider's stream_idle_timeout_ms."""

    def __init__(self, seconds: float):
        super().__init__(f"no data for {seconds:.0f} s")
        self.seconds = seconds


# --- server-sent events --------------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    event: str  # "message" when the server named none
    data: str


def sse_events(chunks: Iterable[bytes | Waiting]) -> Iterator[SseEvent | Waiting]:
    """Server-sent events from raw body bytes (WHATWG rules: LF, CR or CRLF ends a line, `data:` lines join
    with LF, a blank line dispatches, comments and other fields are skipped). An event not closed by a blank
    line when the body ends is dropped, as the spec says; `Waiting` ticks pass through."""
    name, data = "", []
    for line in _lines(chunks):
        if isinstance(line, Waiting):
            yield line
        elif not line:
            if data:
                yield SseEvent(name or "message", "\n".join(data))
            name, data = "", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value


def body_lines(chunks: Iterable[bytes | Waiting]) -> Iterator[str | Waiting]:
    """Decoded lines of a body (NDJSON streams read them directly); `Waiting` ticks pass through."""
    return _lines(chunks)


def _lines(chunks: Iterable[bytes | Waiting]) -> Iterator[str | Waiting]:
    """Decoded lines without their ends, in linear time however the bytes are split."""
    pending: list[bytes] = []  # the start of a line whose end has not arrived
    after_cr, first = False, True
    for chunk in chunks:
        if isinstance(chunk, Waiting):
            yield chunk
            continue
        if first and chunk:
            chunk, first = chunk.removeprefix(b"\xef\xbb\xbf"), False
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across reads
        if not chunk:
            continue
        parts = chunk.splitlines(keepends=True)
        after_cr = parts[-1].endswith(b"\r")
        tail = None if parts[-1].endswith((b"\n", b"\r")) else parts.pop()
        for part in parts:
            if pending:
                part, pending = b"".join([*pending, part]), []
            yield _decode(part.rstrip(b"\r\n"))
        if tail is not None:
            pending.append(tail)


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StreamUnreadable(f"bytes that are not UTF-8 text near {line[:40]!r}") from e


# --- typed access to JSON the server sent ------------------------------------------------------------


def json_object(text: str, what: str = "an event") -> dict[str, Any]:
    """The JSON object in `text`; anything else is a StreamUnreadable naming what it was."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise StreamUnreadable(f"{what} is not JSON: {text[:60]!r}") from None
    if not isinstance(value, dict):
        raise StreamUnreadable(f"{what} is JSON but not an object: {text[:60]!r}")
    return value


def typed(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """`obj[key]` when it is missing, null or of `kind`; any other type is a StreamUnreadable."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is kind and (kind is not str or value.isascii()):  # the common case, kept fast
        return value
    if isinstance(value, kind) and not (isinstance(value, bool) and bool not in _kinds(kind)):
        if isinstance(value, str) and not value.isascii():
            _check_unicode(value, f"{where}.{key}")
        return value
    names = " or ".join(k.__name__ for k in _kinds(kind))
    raise StreamUnreadable(f"{where}.{key} is {type(value).__name__}, not {names}")


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _check_unicode(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise StreamUnreadable(f"{where} holds text that is not valid Unicode") from None


def arguments_text(value: Any, where: str) -> str:
    """A call's arguments as JSON text; some servers send the object itself instead of a string."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return typed({"arguments": value}, "arguments", str, where) or ""


def token_count(value: Any) -> int:
    """A usage number; usage is bookkeeping, so a wrong type counts as 0 rather than failing the reply."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- reading a body while showing that we wait -------------------------------------------------------


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


def read_body(open_response: Callable[[], Any], idle_seconds: float,
              wait_message: Callable[[int], str]) -> Iterator[bytes | Waiting]:
    """The body's bytes as they arrive, read by a thread; `Waiting` ticks while nothing comes; IdleTimeout
    after `idle_seconds` of silence. Closing the iterator abandons the request."""
    inbox: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    held: list[Any] = []
    thread = threading.Thread(target=_read_into, args=(open_response, inbox, stop, held), daemon=True,
                              name="model-reply")
    thread.start()
    last, shown, whole = time.monotonic(), False, False
    try:
        while True:
            silent = time.monotonic() - last
            if silent >= idle_seconds:
                raise IdleTimeout(silent)
            try:
                item = inbox.get(timeout=min(TICK_SECONDS, idle_seconds - silent))
            except queue.Empty:
                silent = time.monotonic() - last
                if silent >= WAIT_SHOWN_AFTER and silent < idle_seconds:
                    shown = True
                    yield Waiting(int(silent), wait_message(int(silent)))
                continue
            if item is _END:
                whole = True
                return
            if isinstance(item, _Failed):
                raise item.error
            if shown:
                shown = False
                yield Waiting(0, "the model is answering")
            last = time.monotonic()
            yield item
    finally:
        stop.set()
        if held and not whole:  # abandoned: free the reader thread now rather than at its read timeout
            _abort(held[0])


def _read_into(open_response: Callable[[], Any], inbox: queue.Queue[Any], stop: threading.Event,
               held: list[Any]) -> None:
    try:
        response = open_response()
        held.append(response)
        if stop.is_set():
            _abort(response)
            return
        try:
            for chunk in response.iter_bytes():
                if stop.is_set():
                    return
                inbox.put(chunk)
        except Exception as e:  # anything that ends the body early is a transport failure, whatever its type
            raise _body_failure(e) from e
        inbox.put(_END)
    except BaseException as e:
        inbox.put(_Failed(e))


def _body_failure(error: Exception) -> Exception:
    names = {cls.__name__ for cls in type(error).__mro__}
    if "TimeoutException" in names:
        return IdleTimeout(0)
    if "DecodingError" in names:
        return StreamUnreadable(f"a body that cannot be decoded ({error})")
    return StreamEndedEarly(f"the connection broke mid-reply: {error or type(error).__name__}")


def _abort(response: Any) -> None:
    """Close a response from another thread: shut its socket first, so a blocked read returns at once."""
    stream = getattr(response, "extensions", {}).get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    try:
        if sock is not None:
            import socket

            sock.shutdown(socket.SHUT_RDWR)
        response.close()
    except Exception:  # closing is best effort; the reader thread is a daemon either way
        pass


# --- retries -----------------------------------------------------------------------------------------


def retry_delay(error: BaseException, retry_number: int) -> float:
    """The server's retry-after(-ms) when it gives a sane one, else exponential back-off with jitter."""
    server = _retry_after(_headers_of(error))
    if server is not None and 0 <= server <= MAX_SERVER_DELAY:
        return server
    return min(0.5 * 2 ** (retry_number - 1), 8.0) * (1 - 0.25 * random.random())


def retryable(error: BaseException) -> bool:
    import openai

    if isinstance(error, openai.APIStatusError):
        header = error.response.headers.get("x-should-retry")
        if header in ("true", "false"):
            return header == "true"
        server = _retry_after(error.response.headers)
        if server is not None and server > MAX_SERVER_DELAY:
            return False
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return isinstance(error, openai.APIConnectionError | BrokenStream | IdleTimeout)


def _is_idle(error: BaseException) -> bool:
    import openai

    return isinstance(error, IdleTimeout | openai.APITimeoutError)


def _headers_of(error: BaseException) -> Any:
    response = getattr(error, "response", None)
    return getattr(response, "headers", None) or {}


def _retry_after(headers: Any) -> float | None:
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is not None:
            try:
                return float(value) / scale
            except ValueError:
                continue
    return None


# --- the client --------------------------------------------------------------------------------------


class EndpointClient:
    """What the endpoint back ends share: the SDK client, the model name, the status line, and what the server
    said about itself (read once, on first use: `context_window`), the output cap, and the warnings a reply
    earns once per session."""

    wire_api = ""

    def __init__(self, config: Config, model: str):
        self.config = config
        self.model = model
        self.provider = config.provider
        self._client = make_openai_client(config)
        self._server: ServerInfo = UNKNOWN
        self._warned: set[str] = set()
        # The server is asked while the session opens (off the first request's path, which joins it).
        self._discovery = threading.Thread(target=self._discover_quietly, name="server-info", daemon=True)
        self._discovery.start()

    def describe(self) -> str:
        return f"{self.model} via {self.provider.name} ({self.wire_api}) at {self.provider.base_url}"

    @property
    def server_info(self) -> ServerInfo:
        """What the server says about itself, asked once per client (so once per session); never raises."""
        self._discovery.join()
        return self._server

    def _discover_quietly(self) -> None:
        try:
            self._server = self._discover()
        except Exception:  # discovery is a courtesy: a server that answers oddly is simply unknown
            self._server = UNKNOWN

    def _discover(self) -> ServerInfo:
        """Runs on the discovery thread, started by __init__: an override may use only what __init__ set."""
        return discover(self._client, self.provider, self.model)

    @property
    def context_window(self) -> int | None:
        """The window to plan for: model_context_window from config, else what the server runs the model with."""
        return self.config.model_context_window or self.server_info.context_window

    def output_cap(self, request: ModelRequest) -> int:
        """max_tokens / max_output_tokens for this request: never absent, so no reply can loop until the window
        is full."""
        configured = request.max_output_tokens or self.config.model_max_output_tokens
        return output_cap(configured, self.context_window, estimate_prompt_tokens(request))

    def _server_window(self) -> int | None:
        """The window the server itself cuts or refuses at (not the configured one)."""
        return self.server_info.context_window

    def _checked(self, response: ModelResponse, request: ModelRequest) -> ModelResponse:
        """The reply with the warnings it earns, each once per session: the server read less of the prompt than
        we sent (it cut it silently)."""
        reported, estimated = response.usage.input_tokens, estimate_prompt_tokens(request)
        if "prompt cut" in self._warned or not prompt_was_cut(reported, estimated, self._server_window()):
            return response
        self._warned.add("prompt cut")
        where = f"{self.provider.name} at {self.provider.base_url}"
        warning = prompt_cut_warning(where, reported, estimated, self._server_window(), self._cut_fix())
        return replace(response, warnings=(*response.warnings, warning))

    def _cut_fix(self) -> str:
        """How to give the server a window that holds the prompt."""
        if self.server_info.kind == "ollama":
            return ("Ollama's OpenAI-compatible API cannot set the window: use the built-in ollama provider without "
                    f"wire_api in {self.config.config_file} (its native API sends num_ctx), or raise num_ctx "
                    "(PARAMETER num_ctx in the Modelfile, or OLLAMA_CONTEXT_LENGTH)")
        return ("start the server with a larger context (llama-server --ctx-size, llama_cpp.server --n_ctx, vLLM "
                f"--max-model-len) and set model_context_window in {self.config.config_file} to match")

    def _warn_once(self, key: str, response: ModelResponse, warning: str) -> ModelResponse:
        if key in self._warned:
            return response
        self._warned.add(key)
        return replace(response, warnings=(*response.warnings, warning))

    def _listed_models(self) -> list[str]:
        """The model ids the server lists at /models ([] when it lists none or cannot say)."""
        import openai

        try:
            listing = self._client.with_options(timeout=CONNECT_TIMEOUT, max_retries=0).get("/models", cast_to=object)
        except (openai.OpenAIError, UserError):
            return []
        entries = listing.get("data") if isinstance(listing, dict) else None
        return [e["id"] for e in entries or () if isinstance(e, dict) and isinstance(e.get("id"), str)]

    def _user_error(self, error: BaseException, attempts: int = 1) -> UserError:
        """The one sentence for a failed request; a 404 is explained by what the server lists."""
        import openai

        if isinstance(error, openai.NotFoundError):
            return self._not_found(error)
        return user_error(self.provider, self.model, error, attempts)

    def _not_found(self, error: openai.NotFoundError) -> UserError:
        provider, text = self.provider, _message(error)
        where, key = f"{provider.name} at {provider.base_url}", f"[model_providers.{provider.id}]"
        listed = self._listed_models()
        if listed and self.model not in listed:
            hint = (f"pull it with `ollama pull {self.model}`, or pass one of those with -m" if provider.id == "ollama"
                    else f"pass one of those with -m, or set model in {self.config.config_file}")
            shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
            return ModelRequestFailed(
                f"{where} does not serve model '{self.model}' ({text}); it lists {shown}: {hint}.")
        path = _request_path(error)
        if path.endswith("/responses") and "model" not in text.lower():
            return ModelRequestFailed(
                f"{where} does not speak the Responses API (404 for {path}): set wire_api = \"chat\" in {key} in "
                f"{self.config.config_file}.")
        if "model" in text.lower():
            hint = f"pull it with `ollama pull {self.model}`" if provider.id == "ollama" else "check -m / model"
            return ModelRequestFailed(f"{where} does not serve model '{self.model}' ({text}): {hint}.")
        return ModelRequestFailed(
            f"{where} answered 404 for {path or 'the request'} ({text}): check base_url in {key} in "
            f"{self.config.config_file} (OpenAI-compatible servers usually serve under /v1).")

    def _events(self, path: str, body: dict[str, Any]) -> Iterator[SseEvent | Waiting]:
        """POST body with stream=true to path (under base_url); its server-sent events and waiting ticks."""
        return sse_events(self._body(path, {**body, "stream": True}))

    def _post(self, path: str, body: dict[str, Any]) -> Generator[Waiting, None, dict[str, Any]]:
        """POST body to path (no streaming); yields waiting ticks, returns the JSON object it answered."""
        parts: list[bytes] = []
        for item in self._body(path, body):
            if isinstance(item, Waiting):
                yield item
            else:
                parts.append(item)
        return json_object(_decode(b"".join(parts)), "the answer")

    def _body(self, path: str, body: dict[str, Any]) -> Iterator[bytes | Waiting]:
        import openai

        def open_response() -> Any:
            return self._client.post(path, body=body, cast_to=object, stream=True,
                                     stream_cls=openai.Stream[object]).response

        return read_body(open_response, self.provider.stream_idle_timeout_ms / 1000, self._wait_message)

    def _wait_message(self, seconds: int) -> str:
        limit = self.provider.stream_idle_timeout_ms / 1000
        return (f"waiting for the model ({seconds} s; gives up after {limit:.0f} s of silence: "
                f"stream_idle_timeout_ms in [model_providers.{self.provider.id}])")

    def _retrying(self, attempt: Callable[[], Generator[StreamItem, None, T]]) -> Generator[StreamItem, None, T]:
        """Run `attempt` until it returns, retrying transport failures (see the module docstring)."""
        retries, idle_retried = self.provider.request_max_retries, False
        for number in itertools.count(1):
            try:
                return (yield from attempt())
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:  # a safety net only:
                raise self._user_error(  # the decoders raise StreamUnreadable themselves
                    StreamUnreadable(f"{type(error).__name__}: {error}"), number) from error
            except (UserError, StreamingRefused):
                raise
            except Exception as error:
                idle = _is_idle(error)
                if not retryable(error) or number > retries or (idle and idle_retried):
                    raise self._user_error(error, number) from error
                idle_retried = idle_retried or idle
                delay = retry_delay(error, number)
                yield Retrying(f"{self.provider.name} at {self.provider.base_url} {failure_text(error)}; retrying "
                               f"in {delay:.1f} s (attempt {number + 1} of {retries + 1})")
                time.sleep(delay)
        raise AssertionError("unreachable")


def make_openai_client(config: Config) -> openai.OpenAI:
    import openai

    provider = config.provider
    if not provider.base_url:
        raise UserError(f"Provider '{provider.id}' has no base_url; set it in [model_providers.{provider.id}].")
    guarded = {}
    if config.local_only:  # checked before any request; every request and redirect is checked again
        from agent.safety.local_only import check_url, make_guarded_http_client

        check_url(provider.base_url, config.local_only_allow_hosts, config_file=config.config_file)
        guarded["http_client"] = make_guarded_http_client(config.local_only_allow_hosts, config_file=config.config_file)
    return openai.OpenAI(
        **guarded,
        base_url=provider.base_url,
        api_key=_api_key(provider, config),
        default_headers=_headers(provider) or None,
        default_query=dict(provider.query_params) or None,
        max_retries=0,  # EndpointClient._retrying retries, so idle timeouts and cut streams follow one policy
        timeout=openai.Timeout(provider.stream_idle_timeout_ms / 1000 + READ_TIMEOUT_SLACK, connect=CONNECT_TIMEOUT),
    )


def _api_key(provider: ProviderInfo, config: Config) -> str:
    if not provider.env_key:
        return "local"  # local servers ignore it, but the SDK requires a value
    value = os.environ.get(provider.env_key)
    if not value:
        raise UserError(
            f"Provider '{provider.id}' reads its API key from ${provider.env_key}, which is not set: "
            f"export it, or remove env_key from [model_providers.{provider.id}] in {config.config_file}."
        )
    return value


def _headers(provider: ProviderInfo) -> dict[str, str]:
    headers = dict(provider.http_headers)
    for header, env_var in provider.env_http_headers.items():
        if os.environ.get(env_var):
            headers[header] = os.environ[env_var]
    return headers


# --- one sentence per failure ------------------------------------------------------------------------


def unreachable_message(provider: ProviderInfo, detail: str) -> str:
    hint = START_HINTS.get(provider.id, f"start the server or fix base_url in [model_providers.{provider.id}]")
    return f"Cannot reach {provider.name} at {provider.base_url} ({detail}): {hint}."


def failure_text(error: BaseException) -> str:
    """What went wrong, as the end of "<server> at <url> …" (for retry notices)."""
    import openai

    match error:
        case IdleTimeout() | openai.APITimeoutError():
            return "sent nothing for too long"
        case StreamEndedEarly(detail=detail):
            return f"ended the reply before it was complete ({detail})"
        case StreamUnreadable(detail=detail):
            return f"sent a reply that cannot be read ({detail})"
        case openai.APIStatusError(status_code=status):
            return f"answered {status}"
        case openai.APIConnectionError():
            return f"could not be reached ({_root_cause(error)})"
    return str(error)


def user_error(provider: ProviderInfo, model: str, error: BaseException, attempts: int = 1) -> UserError:
    """The user-facing error for a failure of a request (after `attempts` tries)."""
    import openai

    where = f"{provider.name} at {provider.base_url}"
    key = f"[model_providers.{provider.id}]"
    tries = f", {attempts} attempts" if attempts > 1 else ""
    match error:
        case UserError():
            return error
        case IdleTimeout() | openai.APITimeoutError():
            idle = provider.stream_idle_timeout_ms
            return ModelUnavailable(
                f"{where} sent nothing for {idle / 1000:.0f} s{', twice' if attempts > 1 else ''}: raise "
                f"stream_idle_timeout_ms in {key} (now {idle}) if the model needs longer to read the prompt, "
                "or check that the server is not stuck.")
        case StreamEndedEarly(detail=detail):
            return ModelUnavailable(
                f"{where} ended the reply before it was complete ({detail}{tries}), so none of it was used: "
                f"check the server's log; request_max_retries in {key} sets how often a reply is retried.")
        case StreamUnreadable(detail=detail):
            wire = WIRE_NAMES.get(provider.wire_api, provider.wire_api)
            return ModelRequestFailed(
                f"{where} sent a reply that is not a {wire} stream ({detail}{tries}): check that base_url and "
                f"wire_api in {key} name an OpenAI-compatible server.")
        case StreamReportedError():
            return ModelRequestFailed(f"{where} failed the request: {error}")
        case openai.APIConnectionError():
            return ModelUnavailable(unreachable_message(provider, _root_cause(error)))
        case openai.NotFoundError():
            hint = f"pull it with `ollama pull {model}`" if provider.id == "ollama" else "check -m / model"
            return ModelRequestFailed(f"{where} does not serve model '{model}' ({_message(error)}): {hint}.")
        case openai.AuthenticationError():
            return ModelRequestFailed(
                f"{where} rejected the API key ({_message(error)}): check ${provider.env_key or 'env_key'}.")
        case openai.APIStatusError(status_code=status):
            text = _message(error)
            if any(marker in text.lower() for marker in CONTEXT_ERROR_MARKERS):
                return ContextWindowExceeded(
                    f"The conversation no longer fits {model}'s context window ({text}): "
                    "start a new session or compact the history.")
            return ModelRequestFailed(f"{where} answered {status}{tries}: {text}")
        case openai.APIError(message=message):
            return ModelRequestFailed(f"{where} failed the request: {message}")
    raise error


@contextmanager
def translated_errors(provider: ProviderInfo, model: str) -> Iterator[None]:
    """Turn `openai` exceptions and broken streams into the session's user-facing error types."""
    import openai

    try:
        yield
    except (openai.OpenAIError, BrokenStream, StreamReportedError, IdleTimeout) as e:
        raise user_error(provider, model, e) from e


def error_text(error: openai.APIStatusError) -> str:
    """What the server said in an error answer (its message, else the SDK's summary)."""
    return _message(error)


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body:  # the SDK unwraps {"error": "text"} (Ollama's form) to the text
        return body
    return error.message


def _request_path(error: openai.APIStatusError) -> str:
    try:
        return str(error.request.url.path)
    except Exception:  # an error built without a request
        return ""


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error) or type(error).__name__
    return "connection refused" if "refused" in text.lower() else text
