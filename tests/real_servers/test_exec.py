"""`codex exec` end to end against real servers no one here wrote, with the shipped SmolLM2-135M (greedy, short
replies): both wire APIs on llama.cpp's llama-server, the text tool protocol on a `chatml` llama_cpp.server (which
drops `tools`), and native calls on a `chatml-function-calling` one. The tiny model does what it is told only
when told exactly, so the prompts dictate the call; what is under test is the path the call takes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import RunCodex
from tests.servers.real_servers import RealServer

NOTES = "the secret word is pineapple\n"
DICTATED_CALL = ('Reply with exactly: <tool_call>{"name": "shell", "arguments": {"command": ["cat", "notes.txt"]}}'
                 "</tool_call>")


def configure(codex_home: Path, server: RealServer, wire_api: str = "chat", extra: str = "") -> None:
    (codex_home / "config.toml").write_text(
        f'model = "{server.model}"\nmodel_provider = "local"\nmodel_max_output_tokens = 64\nmax_turn_steps = 1\n'
        f"{extra}\n[model_providers.local]\n"
        f'name = "{server.kind}"\nbase_url = "{server.base_url}"\nwire_api = "{wire_api}"\n'
        "request_max_retries = 1\nstream_idle_timeout_ms = 120000\n")


def workspace(name: str) -> Path:
    """A workspace at a fixed path: the path is in the prompt (the environment context), and the tiny model's
    greedy reply changes with it (it copies the path into optional arguments such as `workdir`)."""
    repo = Path(tempfile.gettempdir()) / "codex-local-real-servers" / name
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    (repo / "notes.txt").write_text(NOTES)
    return repo


def commands(events: list[dict]) -> list[dict]:
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"]


@pytest.mark.timeout(240, func_only=True)
@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_both_wire_apis_complete_a_turn_on_llama_server(wire_api, llama_server, codex_home, run_codex: RunCodex):
    configure(codex_home, llama_server, wire_api)
    run = run_codex(["exec", "--json", "--skip-git-repo-check", "Say hello."], workspace(f"wire-{wire_api}"),
                    timeout=200)
    assert run.returncode == 0, run.stderr
    [done] = [e for e in run.events() if e["type"] == "turn.completed"]
    assert done["usage"]["input_tokens"] > 0 and done["usage"]["output_tokens"] > 0
    assert any(e["type"] == "item.completed" and e["item"]["type"] == "agent_message" for e in run.events())


@pytest.mark.timeout(240, func_only=True)
def test_a_call_written_as_text_runs_a_command_on_a_server_that_drops_tools(fresh_chatml_server, codex_home,
                                                                           run_codex: RunCodex):
    configure(codex_home, fresh_chatml_server)  # tool_call_format unset: "auto" finds out by itself
    run = run_codex(["exec", "--json", "--skip-git-repo-check", DICTATED_CALL], workspace("text"), timeout=200)
    assert run.returncode == 0, run.stderr
    assert "using the text tool protocol because the server drops `tools`" in run.stderr
    ran = commands(run.events())
    assert len(ran) == 1, run.stdout + run.stderr
    [command] = ran
    assert command["command"] == "cat notes.txt" and command["aggregated_output"] == NOTES


@pytest.mark.timeout(240, func_only=True)
def test_native_calls_run_a_command_on_chatml_function_calling(fresh_function_calling_server, codex_home,
                                                               run_codex: RunCodex):
    configure(codex_home, fresh_function_calling_server)
    run = run_codex(["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
                     "Run the shell command `cat notes.txt`."], workspace("native"), timeout=200)
    assert run.returncode == 0, run.stderr
    assert "text tool protocol" not in run.stderr  # the model made a native call: no probe, no switch
    ran = commands(run.events())
    assert len(ran) == 1, run.stdout + run.stderr
    [command] = ran
    assert command["command"] == "cat notes.txt" and command["aggregated_output"] == NOTES


@pytest.mark.timeout(240, func_only=True)
def test_a_reply_stopped_by_the_output_cap_is_said_to_be_cut_on_llama_server(llama_server, codex_home,
                                                                            run_codex: RunCodex):
    configure(codex_home, llama_server)
    (codex_home / "config.toml").write_text((codex_home / "config.toml").read_text().replace(
        "model_max_output_tokens = 64", "model_max_output_tokens = 8"))
    run = run_codex(["exec", "--json", "--skip-git-repo-check", "Write a long story about a dragon and a knight."],
                    workspace("cap"), timeout=200)
    assert run.returncode == 0, run.stderr
    [done] = [e for e in run.events() if e["type"] == "turn.completed"]
    assert 0 < done["usage"]["output_tokens"] <= 8  # the server honoured the cap we sent
    errors = [e["item"]["message"] for e in run.events() if e["type"] == "item.completed"
              and e["item"]["type"] == "error"]
    assert any("stopped at the output limit" in message for message in errors), run.stdout
