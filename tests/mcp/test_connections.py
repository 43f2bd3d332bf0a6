"""agent/mcp/connections.py against real MCP servers: the reference servers from PyPI, the protocol's test server
from npm (stdio and streamable HTTP), and a FastMCP server that misbehaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent.mcp.connections import McpConnections
from agent.mcp.startup import start_servers
from agent.mcp.tool_call import MAX_OUTPUT_CHARS, result_text
from agent.models.tool_grammar import compact_grammar, grammar_text
from agent.tools import registry
from tests.mcp.conftest import (
    MISBEHAVING,
    free_port,
    http_server,
    http_table,
    load,
    misbehaving_table,
    stdio_table,
    which_or_skip,
)


def started(codex_home: Path, text: str, **overrides) -> tuple[McpConnections, list[str]]:
    connections = McpConnections.start(load(codex_home, text, **overrides))
    warnings: list[str] = []
    connections.tools(warnings.append)
    return connections, warnings


def by_name(connections: McpConnections) -> dict:
    return {t.qualified: t for t in connections.tools(lambda _: None)}


def call(connections: McpConnections, name: str, **arguments):
    return connections.call(by_name(connections)[name], arguments, threading.Event())


def wait_for_exit(pattern: str, seconds: float) -> bool:
    """True once no process's command line matches `pattern` (the SDK gives a server 2 s, then SIGTERM)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.strip():
            return True
        time.sleep(0.1)
    return False


# --- real third-party servers ---------------------------------------------------------------------------------


def test_time_server_tools_get_codex_names_and_schemas_and_answer(codex_home: Path):
    connections, warnings = started(codex_home, stdio_table("time", which_or_skip("mcp-server-time")))
    try:
        tools = by_name(connections)
        assert warnings == []
        assert {"mcp__time__get_current_time", "mcp__time__convert_time"} <= set(tools)
        schema = tools["mcp__time__get_current_time"].input_schema
        assert schema["type"] == "object" and "timezone" in schema["properties"]
        outcome = call(connections, "mcp__time__get_current_time", timezone="UTC")
        assert outcome.error is None and not outcome.is_error
        assert json.loads(outcome.result.content[0]["text"])["timezone"] == "UTC"
        assert outcome.result.structured_content["timezone"] == "UTC"
    finally:
        connections.close()


def test_git_server_reads_a_real_repository_and_marks_read_only_tools(codex_home: Path, git_repo: Path):
    (git_repo / "new.txt").write_text("untracked\n")
    text = stdio_table("git", which_or_skip("mcp-server-git"), ["--repository", str(git_repo)])
    connections, _ = started(codex_home, text)
    try:
        tools = by_name(connections)
        assert tools["mcp__git__git_status"].read_only and not tools["mcp__git__git_commit"].read_only
        outcome = call(connections, "mcp__git__git_status", repo_path=str(git_repo))
        assert "new.txt" in result_text(outcome)
    finally:
        connections.close()


def test_everything_server_over_stdio(codex_home: Path, everything_server: Path):
    connections, warnings = started(codex_home, stdio_table("everything", str(everything_server)))
    try:
        assert warnings == []
        tools = by_name(connections)
        assert "mcp__everything__get-sum" in tools  # a hyphen is allowed in Codex's names
        assert result_text(call(connections, "mcp__everything__echo", message="over stdio")) == "Echo: over stdio"
        assert "3" in result_text(call(connections, "mcp__everything__get-sum", a=1, b=2))
        image = call(connections, "mcp__everything__get-tiny-image")
        assert any(block["type"] == "image" for block in image.result.content)
        assert "[image image/png" in result_text(image)
    finally:
        connections.close()


def test_everything_server_over_streamable_http(codex_home: Path, everything_server: Path):
    port = free_port()
    with http_server([str(everything_server), "streamableHttp"], port, env={"PORT": str(port)}) as url:
        connections, warnings = started(codex_home, http_table("everything", url))
        try:
            assert warnings == []
            assert result_text(call(connections, "mcp__everything__echo", message="over http")) == "Echo: over http"
        finally:
            connections.close()


