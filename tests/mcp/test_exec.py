"""End to end: the real `codex exec` with `[mcp_servers]` against the scripted model server and real MCP servers:
the tools are declared, a scripted call reaches the server and its result the next request, the `--json` items
have Codex's shape, the approval policy holds, and the audit log and the rollout record the call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall
from tests.mcp.conftest import misbehaving_table, stdio_table, which_or_skip

MCP_ITEM_KEYS = ["id", "type", "server", "tool", "arguments", "result", "error", "status"]


def tool_names(body: dict) -> list[str]:
    return [t.get("name") or t["function"]["name"] for t in body.get("tools", [])]


def model_requests(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


def mcp_items(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("item", {}).get("type") == "mcp_tool_call"]


@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_a_scripted_call_reaches_the_time_server_and_its_result_the_next_request(
        wire_api, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    time_server = which_or_skip("mcp-server-time")
    script = [Reply(tool_calls=(ToolCall("mcp__time__get_current_time", {"timezone": "UTC"}),)),
              Reply(text="It is now.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api, extra=stdio_table("time", time_server))
        run = run_codex(["exec", "--json", "what time is it?"], git_repo)
    assert run.returncode == 0, run.stderr
    first, second = model_requests(server)
    assert {"shell", "apply_patch", "mcp__time__get_current_time", "mcp__time__convert_time"} <= set(
        tool_names(first))
    assert '\\"timezone\\": \\"UTC\\"' in json.dumps(second) and "day_of_week" in json.dumps(second)

    started, completed = mcp_items(run.events())
    assert started["type"] == "item.started" and completed["type"] == "item.completed"
    assert started["item"] == {"id": started["item"]["id"], "type": "mcp_tool_call", "server": "time",
                               "tool": "get_current_time", "arguments": {"timezone": "UTC"}, "result": None,
                               "error": None, "status": "in_progress"}
    item = completed["item"]
    assert list(item)[:len(MCP_ITEM_KEYS)] == MCP_ITEM_KEYS
    assert item["status"] == "completed" and item["error"] is None
    assert set(item["result"]) == {"content", "structured_content"}
    assert item["result"]["content"][0]["type"] == "text"
    assert item["result"]["structured_content"]["timezone"] == "UTC"
    assert run.stdout.splitlines()[-1].startswith('{"type": "turn.completed"')


def test_exec_denies_a_tool_not_annotated_read_only_under_on_request(
        git_repo: Path, codex_home: Path, run_codex: RunCodex, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    script = [Reply(tool_calls=(ToolCall("mcp__bad__write_note", {"note": "hello"}),
                                ToolCall("mcp__bad__echo", {"text": "read only"}))),
              Reply(text="Could not write.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=misbehaving_table(env={"NOTES_FILE": str(notes)}))
        run = run_codex(["exec", "--json", "-a", "on-request", "write a note"], git_repo)
    assert run.returncode == 0, run.stderr
    assert not notes.exists(), "the denied tool never ran"
    completed = [e["item"] for e in mcp_items(run.events()) if e["type"] == "item.completed"]
    assert completed[0]["status"] == "failed" and completed[0]["result"] is None
    assert completed[0]["error"]["message"] == "the user declined the call to write_note of MCP server bad"
    assert completed[1]["status"] == "completed", "a read-only tool runs without asking"
    assert "error: the user declined the call to write_note" in json.dumps(model_requests(server)[1])


def test_exec_runs_any_tool_when_the_policy_is_never(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                     tmp_path: Path):
    notes = tmp_path / "notes.txt"
    script = [Reply(tool_calls=(ToolCall("mcp__bad__write_note", {"note": "hello"}),)), Reply(text="Written.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=misbehaving_table(env={"NOTES_FILE": str(notes)}))
        run = run_codex(["exec", "--json", "-a", "never", "write a note"], git_repo)
    assert run.returncode == 0, run.stderr
    assert notes.read_text() == "hello\n"


def test_the_call_is_in_the_audit_log_and_the_rollout(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(ToolCall("mcp__bad__echo", {"text": "audited"}),)), Reply(text="Done.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=misbehaving_table())
        run = run_codex(["exec", "--json", "echo"], git_repo)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for path in (codex_home / "audit").glob("audit-*.jsonl")
               for line in path.read_text().splitlines()]
    [record] = [r for r in records if r["kind"] == "mcp_tool_call"]
    assert record["server"] == "bad" and record["tool"] == "echo" and record["outcome"] == "completed"
    assert len(record["arguments_sha256"]) == 64
    [rollout] = list((codex_home / "sessions").rglob("*.jsonl"))
    assert '"type": "mcp_tool_call"' in rollout.read_text() or '"type":"mcp_tool_call"' in rollout.read_text()
    verified = run_codex(["audit", "verify"], git_repo)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_server_that_cannot_start_is_one_warning_and_the_turn_goes_on(
        git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(text="No tools needed.")]
    extra = stdio_table("docs", "no-such-mcp-server-xyz") + misbehaving_table("slow", "--slow-start", "20",
                                                                              startup_timeout_sec=1)
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=extra)
        run = run_codex(["exec", "hello"], git_repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "No tools needed.\n"
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning")]
    assert len(warnings) == 2, run.stderr
    assert any("MCP server docs did not start: the command no-such-mcp-server-xyz was not found" in w
               for w in warnings)
    assert any("MCP server slow did not start: no answer within 1 s" in w for w in warnings)
    assert not any(name.startswith("mcp__") for name in tool_names(model_requests(server)[0]))


def test_codex_version_does_not_import_the_mcp_sdk(codex_home: Path):
    (codex_home / "config.toml").write_text(misbehaving_table())
    probe = ("import sys\nfrom agent.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
             "assert 'mcp' not in sys.modules, 'codex --version imported the mcp SDK'\n")
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).parents[2],
                   env={**os.environ, "CODEX_HOME": str(codex_home)}, capture_output=True)


def test_the_human_output_shows_the_call(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(ToolCall("mcp__bad__echo", {"text": "hi"}),)), Reply(text="Done.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=misbehaving_table())
        run = run_codex(["exec", "echo"], git_repo)
    assert run.returncode == 0, run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("mcp ")]
    assert line.startswith('mcp      bad.echo({"text": "hi"})  completed  ')


def test_the_embedded_model_calls_an_mcp_tool_under_the_grammar(git_repo: Path, codex_home: Path,
                                                                 run_codex: RunCodex):
    """The real SmolLM2 on the embedded engine, offered only the time server's tool and made to call a tool first:
    its call is decoded under the grammar built from the server's own schema, so it parses and reaches the server."""
    time_server = which_or_skip("mcp-server-time")
    (codex_home / "config.toml").write_text(
        'model_provider = "embedded"\nmax_turn_steps = 1\n\n'
        '[model_providers.embedded]\ntools = ["mcp__time__get_current_time"]\nfirst_step_tool_call = true\n'
        'n_ctx = 4096\n\n' + stdio_table("time", time_server))
    run = run_codex(["exec", "--json", "What time is it in UTC?"], git_repo, timeout=240)
    assert run.returncode == 0, run.stderr
    completed = [e["item"] for e in mcp_items(run.events()) if e["type"] == "item.completed"]
    assert completed and completed[0]["server"] == "time" and completed[0]["tool"] == "get_current_time"
    assert completed[0]["result"] is not None, completed[0]  # the server answered (an unknown zone is its error)
    assert isinstance(completed[0]["arguments"].get("timezone"), str)
