"""The context window is read from the server, once per session, over real HTTP: llama.cpp's /props, LM Studio's
model listing, vLLM's max_model_len, Ollama's /api/show; config still overrides; unknown and unreachable
servers leave it unknown without an error; local_only guards the probes as it guards model requests."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config
from agent.errors import UserError
from agent.models.chat import ChatClient
from agent.models.server_info import output_cap, prompt_was_cut
from tests.fakes.ollama_server import FakeOllama, OllamaModel
from tests.fakes.scripted_server import ScriptedServer, ServedAs


def endpoint_config(base_url: str, home: Path, *extra: str, provider: str = "box") -> Config:
    return load_config(Overrides(cwd=home, config_overrides=(
        "model=scripted", f"model_provider={provider}", f'model_providers.{provider}.name="Box"',
        f'model_providers.{provider}.base_url="{base_url}"', f"model_providers.{provider}.request_max_retries=0",
        *extra,
    )), env={"CODEX_HOME": str(home), "HOME": str(home)})


@pytest.mark.parametrize("kind", ["llama.cpp", "lmstudio", "vllm"])
def test_window_is_read_from_the_server_once(kind, tmp_path: Path):
    with ScriptedServer([], serves_as=ServedAs(kind, 3072)) as server:  # type: ignore[arg-type]
        client = ChatClient(endpoint_config(server.base_url, tmp_path), "scripted")
        windows = [client.context_window for _ in range(3)]
        probes = len(server.probes)

    assert windows == [3072, 3072, 3072]
    assert client.server_info.kind == kind
    assert probes <= 4  # a handful of cheap GETs, and only the first time


def test_configured_window_overrides_the_server(tmp_path: Path):
    with ScriptedServer([], serves_as=ServedAs("llama.cpp", 3072)) as server:
        client = ChatClient(endpoint_config(server.base_url, tmp_path, "model_context_window=16384"), "scripted")
        assert client.context_window == 16384


def test_a_server_that_says_nothing_leaves_the_window_unknown(tmp_path: Path):
    with ScriptedServer([]) as server:
        client = ChatClient(endpoint_config(server.base_url, tmp_path), "scripted")
        assert client.context_window is None
        assert server.requests == []  # the probes are all the server saw; none of them is a model request
        assert {p.path for p in server.probes} <= {"/props", "/api/version", "/api/v0/models", "/version"}


def test_a_server_that_is_down_leaves_the_window_unknown_quickly(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ChatClient(endpoint_config(f"http://127.0.0.1:{port}/v1", tmp_path), "scripted")
    assert client.context_window is None


def test_ollama_window_is_its_num_ctx_parameter_or_its_default(tmp_path: Path):
    models = (OllamaModel("big:latest", context_length=131072), OllamaModel("tuned:latest", num_ctx=16384))
    with FakeOllama([], models) as fake:
        found = {}
        for model in models:
            client = ChatClient(endpoint_config(fake.base_url, tmp_path, f"model={model.name}"), model.name)
            found[model.name] = (client.context_window, client.server_info.trained_window)

    # through the OpenAI-compatible endpoint Ollama runs its own window: the Modelfile's num_ctx, else 2048
    assert found == {"big:latest": (2048, 131072), "tuned:latest": (16384, 32768)}


def test_local_only_refuses_probes_to_a_public_host_before_any_request(tmp_path: Path):
    config = endpoint_config("http://203.0.113.9:8080/v1", tmp_path, "local_only=true")
    with pytest.raises(UserError, match="local_only"):
        ChatClient(config, "scripted")  # refused when the client is made: no probe ever leaves


def test_output_cap_comes_from_config_else_the_window():
    assert output_cap(1000, 32768) == 1000
    assert output_cap(None, 32768) == 4096
    assert output_cap(None, 2048) == 512
    assert output_cap(None, None) == 4096
    assert output_cap(None, 32768, prompt_tokens=31000) == 1768  # what the window has left after the prompt
    assert output_cap(None, 32768, prompt_tokens=32700) == 4096  # no room at all: the request fails either way


def test_a_cut_prompt_is_told_from_a_cached_one():
    assert prompt_was_cut(reported=2048, estimated=6000, server_window=2048)
    assert prompt_was_cut(reported=700, estimated=6000, server_window=2048)  # whole old messages were dropped
    assert not prompt_was_cut(reported=300, estimated=6000, server_window=8192)  # it fit: the rest came from a cache
    assert not prompt_was_cut(reported=5000, estimated=6000, server_window=8192)  # it fit
    assert not prompt_was_cut(reported=0, estimated=6000, server_window=2048)  # no usage reported at all
