"""`codex models` lists what the embedded engine can find, with sizes, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCodex


def plant_ollama_model(root: Path, name: str, tag: str, size: int) -> Path:
    digest = "ab" * 32
    blob = root / "blobs" / f"sha256-{digest}"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"GGUF" + b"\0" * (size - 4))
    manifest = root / "manifests/registry.ollama.ai/library" / name / tag
    manifest.parent.mkdir(parents=True)
    layer = {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": size}
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": [layer]}))
    return blob


def test_codex_models_lists_the_default_and_ollama_pulls(tmp_path: Path, run_codex: RunCodex):
    store = tmp_path / "ollama"
    blob = plant_ollama_model(store, "qwen2.5-coder", "7b", 3_000_000)

    run = run_codex(["models"], tmp_path, env={"OLLAMA_MODELS": str(store), "HOME": str(tmp_path)})

    assert run.returncode == 0, run.stderr
    assert "SmolLM2-135M-Instruct" in run.stdout and "98 MB" in run.stdout
    line = next(line for line in run.stdout.splitlines() if "qwen2.5-coder:7b" in line)
    assert "3 MB" in line and "ollama" in line and str(blob) in line


def test_unknown_model_name_lists_every_place_searched(tmp_path: Path, run_codex: RunCodex):
    run = run_codex(["exec", "--oss", "-m", "no-such-model", "--skip-git-repo-check", "hi"], tmp_path,
                    env={"OLLAMA_MODELS": str(tmp_path / "ollama"), "HOME": str(tmp_path)})

    assert run.returncode == 2  # a model that names nothing is a usage error
    assert "no-such-model" in run.stderr
    for place in ("Ollama", "LM Studio", "Hugging Face"):
        assert place in run.stderr
