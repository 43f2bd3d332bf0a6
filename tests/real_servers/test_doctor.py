"""`codex doctor` against real servers: it names each, reads llama-server's window, and finds that a `chatml`
llama_cpp.server and llama-server with SmolLM2 (whose chat template has no tools) drop `tools`, while a
`chatml-function-calling` llama_cpp.server reads them (and cannot stream with them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCodex
from tests.servers.real_servers import CONTEXT, RealServer
from tests.test_doctor import rows

pytestmark = pytest.mark.timeout(180, func_only=True)


def doctor(server: RealServer, codex_home: Path, run_codex: RunCodex, cwd: Path) -> dict[str, str]:
    (codex_home / "config.toml").write_text(
        f'model = "{server.model}"\nmodel_provider = "local"\n[model_providers.local]\n'
        f'name = "{server.kind}"\nbase_url = "{server.base_url}"\n')
    run = run_codex(["doctor"], cwd, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    return rows(run.stdout)


def test_doctor_on_llama_server(llama_server, codex_home, run_codex: RunCodex, tmp_path: Path):
    report = doctor(llama_server, codex_home, run_codex, tmp_path)
    assert report["server"] == "llama.cpp llama-server"
    assert report["server window"] == f"{CONTEXT} tokens"
    assert report["tools"].startswith("text: the server drops `tools`")
    assert "tool_call_format auto → text" in report["settings"] and f"window {CONTEXT} tokens" in report["settings"]


def test_doctor_on_a_chatml_llama_cpp_server(chatml_server, codex_home, run_codex: RunCodex, tmp_path: Path):
    report = doctor(chatml_server, codex_home, run_codex, tmp_path)
    assert report["server"] == "llama-cpp-python's llama_cpp.server"
    assert report["models listed"] == chatml_server.model
    assert "tool_call_format auto → text" in report["settings"]


def test_doctor_on_a_function_calling_llama_cpp_server(function_calling_server, codex_home, run_codex: RunCodex,
                                                       tmp_path: Path):
    report = doctor(function_calling_server, codex_home, run_codex, tmp_path)
    assert report["tools"].startswith("native: the server reads `tools`")
    assert "tool_call_format auto → native" in report["settings"]
    assert report["streaming with tools"].startswith("no: the server cannot stream when tools are offered")
