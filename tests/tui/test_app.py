"""The real TUI, driven headless with Pilot, against the scripted model server over HTTP in temporary git repos:
approvals, interrupts, the transcript's cells and the composer."""

from __future__ import annotations

import json
import os
import time

import pytest
from textual import events
from textual.widgets import Markdown

from agent.tui.screens.approval import ApprovalScreen
from agent.tui.widgets.agent_message import AgentMessage
from agent.tui.widgets.command_cell import CommandCell
from agent.tui.widgets.diff_cell import DiffCell
from agent.tui.widgets.notice import Notice
from agent.tui.widgets.plan_cell import PlanCell
from agent.tui.widgets.reasoning import Reasoning
from agent.tui.widgets.user_message import UserMessage
from tests.fakes.scripted_server import Reply, ToolCall
from tests.tui.conftest import (
    MakeHarness,
    add_file_patch,
    cells,
    patch_call,
    ready,
    send,
    shell_call,
    turn_done,
    wait_until,
)

pytestmark = pytest.mark.asyncio
FULL_ACCESS = {"sandbox_mode": "danger-full-access", "approval_policy": "never"}


def notices(app, kind: str | None = None) -> list[str]:
    return [n.message for n in cells(app, Notice) if kind is None or n.kind == kind]


async def approval_shown(pilot) -> ApprovalScreen:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ApprovalScreen), what="the approval modal")
    await pilot.pause()
    return pilot.app.screen


# --- approvals ------------------------------------------------------------------------------------------------


async def test_patch_is_shown_and_written_only_after_y(harness: MakeHarness):
    script = [Reply(tool_calls=(patch_call(add_file_patch("hello.py", "print('hello')")),)), Reply(text="Added.")]
    with harness(script) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "add hello.py")
            screen = await approval_shown(pilot)
            assert screen.request.kind == "patch"
            assert "+print('hello')" in (screen.request.diff or "")
            await pilot.pause(0.3)
            assert not (h.repo / "hello.py").exists(), "nothing may be written before the decision"
            assert len(h.model_requests()) == 1, "the turn waits for the decision"
            await pilot.press("y")
            await turn_done(pilot)

            assert (h.repo / "hello.py").read_text() == "print('hello')\n"
            [diff_cell] = cells(app, DiffCell)
            assert diff_cell.item.status == "completed"
            assert "+print('hello')" in (diff_cell.diff or "")
            assert any("approved the edit of hello.py" in m for m in notices(app, "decision"))
            assert cells(app, AgentMessage)[-1].text == "Added."


async def test_patch_is_not_written_after_n(harness: MakeHarness):
    script = [Reply(tool_calls=(patch_call(add_file_patch("hello.py", "print('hello')")),)),
              Reply(text="OK, not added.")]
    with harness(script) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "add hello.py")
            await approval_shown(pilot)
            await pilot.press("n")
            await turn_done(pilot)

            assert not (h.repo / "hello.py").exists()
            assert "was not approved" in json.dumps(h.model_requests()[1])
            assert cells(app, DiffCell)[0].item.status == "declined"
            assert any("denied the edit" in m for m in notices(app, "decision"))


async def test_a_approves_the_file_for_the_session(harness: MakeHarness):
    update = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-one\n+two\n*** End Patch\n"
    script = [
        Reply(tool_calls=(patch_call(add_file_patch("notes.txt", "one")),)),
        Reply(tool_calls=(patch_call(update),)),
        Reply(text="Both edits done."),
    ]
    with harness(script) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "write notes twice")
            await approval_shown(pilot)
            await pilot.press("a")
            await turn_done(pilot)

            assert (h.repo / "notes.txt").read_text() == "two\n"
            decisions = notices(app, "decision")
            assert len(decisions) == 1 and "approved for this session" in decisions[0]
            assert [c.item.status for c in cells(app, DiffCell)] == ["completed", "completed"]


async def test_command_approval_shows_command_dir_and_justification(harness: MakeHarness):
    call = ToolCall("shell", {"command": ["bash", "-lc", "touch ran.txt"], "with_escalated_permissions": True,
                              "justification": "needs to write outside the sandbox"})
    script = [Reply(tool_calls=(call,)), Reply(text="Skipped it.")]
    with harness(script) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "touch a file")
            screen = await approval_shown(pilot)
            details = str(screen.query_one("#details").render())
            assert "touch ran.txt" in details
            assert "needs to write outside the sandbox" in details
            assert "in ." in details
            await pilot.press("n")
            await turn_done(pilot)

            assert not (h.repo / "ran.txt").exists()
            assert cells(app, CommandCell)[0].status == "declined"


async def test_escape_on_an_approval_denies_and_stops_the_turn(harness: MakeHarness):
    script = [Reply(tool_calls=(patch_call(add_file_patch("x.txt", "x")),)), Reply(text="never sent")]
    with harness(script) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "edit")
            await approval_shown(pilot)
            await pilot.press("escape")
            await turn_done(pilot)

            assert not (h.repo / "x.txt").exists()
            assert len(h.model_requests()) == 1
            assert any("stopped the turn" in m for m in notices(app, "error") + notices(app, "interrupted"))


# --- interrupts -------------------------------------------------------------------------------------------------


