"""What an OpenAI-compatible server says about itself: which server it is and the context window it runs the
model with, read once per session from the endpoints each server family documents.

* llama.cpp's `llama-server`: `GET /props` → `default_generation_settings.n_ctx` (older builds: `n_ctx`);
* Ollama: `POST /api/show {"model"}` → `model_info["<arch>.context_length"]` (the trained length) and the
  `num_ctx` line of `parameters` (what the model is run with; Ollama's documented default is 2048);
* LM Studio: `GET /api/v0/models` → the model's `loaded_context_length` (else `max_context_length`);
* vLLM, recognised by `GET /version`: `GET /v1/models` → the model's `max_model_len`.

Unknown servers answer 404 to these and the window stays unknown (the caller then uses config or nothing).
Probes are quiet and cheap: a short timeout, no retries, and the first connection failure ends discovery (the
real request will say what is wrong). They go through the endpoint's own SDK client, so `local_only`, headers,
query parameters and the API key apply exactly as to model requests.

Also here, because they read what the server said: the default output cap sized to the window, a rough
prompt-size estimate, and the test for a prompt the server cut silently.

Not here: sending model requests (endpoint.py and the back ends) or deciding what a session does with the window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.config import ProviderInfo
from agent.models.base import ModelRequest

if TYPE_CHECKING:
    import openai

PROBE_TIMEOUT = 3.0  # seconds per probe; a local server answers these in milliseconds
OLLAMA_DEFAULT_NUM_CTX = 2048  # Ollama's documented default when neither the request nor the Modelfile sets one
DEFAULT_OUTPUT_CAP = 4096  # tokens, when neither config nor the window says more
MIN_OUTPUT_CAP = 256  # the default cap never shrinks below this to fit the prompt (the request would fail anyway)
SMALLEST_WINDOW = 2048  # the smallest default window common servers start with (llama_cpp.server, Ollama)
CUT_RATIO = 0.6  # a reported prompt below this share of our estimate was cut (estimates err low, not high)
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ServerInfo:
    """What discovery learned. `context_window` is the window the server runs the model with (the one it refuses
    or truncates at); `trained_window` the model's trained length where the server says it (Ollama, LM Studio)."""

    kind: str = ""  # "llama.cpp" | "ollama" | "lmstudio" | "vllm" | "" (unknown)
    context_window: int | None = None
    trained_window: int | None = None
    num_ctx_parameter: int | None = None  # Ollama: the Modelfile's PARAMETER num_ctx, when set
    capabilities: tuple[str, ...] = ()  # Ollama's /api/show "capabilities" (e.g. "tools"), newest versions only


UNKNOWN = ServerInfo()


def server_root(base_url: str) -> str:
    """The server's root URL: base_url without a trailing `/v1` (llama.cpp, Ollama and LM Studio serve their own
    endpoints there)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def discover(client: openai.OpenAI, provider: ProviderInfo, model: str) -> ServerInfo:
    """Ask the server which it is and its window; never raises (an unknown server gives UNKNOWN)."""
    if provider.base_url is None or provider.id == "openai":
        return UNKNOWN  # in-process, or a hosted API with no such endpoints
    probe = _Prober(client.with_options(timeout=PROBE_TIMEOUT, max_retries=0), server_root(provider.base_url))
    order: list[Callable[[_Prober, str], ServerInfo | None]] = [_llama_cpp, _ollama_if_running, _lm_studio, _vllm]
    if provider.id == "ollama":
        order = [_ollama]
    elif provider.id == "lmstudio":
        order = [_lm_studio]
    for family in order:
        info = family(probe, model)
        if info is not None:
            return info
        if probe.unreachable:
            break
    return UNKNOWN


def ollama_show(client: openai.OpenAI, provider: ProviderInfo, model: str) -> ServerInfo:
    """Ollama's /api/show for `model` (UNKNOWN when it does not answer)."""
    if provider.base_url is None:
        return UNKNOWN
    probe = _Prober(client.with_options(timeout=PROBE_TIMEOUT, max_retries=0), server_root(provider.base_url))
    return _ollama(probe, model) or UNKNOWN


# --- the probes -----------------------------------------------------------------------------------------


class _Prober:
    """GET/POST on the server root that return JSON objects, or None for any failure."""

    def __init__(self, client: openai.OpenAI, root: str):
        self.client, self.root, self.unreachable = client, root, False

    def get(self, path: str) -> dict[str, Any] | None:
        return self._ask(lambda: self.client.get(self.root + path, cast_to=object))

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        return self._ask(lambda: self.client.post(self.root + path, body=body, cast_to=object))

    def _ask(self, send: Callable[[], Any]) -> dict[str, Any] | None:
        import openai

        try:
            answer = send()
        except openai.APIConnectionError:
            self.unreachable = True  # down, refused, or slower than a probe may be: stop asking
            return None
        except Exception:  # 404, non-JSON, local_only refusing a redirect...: this server is not that family
            return None
        return answer if isinstance(answer, dict) else None


