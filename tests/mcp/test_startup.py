"""agent/mcp/startup.py and the start-up path of agent/mcp/connections.py: the servers start and list their
tools without the `mcp` SDK, which is imported only once the tool list is taken; calls then go through it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from agent.mcp.connections import McpConnections
from tests.mcp.conftest import load, misbehaving_table, stdio_table
from tests.mcp.test_stdio_process import HANDWRITTEN

REPO_ROOT = Path(__file__).parents[2]


def test_the_sdk_is_imported_only_by_the_first_call_and_calls_go_through_it(codex_home: Path):
    """A real SDK server (FastMCP) and the hand-written one: 4 s after the start both are up and listed, and
    nothing of the SDK is in the process, nor after tools() (it would hold the GIL while the first request is
    built); the first call imports it, waits for it and is answered."""
    (codex_home / "config.toml").write_text(misbehaving_table("bad") + stdio_table("hand", sys.executable,
                                                                                   [str(HANDWRITTEN)]))
    code = """if True:
        import sys, threading, time
        from agent.config import load_config
        from agent.mcp.startup import start_servers
        servers = start_servers(load_config())
        time.sleep(4)
        early = sorted(name for name in sys.modules if name == "mcp" or name.startswith(("mcp.", "mcp_types")))
        assert early == [], f"imported during start-up: {early}"
        warnings = []
        tools = {tool.qualified: tool for tool in servers.tools(warnings.append)}
        assert {"mcp__bad__echo", "mcp__hand__tool1"} <= set(tools), sorted(tools)
        time.sleep(0.5)
        assert "mcp" not in sys.modules, "the SDK was imported before any call"
        echo = servers.call(tools["mcp__bad__echo"], {"text": "hi"}, threading.Event())
        assert echo.error is None and echo.result.content[0]["text"] == "echo: hi", echo
        hand = servers.call(tools["mcp__hand__tool1"], {"text": "x"}, threading.Event())
        assert hand.error is None and hand.result.content[0]["text"] == '{"text": "x"}', hand
        assert "mcp" in sys.modules
        servers.close()
        print("ok", warnings)
    """
    env = {**os.environ, "CODEX_HOME": str(codex_home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok"), done.stdout


def test_a_server_that_pings_before_the_sdk_is_there_gets_its_answer(codex_home: Path, tmp_path: Path):
    answer = tmp_path / "answer.json"
    connections = McpConnections.start(load(codex_home, stdio_table(
        "hand", sys.executable, [str(HANDWRITTEN), "--ping-after-list", str(answer)])))
    try:
        deadline = time.monotonic() + 20
        while not answer.exists() and time.monotonic() < deadline:  # tools() is not called: no SDK yet
            time.sleep(0.05)
        time.sleep(0.1)
        assert answer.read_text() == '{"jsonrpc": "2.0", "id": "server-ping-later", "result": {}}'
    finally:
        connections.close()


def test_an_error_answer_to_initialize_is_reported_with_its_message(codex_home: Path):
    connections = McpConnections.start(load(codex_home, stdio_table(
        "hand", sys.executable, [str(HANDWRITTEN), "--initialize-error", "no database configured"])))
    try:
        warnings: list[str] = []
        assert connections.tools(warnings.append) == []
        assert len(warnings) == 1
        assert warnings[0].startswith("MCP server hand did not start: no database configured; its stderr is in")
    finally:
        connections.close()
