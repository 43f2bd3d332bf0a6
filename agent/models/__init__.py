"""Model back ends behind one `ModelClient` protocol, chosen by a registry from config.

A back end registers a factory under a key: a provider's `wire_api` ("chat",
"responses") for endpoints, or the provider id itself for in-process engines
("embedded"). Adding a back end never needs an `if` in the session.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.config import Config
from agent.errors import UserError
from agent.models.base import ModelClient

StatusSink = Callable[[str], None]
Factory = Callable[[Config, StatusSink], ModelClient]


def _embedded(config: Config, on_status: StatusSink) -> ModelClient:
    from agent.models.embedded import EmbeddedClient
    from agent.models.resolve import resolve_configured_model

    return EmbeddedClient(config, resolve_configured_model(config), on_status)


def _chat(config: Config, on_status: StatusSink) -> ModelClient:
    from agent.models.chat import ChatClient

    return ChatClient(config, _endpoint_model(config))


def _responses(config: Config, on_status: StatusSink) -> ModelClient:
    from agent.models.responses import ResponsesClient

    return ResponsesClient(config, _endpoint_model(config))


def _ollama(config: Config, on_status: StatusSink) -> ModelClient:
    from agent.models.ollama import OllamaClient

    return OllamaClient(config, _endpoint_model(config))


REGISTRY: dict[str, Factory] = {"embedded": _embedded, "chat": _chat, "responses": _responses, "ollama": _ollama}


def _endpoint_model(config: Config) -> str:
    if config.model:
        return config.model
    only = _only_listed_model(config)  # e.g. a gateway reached through the Codex SDK's baseUrl, no model named
    if only is None:
        raise UserError(
            f"No model is set for provider '{config.provider.id}': pass -m MODEL or set model in {config.config_file}."
        )
    return only


def _only_listed_model(config: Config) -> str | None:
    """The model an endpoint lists at /models when it lists exactly one (ask the server, do not assume)."""
    import openai

    from agent.models.endpoint import make_openai_client

    try:
        listed = [m.id for m in make_openai_client(config).with_options(timeout=10, max_retries=0).models.list()]
    except (openai.OpenAIError, UserError):
        return None
    return listed[0] if len(listed) == 1 else None


def make_client(config: Config, on_status: StatusSink | None = None) -> ModelClient:
    """The back end for `config.provider`; `on_status` receives progress lines (e.g. model loading)."""
    provider = config.provider
    key = provider.id if provider.base_url is None else provider.wire_api  # in-process engines have no URL
    if provider.id == "ollama" and provider.builtin and not provider.wire_api_explicit:
        key = "ollama"  # Ollama's native API, the only one that can set its window (agent/models/ollama.py)
    factory = REGISTRY.get(key)
    if factory is None:
        raise UserError(f"Provider '{provider.id}' needs back end '{key}', which this build does not have.")
    sink = on_status or (lambda _line: None)
    client = factory(config, sink)
    if provider.base_url is None:
        return client
    from agent.models.text_tools import with_tool_format  # tool_call_format: native, text or auto

    return with_tool_format(client, config, sink)
