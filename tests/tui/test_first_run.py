"""What a newcomer meets in the first minutes of the TUI (issue 18): input that completion menus never swallow,
honest context figures, the start-up header, quitting with a resume hint, /init and /undo that say what happened,
and readable headings and commands. The real app, driven headless with Pilot against the scripted server."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual import events
from textual.widgets._markdown import MarkdownH1
from textual.widgets._toast import Toast

from agent.context_budget import percent_used
from agent.tui.app import CodexApp
from agent.tui.screens.status_view import StatusScreen, status_table
from agent.tui.widgets.agent_message import AgentMessage
from agent.tui.widgets.command_cell import CommandCell
from agent.tui.widgets.notice import Notice
from agent.tui.widgets.session_header import SessionHeader, header_table
from agent.tui.widgets.user_message import UserMessage
from tests.fakes.scripted_server import Reply
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


def notices(app, kind: str | None = None) -> list[str]:
    return [n.message for n in cells(app, Notice) if kind is None or n.kind == kind]


def burst(app, text: str) -> None:
    """Queue keys the way a fast typist or a terminal paste without bracketing delivers them: all at once,
    before the app has handled any of them."""
    for character in text:
        key = "enter" if character == "\r" else character
        app.post_message(events.Key(key, character))


async def test_a_burst_of_slash_status_and_enter_runs_status_not_the_first_menu_entry(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            await pilot.press("/")
            await wait_until(pilot, lambda: app.composer.completions.visible, what="the / menu")
            burst(app, "status\r")
            await wait_until(pilot, lambda: isinstance(app.screen, StatusScreen), timeout=5, what="/status")
            assert app.busy_with is None, "the first menu entry (/model) ran instead"


async def test_a_burst_of_a_whole_slash_command_from_an_empty_composer_runs_it(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            burst(app, "/diff\r")
            await wait_until(pilot, lambda: any("/diff" in n for n in notices(app)), timeout=5, what="/diff")
            assert app.busy_with is None


async def test_a_burst_of_a_prompt_starting_with_a_slash_word_is_sent_as_typed(harness: MakeHarness):
    with harness([Reply(text="ok")]) as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            burst(app, "/stat is not a command\r")
            await wait_until(pilot, lambda: cells(app, UserMessage) or notices(app, "error"), timeout=5,
                             what="the prompt")
            await turn_done(pilot)
            assert "/stat is not a command" in str(h.model_requests()[-1]["messages"][-1])
            assert not cells(app, UserMessage) or len(cells(app, UserMessage)) == 1


async def test_a_burst_with_an_at_mention_is_sent_as_typed_without_the_file_picker(harness: MakeHarness):
    from agent.tui.screens.file_picker import FilePickerScreen

    with harness([Reply(text="ok")]) as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            opened = []
            burst(app, "see @README.md now\r")
            for _ in range(20):
                opened.append(isinstance(app.screen, FilePickerScreen))
                await pilot.pause(0.02)
            await turn_done(pilot)
            assert not any(opened)
            assert "see @README.md now" in str(h.model_requests()[-1]["messages"][-1])


WINDOW = ("model_context_window=4000",)
FULL_ACCESS = {"sandbox_mode": "danger-full-access", "approval_policy": "never"}


def rendered(renderable) -> str:
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def context_percent(app: CodexApp) -> int:
    status = app.session_status
    return percent_used(status.context_used, status.context_window)


async def test_the_context_figure_is_one_percentage_in_the_status_bar_status_and_compact(harness: MakeHarness):
    with harness([Reply(text="hello there"), Reply(text="Summary: we said hello.")],
                 config_overrides=WINDOW) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "hi")
            await turn_done(pilot)
            percent = context_percent(app)
            assert 0 < percent < 50
            assert f"ctx {percent}%" in str(app.status_bar.render())
            await send(pilot, "/status")
            await wait_until(pilot, lambda: isinstance(app.screen, StatusScreen), what="/status")
            assert f"{percent}% used" in rendered(status_table(app.screen.status, app.screen.extras))
            await pilot.press("escape")

            await send(pilot, "/compact")
            await turn_done(pilot)
            assert not notices(app, "warning"), "a /compact at a low context is not a full window"
            after = context_percent(app)
            assert f"conversation compacted into a summary: context {percent}% → {after}%" in notices(app, "info")
            assert f"ctx {after}%" in str(app.status_bar.render())


async def test_a_resumed_session_shows_its_context_not_zero(harness: MakeHarness):
    with harness([Reply(text="hello there")], config_overrides=WINDOW) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "hi " * 200)
            await turn_done(pilot)
            before = context_percent(app)
        resumed = CodexApp(app.config, overrides=app.overrides, env=h.env, resume="--last")
        async with resumed.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            percent = context_percent(resumed)
            assert percent >= before > 0
            assert f"ctx {percent}%" in str(resumed.status_bar.render())


async def test_resume_last_skips_a_session_left_empty_by_new(harness: MakeHarness):
    with harness([Reply(text="the answer")]) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "the question")
            await turn_done(pilot)
            first = app.session_status.thread_id
            await send(pilot, "/new")
            await wait_until(pilot, lambda: app.session_status.thread_id != first and not app.busy_with, what="/new")
        resumed = CodexApp(app.config, overrides=app.overrides, env=h.env, resume="--last")
        async with resumed.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            assert resumed.session_status.thread_id == first
            assert f"resumed session {first}" in notices(resumed)


async def test_the_start_screen_shows_a_header_with_model_directory_sandbox_and_approval(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            header = pilot.app.query_one(SessionHeader)  # there before the session is up
            app = await ready(pilot)
            text = rendered(header_table(header.info))
            for expected in ("codex-local", "scripted", "Scripted", str(h.repo.name), "read-only", "on-request"):
                assert expected in text, expected
            assert header.info.model == "scripted"
            await send(pilot, "/new")
            await wait_until(pilot, lambda: not app.busy_with, what="/new")
            assert len(app.query(SessionHeader)) == 1  # a new session starts with its own header


async def test_the_ctrl_c_hint_covers_neither_the_composer_nor_the_status_bar(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(80, 24), notifications=True) as pilot:  # headless tests hide toasts
            app = await ready(pilot)
            await pilot.press("ctrl+c")
            await wait_until(pilot, lambda: app.screen.query(Toast), what="the toast")
            await pilot.pause(0.1)
            toast = app.screen.query_one(Toast)
            assert "Ctrl+C again" in str(toast.render())
            for covered in (app.status_bar, app.composer):
                assert not toast.region.overlaps(covered.region), type(covered).__name__


async def test_init_that_writes_no_file_says_so(harness: MakeHarness):
    with harness([Reply(text="This repository has a README.")]) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/init")
            await turn_done(pilot)
            assert not (h.repo / "AGENTS.md").exists()
            assert any(f"/init ended without writing {h.repo / 'AGENTS.md'}" in m for m in notices(app, "warning"))


async def test_model_headings_are_left_aligned(harness: MakeHarness):
    with harness([Reply(text="# Plan\n\nFirst step.")]) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "plan it")
            await turn_done(pilot)
            heading = cells(app, AgentMessage)[0].query_one(MarkdownH1)
            assert heading.styles.content_align_horizontal == "left"
            assert rendered(heading.render()).startswith("Plan")


async def test_a_command_cell_shows_the_script_not_the_bash_quoted_string(harness: MakeHarness):
    script = "echo 'hello there' | tr a-z A-Z"
    with harness([Reply(tool_calls=(shell_call(script),)), Reply(text="done")], **FULL_ACCESS) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "shout")
            await turn_done(pilot)
            cell = cells(app, CommandCell)[0]
            shown = rendered(cell.render())
            assert f"$ {script}" in shown and "'\"'\"'" not in shown
            assert "HELLO THERE" in shown


async def test_undoing_an_added_file_says_removed(harness: MakeHarness):
    patch = add_file_patch("new.txt", "fresh")
    with harness([Reply(tool_calls=(patch_call(patch),)), Reply(text="added")], **FULL_ACCESS) as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "add a file")
            await turn_done(pilot)
            assert (h.repo / "new.txt").exists()
            await send(pilot, "/undo")
            await turn_done(pilot)
            assert not (h.repo / "new.txt").exists()
            assert "undid the last turn's edits: removed new.txt" in notices(app, "info")
            assert not isinstance(app.screen, StatusScreen)


async def test_the_end_of_a_model_wait_clears_it_from_the_status_bar(harness: MakeHarness):
    from agent.protocol import ModelWaiting, TurnStarted

    with harness() as h:
        async with h.app.run_test(size=(120, 40)) as pilot:
            app = await ready(pilot)
            app.turn_running = True
            await app.show_events([TurnStarted(), ModelWaiting("evaluating the prompt: 512/4096 tokens", seconds=2)])
            assert "evaluating the prompt" in app.status_bar.line.activity
            # the engine's heartbeats and the end of a wait say seconds == 0: nothing to show
            await app.show_events([ModelWaiting("the model is answering", seconds=0)])
            assert app.status_bar.line.activity == ""
            assert app.activity.label == "Working"
