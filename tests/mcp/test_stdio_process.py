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
    """Its start-up must not slow the agent's own (issue 15): nice 19 for every thread, in the agent's session (so
    under Linux's autogroups it shares the agent's CPU share instead of taking one of its own); its own process
    group, so the terminal's Ctrl-C never reaches it and `stop` can end it with its children."""
    server = McpServerConfig(name="sleeper", command="sh", args=("-c", "sleep 30 & sleep 30"))
    popen = stdio_process.spawn(server, dict(os.environ), tmp_path / "sleeper.log")
    try:
        fields = Path(f"/proc/{popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        pgid, sid, nice = int(fields[2]), int(fields[3]), int(fields[16])
        assert (pgid, sid) == (popen.pid, os.getsid(0))
        assert nice == stdio_process.SERVER_NICE == 19
    finally:
        os.killpg(popen.pid, 9)
        popen.wait()


def test_a_line_longer_than_the_limit_fails_the_handshake_in_one_sentence(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """Not asyncio's "Separator is not found, and chunk exceed the limit" (the limit is lowered so the test does
    not push 256 MiB through a pipe)."""
    monkeypatch.setattr(stdio_process, "LINE_LIMIT", 4096)
    server = McpServerConfig(name="long", command=sys.executable, args=(
        "-c", "import sys; sys.stdout.write('x' * 10000); sys.stdout.flush(); sys.stdin.read()"))

    async def run() -> Exception | None:
        process = await stdio_process.attach(stdio_process.spawn(server, {}, tmp_path / "long.log"))
        try:
            await asyncio.wait_for(stdio_process.handshake(process, {"name": "test", "version": "0"}), 20)
        except Exception as e:
            return e
        finally:
            await stdio_process.stop(process)
        return None

    error = asyncio.run(run())
    assert isinstance(error, stdio_process.HandshakeError) and str(error) == "it sent a line longer than 4096 bytes"


def run_to_exit(code: str, log: Path) -> str:
    """Run `python -c code` as a server until it exits; the last stderr line its process says it wrote."""
    server = McpServerConfig(name="writer", command=sys.executable, args=("-c", code))

    async def run() -> str:
        process = await stdio_process.attach(stdio_process.spawn(server, {}, log), log)
        await asyncio.wait_for(process.wait(), 20)
        await stdio_process.stop(process)
        return await process.last_stderr_line(0)

    return asyncio.run(run())


def test_the_log_holds_this_run_and_the_last_one_is_kept_as_dot_1(tmp_path: Path):
    log = tmp_path / "log" / "mcp-writer.log"
    for word in ("first", "second"):
        run_to_exit(f"import sys; sys.stderr.write('{word} run\\n')", log)
    assert log.read_text() == "second run\n"
    assert log.with_name("mcp-writer.log.1").read_text() == "first run\n"


@pytest.mark.parametrize("victim_content", ["", "# the user's file\n"])
def test_a_symlink_planted_at_the_log_is_never_written_through(tmp_path: Path, victim_content: str):
    """Whoever can write CODEX_HOME/log must not get a server's stderr appended to another file (~/.bashrc)."""
    victim = tmp_path / "bashrc"
    victim.write_text(victim_content)
    log = tmp_path / "log" / "mcp-writer.log"
    log.parent.mkdir()
    log.symlink_to(victim)
    run_to_exit("import sys; sys.stderr.write('echo owned\\n')", log)
    assert victim.read_text() == victim_content
    assert not log.is_symlink() or not log.exists() or log.resolve() != victim.resolve()


def test_a_flooded_log_keeps_its_start_and_its_newest_output_within_the_cap(tmp_path: Path):
    log = tmp_path / "mcp-writer.log"
    code = ("import sys\nsys.stderr.write('starting\\n')\nfor i in range(6 * 1024):\n"
            "    sys.stderr.write('x' * 1023 + '\\n')\nsys.stderr.write('the last words\\n')\n")
    last = run_to_exit(code, log)
    data = log.read_bytes()
    assert len(data) <= stdio_process.LOG_LIMIT and data.startswith(b"starting\n")
    assert stdio_process.LOG_CUT in data and data.endswith(b"the last words\n")
    assert last == "the last words"
