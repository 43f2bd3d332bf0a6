"""agent/mcp/stdio_process.py: the hand-written handshake against real server processes (the hand-written server
of tests/mcp/servers/handwritten.py, for what SDK servers do not do on demand)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import mcp_types.version
import pytest

from agent.config import McpServerConfig
from agent.mcp import stdio_process

HANDWRITTEN = Path(__file__).parent / "servers" / "handwritten.py"


def test_the_handshake_speaks_the_sdks_protocol_versions():
    assert stdio_process.PROTOCOL_VERSION == mcp_types.version.LATEST_HANDSHAKE_VERSION
    assert stdio_process.PROTOCOL_VERSIONS == mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS


def handshake(tmp_path: Path, *args: str) -> tuple[stdio_process.Hello | Exception, int | None]:
    """Spawn the hand-written server, run the handshake, stop it: (the result or the error, its exit status)."""
    server = McpServerConfig(name="hand", command=sys.executable, args=(str(HANDWRITTEN), *args))

    async def run() -> tuple[stdio_process.Hello | Exception, int | None]:
        process = await stdio_process.attach(stdio_process.spawn(server, {}, tmp_path / "hand.log"))
        try:
            outcome: stdio_process.Hello | Exception = await asyncio.wait_for(
                stdio_process.handshake(process, {"name": "test", "version": "0"}), 20)
        except Exception as e:
            outcome = e
        await stdio_process.stop(process)
        return outcome, process.returncode

    return asyncio.run(run())


def test_requests_from_the_server_during_the_handshake_are_answered(tmp_path: Path):
    hello, status = handshake(tmp_path, "--ask-first")
    assert isinstance(hello, stdio_process.Hello), hello
    assert hello.initialize["serverInfo"]["name"] == "handwritten"
    assert status == 0, "the server exits 3 when its ping or roots/list got the wrong answer"


def test_every_page_of_the_tool_list_is_read(tmp_path: Path):
    hello, _ = handshake(tmp_path, "--pages", "3")
    assert isinstance(hello, stdio_process.Hello), hello
    assert [tool["name"] for tool in hello.tools] == ["tool1", "tool2", "tool3"]


def test_an_error_answer_to_initialize_is_the_reason_given(tmp_path: Path):
    error, _ = handshake(tmp_path, "--initialize-error", "no database configured")
    assert isinstance(error, stdio_process.HandshakeError) and str(error) == "no database configured"


def test_a_command_that_does_not_exist_fails_at_spawn(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        stdio_process.spawn(McpServerConfig(name="x", command="no-such-mcp-server-xyz"), {}, tmp_path / "x.log")


def test_a_server_runs_in_its_own_process_group_below_the_agents_priority(tmp_path: Path):
    """Its start-up must not slow the agent's own (issue 15): nice 10 for every thread, in the agent's session (so
    under Linux's autogroups it shares the agent's CPU share instead of taking one of its own); its own process
    group, so the terminal's Ctrl-C never reaches it and `stop` can end it with its children."""
    server = McpServerConfig(name="sleeper", command="sh", args=("-c", "sleep 30 & sleep 30"))
    popen = stdio_process.spawn(server, dict(os.environ), tmp_path / "sleeper.log")
    try:
        fields = Path(f"/proc/{popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        pgid, sid, nice = int(fields[2]), int(fields[3]), int(fields[16])
        assert (pgid, sid) == (popen.pid, os.getsid(0))
        assert nice == min(os.getpriority(os.PRIO_PROCESS, 0) + stdio_process.NICE, 19)
    finally:
        os.killpg(popen.pid, 9)
        popen.wait()