async def test_escape_during_a_long_command_kills_it_and_the_turn_ends_interrupted(harness: MakeHarness):
    script = [Reply(tool_calls=(shell_call("sleep 30 & echo $! > sleeper.pid; echo started; wait"),)),
              Reply(text="never sent")]
    with harness(script, **FULL_ACCESS) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "run the long thing")
            await wait_until(pilot, lambda: any("started" in c.output for c in cells(app, CommandCell)),
                             what="the command's output")
            pid = int((h.repo / "sleeper.pid").read_text())
            started = time.monotonic()
            await pilot.press("escape")
            await turn_done(pilot)

            assert time.monotonic() - started < 10
            assert any("interrupted" in m for m in notices(app, "interrupted"))
            assert len(h.model_requests()) == 1
            await wait_until(pilot, lambda: not _alive(pid), timeout=5, what="the command's process to die")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is dead for our purposes
        return stat.read().split(") ")[1][0] != "Z"


async def test_input_stays_live_while_a_command_prints_thousands_of_lines(harness: MakeHarness):
    script = [Reply(tool_calls=(shell_call("for i in $(seq 1 20000); do echo line $i; done"),)), Reply(text="done")]
    with harness(script, **FULL_ACCESS) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await send(pilot, "print a lot")
            await pilot.press(*"typing")
            assert app.composer.text == "typing"
            await turn_done(pilot)
            [cell] = cells(app, CommandCell)
            assert cell.exit_code == 0
            assert "line 20000" in cell.output
            assert len(cell.output) <= 64 * 1024


# --- transcript -------------------------------------------------------------------------------------------------


async def test_streamed_reply_reasoning_and_plan_render_as_cells(harness: MakeHarness):
    plan = {"explanation": "two steps", "plan": [{"step": "look", "status": "in_progress"},
                                                 {"step": "answer", "status": "pending"}]}
    done = {"plan": [{"step": "look", "status": "completed"}, {"step": "answer", "status": "completed"}]}
    script = [
        Reply(tool_calls=(ToolCall("update_plan", plan),)),
        Reply(tool_calls=(ToolCall("update_plan", done),)),
        Reply(text="# Title\n\nSome `code`:\n\n```python\nprint('hi')\n```\n", reasoning="I should answer.",
              delay_ms=5),
    ]
    with harness(script, chunk_chars=3) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "explain")
            await turn_done(pilot)

            assert [c.text for c in cells(app, UserMessage)] == ["explain"]
            [plan_cell] = cells(app, PlanCell)  # one checklist, updated in place
            assert all(entry.completed for entry in plan_cell.item.items)
            [reasoning] = cells(app, Reasoning)
            assert reasoning.collapsed and reasoning.text == "I should answer."
            [reply] = cells(app, AgentMessage)
            assert reply.query_one(Markdown).source.startswith("# Title")
            assert app.status_bar.line.tokens > 0
            assert app.status_bar.line.tokens_per_second


async def test_a_silent_model_server_shows_the_wait_in_the_status_bar(harness: MakeHarness):
    with harness([Reply(text="Read the prompt at last.", wait_ms=3500)]) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "hello")
            await wait_until(pilot, lambda: "waiting for the model (" in app.status_bar.line.activity,
                             what="the waiting status")
            assert "waiting for the model (" in str(app.status_bar.render())
            assert app.status_bar.line.model in str(app.status_bar.render())  # the wait leaves room for the rest
            await turn_done(pilot)

            assert [c.query_one(Markdown).source for c in cells(app, AgentMessage)] == ["Read the prompt at last."]
            assert "waiting" not in app.status_bar.line.activity


async def test_prompt_given_on_the_command_line_is_sent_at_start(harness: MakeHarness):
    with harness([Reply(text="Hi there.")]) as h:
        h.app.initial_prompt = "say hi"
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await turn_done(pilot)
            assert [c.text for c in cells(app, UserMessage)] == ["say hi"]
            assert cells(app, AgentMessage)[-1].text == "Hi there."


# --- composer -----------------------------------------------------------------------------------------------------


async def test_composer_newlines_history_and_large_paste(harness: MakeHarness):
    with harness([Reply(text="one"), Reply(text="two")]) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await pilot.press("f", "i", "r", "s", "t", "ctrl+j", "l", "i", "n", "e")
            assert app.composer.text == "first\nline"
            await pilot.press("enter")
            await turn_done(pilot)
            big = "\n".join(f"row {i}" for i in range(40))
            app.composer.input.focus()
            app.composer.input.post_message(events.Paste(big))
            await pilot.pause()
            assert app.composer.text == "[Pasted text #1, 40 lines]"
            await pilot.press("enter")
            await turn_done(pilot)
            assert "row 39" in json.dumps(h.model_requests()[-1])
            await pilot.press("up")
            assert app.composer.text == big
            await pilot.press("up")
            assert app.composer.text == "first\nline"
            await pilot.press("down", "down")
            assert app.composer.text == ""


async def test_at_opens_the_file_picker_and_inserts_the_path(harness: MakeHarness):
    with harness() as h:
        (h.repo / "src").mkdir()
        (h.repo / "src" / "parser.py").write_text("")
        (h.repo / ".gitignore").write_text("ignored.py\n")
        (h.repo / "ignored.py").write_text("")
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await pilot.press("l", "o", "o", "k", "space", "@")
            from agent.tui.screens.file_picker import FilePickerScreen

            await wait_until(pilot, lambda: isinstance(app.screen, FilePickerScreen), what="the file picker")
            await wait_until(pilot, lambda: app.screen.files is not None, what="the file list")
            assert "ignored.py" not in app.screen.files
            await pilot.press(*"prsr")
            await pilot.press("enter")
            await pilot.pause()
            assert app.composer.text == "look src/parser.py "
