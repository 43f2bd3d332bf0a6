"""What the two OpenAI-compatible back ends share: building the SDK client, sending a request,
and turning SDK errors into one sentence a user can act on.

Retries with backoff on connection errors, 408/409/429 and 5xx are the `openai` SDK's own
(`max_retries` = the provider's `request_max_retries`); the read timeout is the provider's
`stream_idle_timeout_ms`, so a stream that stalls that long fails instead of hanging.

Requests go through the SDK's generic `post` with `cast_to=object`: its retries, error types,
authentication and server-sent-event decoding, but plain dicts instead of its typed models.
`client.responses` / `client.chat` would import the typed resources and validate every streamed
event into pydantic models, which costs more than the whole request to a local server (~0.3 s per
run measured in benchmarks/harness.py), and OpenAI-compatible servers differ in the fields they
send anyway, so the back ends read what is there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agent.config import Config, ProviderInfo
from agent.errors import UserError
from agent.models.base import ContextWindowExceeded, ModelRequestFailed, ModelUnavailable

if TYPE_CHECKING:
    import openai

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


class EndpointClient:
    """What the chat and responses back ends share: the SDK client, the model name, the status line."""

    wire_api = ""

    def __init__(self, config: Config, model: str):
        self.config = config
        self.model = model
        self.provider = config.provider
        self._client = make_openai_client(config)

    def describe(self) -> str:
        return f"{self.model} via {self.provider.name} ({self.wire_api}) at {self.provider.base_url}"

    def _events(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST body with stream=true to path (under base_url); yield each server-sent event's JSON."""
        import openai

        stream = self._client.post(path, body={**body, "stream": True}, cast_to=object, stream=True,
                                   stream_cls=openai.Stream[object])
        with stream:
            for event in stream:
                if isinstance(event, dict):
                    yield event

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST body to path (no streaming) and return the JSON answer."""
        answer = self._client.post(path, body=body, cast_to=object)
        return answer if isinstance(answer, dict) else {}


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
        max_retries=provider.request_max_retries,
        timeout=openai.Timeout(provider.stream_idle_timeout_ms / 1000, connect=10.0),
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


def unreachable_message(provider: ProviderInfo, detail: str) -> str:
    hint = START_HINTS.get(provider.id, f"start the server or fix base_url in [model_providers.{provider.id}]")
    return f"Cannot reach {provider.name} at {provider.base_url} ({detail}): {hint}."


@contextmanager
def translated_errors(provider: ProviderInfo, model: str) -> Iterator[None]:
    """Turn `openai` exceptions into the session's user-facing error types."""
    import openai

    try:
        yield
    except openai.APITimeoutError as e:
        raise ModelUnavailable(
            f"{provider.name} at {provider.base_url} stopped answering "
            f"(no data for {provider.stream_idle_timeout_ms} ms): raise stream_idle_timeout_ms "
            f"in [model_providers.{provider.id}] for slow models."
        ) from e
    except openai.APIConnectionError as e:
        raise ModelUnavailable(unreachable_message(provider, _root_cause(e))) from e
    except openai.NotFoundError as e:
        raise ModelRequestFailed(
            f"{provider.name} at {provider.base_url} does not serve model '{model}' ({_message(e)}): "
            f"{'pull it with `ollama pull ' + model + '`' if provider.id == 'ollama' else 'check -m / model'}."
        ) from e
    except openai.AuthenticationError as e:
        raise ModelRequestFailed(
            f"{provider.name} at {provider.base_url} rejected the API key ({_message(e)}): "
            f"check ${provider.env_key or 'env_key'}."
        ) from e
    except openai.APIStatusError as e:
        text = _message(e)
        if any(marker in text.lower() for marker in CONTEXT_ERROR_MARKERS):
            raise ContextWindowExceeded(
                f"The conversation no longer fits {model}'s context window ({text}): "
                "start a new session or compact the history."
            ) from e
        raise ModelRequestFailed(f"{provider.name} at {provider.base_url} answered {e.status_code}: {text}") from e
    except openai.APIError as e:  # e.g. an error event in the middle of a stream
        raise ModelRequestFailed(f"{provider.name} at {provider.base_url} failed the request: {e.message}") from e


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return error.message


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error) or type(error).__name__
    return "connection refused" if "refused" in text.lower() else text
