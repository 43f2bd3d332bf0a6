"""`codex doctor`: one screen about the configured model provider that a user can paste into a bug report.

For an endpoint: which server it is (llama.cpp's llama-server, llama_cpp.server, Ollama, LM Studio, vLLM or
unknown, from what it answers), the models it lists, the window it runs the model with, whether it reads
`tools` (agent/models/tool_support.py's probe), whether a streamed request with tools works, and the settings
a session will use (wire_api, tool_call_format, output cap, window). Exit 0 when the server answers, 1 when it
does not (one sentence with the URL and the fix). For the embedded engine: the model file, its size, the
window and the threads it would load with (the model is not loaded).

The checks send real requests, each tiny (a few tokens to generate). This module only reports; it changes
nothing and caches nothing beyond the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import Config, Overrides, load_config

if TYPE_CHECKING:
    import openai

    from agent.models import tool_support

LABEL_WIDTH = 22
STREAM_CHECK_TOKENS = 32


@dataclass
class Report:
    """Lines of `label: value`; `ok` is False when the provider cannot be used at all."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    ok: bool = True
    failure: str = ""

    def add(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def text(self) -> str:
        lines = [f"{label + ':':<{LABEL_WIDTH}}{value}" for label, value in self.rows]
        if self.failure:
            lines.append(f"error: {self.failure}")
        return "\n".join(lines)


def run_doctor(overrides: Overrides) -> int:
    """Print the report for the provider `overrides` select; 0 when it answers, 1 when it does not."""
    config = load_config(overrides)
    report = check(config)
    print(report.text(), flush=True)
    return 0 if report.ok else 1


def check(config: Config) -> Report:
    report = Report()
    report.add("codex-local", __version__)
    where = f" (profile {config.profile})" if config.profile else ""
    report.add("config", f"{config.config_file}{where}")
    for warning in config.warnings:
        report.add("config warning", warning)
    if config.provider.base_url is None:
        _embedded(config, report)
    else:
        _endpoint(config, report)
    return report


# --- the embedded engine ------------------------------------------------------------------------------------


def _embedded(config: Config, report: Report) -> None:
    from agent.errors import UserError
    from agent.models.embedded import EngineOptions, _trained_context, default_threads, planned_context
    from agent.models.resolve import resolve_configured_model

    report.add("provider", f"{config.provider.id} (llama.cpp in this process, llama-cpp-python)")
    try:
        model = resolve_configured_model(config)
    except UserError as error:
        report.ok, report.failure = False, str(error)
        return
    options = EngineOptions.from_options(config.provider.options)
    trained = _trained_context(model.path)
    n_ctx = planned_context(options, config.model_context_window, trained)
    decode, prompt = default_threads()
    report.add("model", f"{model.name} ({model.source})")
    report.add("model file", f"{model.path} ({model.size_bytes / 1e6:.0f} MB)")
    report.add("window (n_ctx)", f"{n_ctx} tokens" + (f" (trained for {trained})" if trained else ""))
    prompt_threads = options.n_threads_batch or options.n_threads or prompt
    report.add("threads", f"{options.n_threads or decode} decode, {prompt_threads} prompt")
    report.add("settings", f"chat_format {options.chat_format or 'the GGUF template'} · tools: grammar-constrained "
                           "calls (native to the engine)")


# --- endpoints ------------------------------------------------------------------------------------------------


def _endpoint(config: Config, report: Report) -> None:
    from agent.errors import UserError
    from agent.models import tool_support
    from agent.models.endpoint import make_openai_client

    provider = config.provider
    report.add("provider", f"{provider.id} ({provider.name}) at {provider.base_url}")
    try:
        client = make_openai_client(config)
    except UserError as error:
        report.ok, report.failure = False, str(error)
        return
    answer = _reach(client, config)
    if isinstance(answer, str):
        report.ok, report.failure = False, answer
        return
    ids, listing_kind = answer
    model = config.model or (ids[0] if len(ids) == 1 else "")
    info = _server_info(client, config, model)
    kind = info.kind or listing_kind
    report.add("server", _KIND_NAMES.get(kind, "unknown (not llama.cpp, llama_cpp.server, Ollama, LM Studio "
                                               "or vLLM by what it answers)"))
    report.add("models listed", ", ".join(ids) if ids else "none (the server has no /models listing)")
    if not model:
        report.add("model", f"not set: pass -m MODEL or set model in {config.config_file}")
        return
    unlisted = f" (not among the listed models: check -m / model in {config.config_file})"
    report.add("model", model + ("" if not ids or model in ids else unlisted))
    window = config.model_context_window or info.context_window
    if info.context_window:
        report.add("server window", f"{info.context_window} tokens")
    else:
        report.add("server window", "not reported by the server")
    verdict = tool_support.probe(client, config.provider.wire_api, model)
    report.add("tools", f"{verdict.format}: {verdict.reason}")
    report.add("streaming with tools", _streaming_with_tools(config, model))
    report.add("settings", _settings(config, model, window, _format_used(config, model, kind, verdict)))


_KIND_NAMES = {"llama.cpp": "llama.cpp llama-server", "llama_cpp.server": "llama-cpp-python's llama_cpp.server",
               "ollama": "Ollama", "lmstudio": "LM Studio", "vllm": "vLLM"}


def _reach(client: openai.OpenAI, config: Config) -> tuple[list[str], str] | str:
    """(model ids, the family the listing points to), or the sentence saying the server does not answer."""
    import openai

    from agent.models.endpoint import unreachable_message
    from agent.models.tool_support import listing_kind

    try:
        listing = client.with_options(timeout=10, max_retries=0).get("/models", cast_to=object)
    except openai.APIConnectionError as error:
        detail = "connection refused" if "refused" in str(error.__cause__ or error).lower() else str(error)
        return unreachable_message(config.provider, detail)
    except openai.APIStatusError:  # it answered, just not with a listing
        return [], ""
    entries = listing.get("data") if isinstance(listing, dict) else None
    ids = [e["id"] for e in entries or () if isinstance(e, dict) and isinstance(e.get("id"), str)]
    return ids, listing_kind(listing)


def _server_info(client: openai.OpenAI, config: Config, model: str) -> Any:
    from agent.models import server_info

    return server_info.discover(client, config.provider, model)


def _streaming_with_tools(config: Config, model: str) -> str:
    """One streamed request that offers a tool, through the back end a session uses (native tools)."""
    from dataclasses import replace

    from agent.errors import UserError
    from agent.models import make_client
    from agent.models.base import Message, ModelRequest, ModelResponse, ToolSpec
    from agent.models.tool_support import PROBE_INSTRUCTIONS, PROBE_QUESTION, PROBE_TOOL

    native = replace(config, model=model, tool_call_format="native")
    native = replace(native, provider=replace(native.provider, options={**native.provider.options,
                                                                         "tool_call_format": "native"}))
    tool = ToolSpec(PROBE_TOOL["name"], PROBE_TOOL["description"], PROBE_TOOL["parameters"])
    request = ModelRequest(PROBE_INSTRUCTIONS, (Message("user", PROBE_QUESTION),), (tool,),
                           max_output_tokens=STREAM_CHECK_TOKENS)
    try:
        client = make_client(native)
        reply = next(item for item in client.stream(request) if isinstance(item, ModelResponse))
    except UserError as error:
        return f"fails ({error})"
    if getattr(client, "streams_with_tools", True) is False:
        return "no: the server cannot stream when tools are offered; such requests are sent unstreamed"
    answered = "a tool call" if reply.tool_calls else "text"
    return f"yes (the reply was {answered})"


def _settings(config: Config, model: str, window: int | None, tool_call_format: str) -> str:
    from agent.models.server_info import output_cap

    cap = output_cap(config.model_max_output_tokens, window)
    shown_window = f"{window} tokens" if window else "unknown (set model_context_window)"
    return (f"wire_api {config.provider.wire_api} · tool_call_format {tool_call_format} · "
            f"output cap {cap} tokens · window {shown_window}")


def _format_used(config: Config, model: str, kind: str, verdict: tool_support.Verdict) -> str:
    """The tool format a session will use; for "auto", what it will find out (or fail to) by itself."""
    from agent.models.quirks import endpoint_quirks
    from agent.models.text_tools import configured_format

    setting = configured_format(config, model)
    if setting != "auto":
        return setting
    if verdict.format == "native" or verdict.rejected or kind in endpoint_quirks(model).probe_servers:
        return f"auto → {verdict.format}"
    return (f'auto → native, but this server drops tools: set tool_call_format = "text" in '
            f"[model_providers.{config.provider.id}]")
