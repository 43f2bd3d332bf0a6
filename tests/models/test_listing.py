"""`codex models` lists what the embedded engine can find, with sizes, through the real command; the /model
picker's listing asks an endpoint through the back end's own client, and says why when it cannot."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from agent.config import DEFAULT_MODELS, Config, Overrides, load_config
from agent.models.listing import ModelChoice, models_to_choose
from tests.conftest import RunCodex
from tests.fakes.scripted_server import ScriptedServer


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


# --- the /model picker's listing (models_to_choose) ------------------------------------------------------------


def endpoint_config(base_url: str, home: Path, *extra: str) -> Config:
    return load_config(Overrides(cwd=home, config_overrides=(
        "model=scripted", "model_provider=box", 'model_providers.box.name="Box"',
        f'model_providers.box.base_url="{base_url}"', *extra,
    )), env={"CODEX_HOME": str(home), "HOME": str(home)})


def test_the_picker_lists_the_endpoints_models_then_each_providers_default(tmp_path: Path):
    with ScriptedServer([]) as server:
        url = server.base_url
        listing = models_to_choose(endpoint_config(url, tmp_path))
        listed = [r for r in server.requests if r.path.endswith("/models")]

    assert listing.problem is None
    assert listing.choices[0] == ModelChoice("box", "scripted", "scripted", f"Box · {url}")
    assert len(listed) == 1
    assert ("ollama", DEFAULT_MODELS["ollama"]) in [(c.provider, c.model) for c in listing.choices]


def test_an_endpoint_that_is_not_running_is_one_sentence_with_its_url_and_the_fix(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"

    listing = models_to_choose(endpoint_config(url, tmp_path))

    assert listing.problem == (f"Could not list the models: Box at {url}/models could not be reached (connection "
                               f"refused); start the server or fix base_url in [model_providers.box] in "
                               f"{tmp_path / 'config.toml'}, or type a model name.")
    assert ("box", "scripted") in [(c.provider, c.model) for c in listing.choices]  # the current one stays


def test_local_only_refuses_to_list_a_public_endpoint(tmp_path: Path):
    listing = models_to_choose(endpoint_config("http://203.0.113.9:8080/v1", tmp_path, "local_only=true"))

    assert listing.problem is not None and "local_only" in listing.problem and "203.0.113.9" in listing.problem


def test_a_server_that_refuses_the_listing_says_what_it_answered(tmp_path: Path):
    class NoListing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "no such route"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NoListing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        listing = models_to_choose(endpoint_config(url, tmp_path))
    finally:
        server.shutdown()
        server.server_close()

    assert listing.problem is not None
    assert listing.problem.startswith(f"Could not list the models: Box at {url}/models answered 404; check base_url ")