def test_fastmcp_server_over_streamable_http_with_headers(codex_home: Path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("TEST_MCP_TOKEN", "s3cret")
    with http_server([sys.executable, str(MISBEHAVING), "--http", str(port)], port) as url:
        text = http_table("web", url, bearer_token_env_var="TEST_MCP_TOKEN", http_headers={"X-Test": "1"},
                          enabled_tools=["echo"])
        connections, warnings = started(codex_home, text)
        try:
            assert warnings == []
            assert result_text(call(connections, "mcp__web__echo", text="hi")) == "echo: hi"
        finally:
            connections.close()


# --- misbehaving servers ---------------------------------------------------------------------------------------


def test_a_slow_server_times_out_with_one_warning_and_its_process_ends(codex_home: Path):
    text = misbehaving_table("slow", "--slow-start", "30", startup_timeout_sec=1) + \
        stdio_table("time", which_or_skip("mcp-server-time"))
    start = time.monotonic()
    connections = McpConnections.start(load(codex_home, text))
    warnings: list[str] = []
    tools = connections.tools(warnings.append)
    try:
        assert time.monotonic() - start < 10
        assert [w for w in warnings if "slow" in w] == warnings and len(warnings) == 1
        assert "MCP server slow did not start: no answer within 1 s (startup_timeout_sec)" in warnings[0]
        assert {t.server for t in tools} == {"time"}, "the session goes on with the other servers"
        connections.tools(warnings.append)
        assert len(warnings) == 1, "reported once"
        assert wait_for_exit(f"{MISBEHAVING} --slow-start", 10), "the timed-out server process was stopped"
    finally:
        connections.close()


def test_a_hanging_tool_ends_at_tool_timeout_sec(codex_home: Path):
    connections, _ = started(codex_home, misbehaving_table(tool_timeout_sec=1))
    try:
        start = time.monotonic()
        outcome = call(connections, "mcp__bad__hang")
        assert 0.9 < time.monotonic() - start < 5
        assert outcome.error == "the tool hang of MCP server bad did not answer within 1 s (tool_timeout_sec)"
        assert result_text(call(connections, "mcp__bad__echo", text="still up")) == "echo: still up"
    finally:
        connections.close()


def test_a_crashed_server_is_reported_once_and_its_tools_return_errors(codex_home: Path):
    connections, _ = started(codex_home, misbehaving_table())
    try:
        warnings: list[str] = []
        outcome = call(connections, "mcp__bad__crash")
        assert outcome.result is None and "MCP server bad stopped" in (outcome.error or "")
        connections.report(warnings.append)
        again = call(connections, "mcp__bad__echo", text="x")
        connections.report(warnings.append)
        assert warnings == ["MCP server bad stopped (the connection closed); its tools now return errors."]
        assert again.result is None and "MCP server bad is not running" in (again.error or "")
    finally:
        connections.close()


def test_an_oversized_result_is_cut_for_the_model_but_kept_whole_in_the_item(codex_home: Path):
    connections, _ = started(codex_home, misbehaving_table())
    try:
        outcome = call(connections, "mcp__bad__big", size=2_000_000)
        assert len(outcome.result.content[0]["text"]) == 2_000_000
        text = result_text(outcome)
        assert len(text) < MAX_OUTPUT_CHARS + 200 and text.startswith("xxx") and text.endswith("xxx")
    finally:
        connections.close()


def test_a_tool_with_an_invalid_schema_is_left_out_with_a_warning(codex_home: Path):
    connections, warnings = started(codex_home, misbehaving_table())
    try:
        assert "mcp__bad__invalid" not in by_name(connections)
        assert "mcp__bad__echo" in by_name(connections)
        assert any("tool invalid is left out, its input schema is invalid" in w for w in warnings)
    finally:
        connections.close()


def test_enabled_tools_then_disabled_tools_filter_the_list(codex_home: Path):
    text = misbehaving_table(enabled_tools=["echo", "pid", "big"], disabled_tools=["big"])
    connections, _ = started(codex_home, text)
    try:
        assert set(by_name(connections)) == {"mcp__bad__echo", "mcp__bad__pid"}
    finally:
        connections.close()


def test_a_missing_command_gives_one_warning_naming_the_server(codex_home: Path):
    connections, warnings = started(codex_home, stdio_table("docs", "no-such-mcp-server-xyz"))
    try:
        assert len(warnings) == 1
        assert warnings[0].startswith("MCP server docs did not start: the command no-such-mcp-server-xyz was not found")
        assert connections.tools(lambda _: None) == []
    finally:
        connections.close()


def test_a_missing_bearer_token_variable_is_the_reason_given(codex_home: Path):
    text = http_table("web", "http://127.0.0.1:9/mcp", bearer_token_env_var="NO_SUCH_TOKEN_VAR_XYZ")
    connections, warnings = started(codex_home, text)
    try:
        assert "bearer_token_env_var names NO_SUCH_TOKEN_VAR_XYZ, which is not set" in warnings[0]
    finally:
        connections.close()


def test_local_only_refuses_an_http_server_on_a_public_address(codex_home: Path):
    connections, warnings = started(codex_home, http_table("far", "http://203.0.113.7:8080/mcp"), local_only=True)
    try:
        assert len(warnings) == 1 and "MCP server far did not start" in warnings[0]
        assert "local_only" in warnings[0] and "203.0.113.7" in warnings[0]
    finally:
        connections.close()


def test_a_disabled_server_is_not_started_and_nothing_is_imported(codex_home: Path):
    config = load(codex_home, misbehaving_table(enabled=False))
    assert start_servers(config) is None
    code = ("import sys; from agent.mcp.startup import start_servers; from agent.config import load_config; "
            "assert start_servers(load_config()) is None; assert 'mcp' not in sys.modules, 'mcp was imported'")
    env = {**os.environ, "CODEX_HOME": str(codex_home)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=Path(__file__).parents[2])


def test_mcp_tools_join_the_embedded_engines_tool_call_grammar(codex_home: Path, everything_server: Path):
    text = stdio_table("time", which_or_skip("mcp-server-time")) + stdio_table("everything", str(everything_server))
    connections, _ = started(codex_home, text)
    try:
        specs = registry.tool_specs(connections)
        assert {"mcp__time__get_current_time", "mcp__everything__get-sum"} <= {s.name for s in specs}
        for grammar in (grammar_text(specs), compact_grammar(specs)):  # the full and the compact prompt profile
            assert "mcp__time__get_current_time" in grammar and "mcp__everything__get-sum" in grammar
    finally:
        connections.close()


def test_a_server_that_exits_at_start_is_reported_with_its_status_and_last_stderr_line(codex_home: Path):
    text = stdio_table("crashy", sys.executable, ["-c", "import sys; sys.stderr.write('no config found\\\\n'); "
                                                  "sys.exit(2)"])
    connections, warnings = started(codex_home, text)
    try:
        assert len(warnings) == 1
        assert warnings[0].startswith("MCP server crashy did not start: it exited with status 2 (no config found); "
                                      f"its stderr is in {codex_home / 'log' / 'mcp-crashy.log'}")
    finally:
        connections.close()