def _llama_cpp(probe: _Prober, model: str) -> ServerInfo | None:
    props = probe.get("/props")
    if props is None:
        return None
    settings = props.get("default_generation_settings")
    n_ctx = _count(settings.get("n_ctx")) if isinstance(settings, dict) else None
    n_ctx = n_ctx or _count(props.get("n_ctx"))
    return ServerInfo("llama.cpp", n_ctx) if n_ctx else None


def _ollama_if_running(probe: _Prober, model: str) -> ServerInfo | None:
    version = probe.get("/api/version")
    return _ollama(probe, model) if version is not None and "version" in version else None


def _ollama(probe: _Prober, model: str) -> ServerInfo | None:
    shown = probe.post("/api/show", {"model": model})
    if shown is None:
        return None
    info = shown.get("model_info") if isinstance(shown.get("model_info"), dict) else {}
    arch = info.get("general.architecture")
    trained = _count(info.get(f"{arch}.context_length")) if isinstance(arch, str) else None
    trained = trained or next((_count(v) for k, v in info.items() if k.endswith(".context_length") and _count(v)),
                              None)
    parameter = _num_ctx_parameter(shown.get("parameters"))
    runs_with = parameter or (min(trained, OLLAMA_DEFAULT_NUM_CTX) if trained else OLLAMA_DEFAULT_NUM_CTX)
    capabilities = tuple(c for c in shown.get("capabilities") or () if isinstance(c, str))
    return ServerInfo("ollama", runs_with, trained, parameter, capabilities)


def _num_ctx_parameter(parameters: Any) -> int | None:
    if not isinstance(parameters, str):
        return None
    found = re.search(r"^\s*num_ctx\s+(\d+)\s*$", parameters, re.MULTILINE)
    return int(found.group(1)) if found else None


def _lm_studio(probe: _Prober, model: str) -> ServerInfo | None:
    listing = probe.get("/api/v0/models")
    if listing is None or not isinstance(listing.get("data"), list):
        return None
    entry = _entry(listing["data"], model)
    if entry is None:
        return ServerInfo("lmstudio")
    trained = _count(entry.get("max_context_length"))
    return ServerInfo("lmstudio", _count(entry.get("loaded_context_length")) or trained, trained)


def _vllm(probe: _Prober, model: str) -> ServerInfo | None:
    version = probe.get("/version")
    if version is None or "version" not in version:
        return None
    listing = probe.get("/v1/models")
    entries = listing.get("data") if listing is not None else None
    entry = _entry(entries, model) if isinstance(entries, list) else None
    return ServerInfo("vllm", _count(entry.get("max_model_len")) if entry else None)


def _entry(entries: list[Any], model: str) -> dict[str, Any] | None:
    """The listing entry for `model`; the only entry when the server lists one (it serves that one)."""
    objects = [e for e in entries if isinstance(e, dict)]
    named = [e for e in objects if e.get("id") == model]
    return named[0] if named else (objects[0] if len(objects) == 1 else None)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# --- what the window implies -----------------------------------------------------------------------------


def output_cap(configured: int | None, window: int | None, prompt_tokens: int = 0) -> int:
    """Tokens a reply may use: the configured cap, else a quarter of the window up to DEFAULT_OUTPUT_CAP, and no
    more than the window has left after the prompt (vLLM refuses a request whose prompt plus cap exceeds it)."""
    if configured:
        return configured
    if not window:
        return DEFAULT_OUTPUT_CAP
    cap = max(1, min(DEFAULT_OUTPUT_CAP, window // 4))
    room = window - prompt_tokens
    return min(cap, room) if room >= MIN_OUTPUT_CAP else cap


def estimate_prompt_tokens(request: ModelRequest) -> int:
    """A rough size of the prompt (characters / 4 of what the model reads); real counts are usually higher."""
    tools = json.dumps([t.parameters for t in request.tools]) if request.tools else ""
    body = sum(len(m.content) + sum(len(c.arguments) for c in m.tool_calls) for m in request.messages)
    return (len(request.instructions) + len(tools) + body) // CHARS_PER_TOKEN


def prompt_was_cut(reported: int, estimated: int, server_window: int | None) -> bool:
    """Whether the server read fewer prompt tokens than we sent: it reports well under our estimate, and the
    estimate does not fit the window the server runs with (so a server that answered must have cut it; a prompt
    that fits and was served partly from a cache, which some servers leave out of the count, is not flagged)."""
    window = server_window or SMALLEST_WINDOW
    return 0 < reported < CUT_RATIO * estimated and estimated > window


def prompt_cut_warning(where: str, reported: int, estimated: int, window: int | None, fix: str) -> str:
    """One sentence: the server cut the prompt, and `fix`."""
    shown = f" (its window is {window} tokens)" if window else ""
    return (f"{where} read only {reported} prompt tokens of about {estimated} sent: it cut the start of the "
            f"conversation silently{shown}; {fix}.")
