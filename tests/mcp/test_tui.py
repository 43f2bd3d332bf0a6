"""The real TUI (Pilot, headless) with an MCP server configured: a call that needs approval shows the modal and
runs only after "y", a declined one never runs, and each call is a cell in the transcript."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.tui.app import CodexApp
from agent.tui.screens.approval import ApprovalScreen
from agent.tui.widgets.mcp_cell import McpCell
from tests.conftest import write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall
from tests.mcp.conftest import misbehaving_table
from tests.tui.conftest import cells, ready, send, turn_done, wait_until


@contextlib.contextmanager
def app_with_server(script: list, git_repo: Path, codex_home: Path, tmp_path: Path,
                    notes: Path) -> Iterator[tuple[CodexApp, ScriptedServer]]:
    env = {"CODEX_HOME": str(codex_home), "HOME": str(tmp_path)}
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=misbehaving_table(env={"NOTES_FILE": str(notes)}))
        overrides = Overrides(cwd=git_repo, approval_policy="on-request")
        app = CodexApp(load_config(overrides, env=env), overrides=overrides, env=env)
        try:
            yield app, server
        finally:
            app.close_session()


@pytest.mark.asyncio
async def test_an_mcp_tool_that_is_not_read_only_runs_after_y(git_repo: Path, codex_home: Path, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    script = [Reply(tool_calls=(ToolCall("mcp__bad__write_note", {"note": "from the tui"}),)), Reply(text="Noted.")]
    with app_with_server(script, git_repo, codex_home, tmp_path, notes) as (app, server):
        async with app.run_test(size=(110, 40)) as pilot:
            await ready(pilot)
            await send(pilot, "write a note")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen), what="the approval modal")
            screen = pilot.app.screen
            assert "MCP bad.write_note" in (screen.request.command or "")
            assert "not annotated read-only" in screen.request.reason
            assert not notes.exists(), "nothing runs before the decision"
            await pilot.press("y")
            await turn_done(pilot)
            assert notes.read_text() == "from the tui\n"
            [cell] = cells(app, McpCell)
            assert cell.item.status == "completed" and cell.item.tool == "write_note"


@pytest.mark.asyncio
async def test_a_declined_mcp_call_never_runs_and_its_cell_says_so(git_repo: Path, codex_home: Path, tmp_path: Path):
    notes = tmp_path / "notes.txt"
    script = [Reply(tool_calls=(ToolCall("mcp__bad__write_note", {"note": "no"}),
                                ToolCall("mcp__bad__echo", {"text": "fine"}))), Reply(text="Not noted.")]
    with app_with_server(script, git_repo, codex_home, tmp_path, notes) as (app, server):
        async with app.run_test(size=(110, 40)) as pilot:
            await ready(pilot)
            await send(pilot, "write a note")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen), what="the approval modal")
            await pilot.press("n")
            await turn_done(pilot)
            assert not notes.exists()
            declined, echoed = cells(app, McpCell)
            assert declined.item.status == "failed" and "declined" in declined.item.error.message
            assert echoed.item.status == "completed", "the read-only tool ran without asking"
            assert "user declined" in str([r.body for r in server.requests if r.method == "POST"][1])


@pytest.mark.asyncio
async def test_escape_on_an_mcp_approval_stops_the_turn_and_ends_the_item(git_repo: Path, codex_home: Path,
                                                                          tmp_path: Path):
    notes = tmp_path / "notes.txt"
    script = [Reply(tool_calls=(ToolCall("mcp__bad__write_note", {"note": "no"}),)), Reply(text="unused")]
    with app_with_server(script, git_repo, codex_home, tmp_path, notes) as (app, server):
        async with app.run_test(size=(110, 40)) as pilot:
            await ready(pilot)
            await send(pilot, "write a note")
            await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen), what="the approval modal")
            await pilot.press("escape")
            await turn_done(pilot)
            assert not notes.exists()
            [cell] = cells(app, McpCell)
            assert cell.item.status == "failed" and "stopped the turn" in cell.item.error.message
            assert len([r for r in server.requests if r.method == "POST"]) == 1, "no request after the stop"


def test_a_resumed_session_rebuilds_the_mcp_item_from_its_rollout_json():
    from agent.protocol import McpToolCall, McpToolCallError, McpToolCallResult, item_to_json
    from agent.stored_events import item_from_json

    done = McpToolCall("item_3", "time", "get_current_time", {"timezone": "UTC"},
                       McpToolCallResult([{"type": "text", "text": "now"}], {"t": 1}), None, "completed", 12)
    failed = McpToolCall("item_4", "bad", "hang", {}, None, McpToolCallError("no answer"), "failed", 1000)
    for item in (done, failed):
        assert item_from_json(json.loads(json.dumps(item_to_json(item)))) == item
