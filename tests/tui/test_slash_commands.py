"""Each slash command, typed in the composer (and one through the command palette), against the scripted server."""

from __future__ import annotations

import io
import json
import socket

import pytest
from rich.console import Console

from agent.tui.screens.diff_screen import DiffScreen
from agent.tui.screens.file_picker import FilePickerScreen
from agent.tui.screens.picker import PickerScreen
from agent.tui.screens.status_view import StatusScreen, status_table
from agent.tui.widgets.diff_view import parse_stats
from agent.tui.widgets.notice import Notice
from agent.tui.widgets.user_message import UserMessage
from tests.fakes.scripted_server import Reply
from tests.tui.conftest import (
    MakeHarness,
    add_file_patch,
    cells,
    patch_call,
    ready,
    send,
    turn_done,
    wait_until,
)

pytestmark = pytest.mark.asyncio


def notices(app, kind: str | None = None) -> list[str]:
    return [n.message for n in cells(app, Notice) if kind is None or n.kind == kind]


async def test_slash_status_shows_the_session(harness: MakeHarness):
    with harness([Reply(text="hello")]) as h:
        (h.repo / "AGENTS.md").write_text("Run tests with pytest.\n")
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "hi")
            await turn_done(pilot)
            await send(pilot, "/status")
            await wait_until(pilot, lambda: isinstance(app.screen, StatusScreen), what="/status")
            console = Console(width=200, file=io.StringIO(), record=True)
            console.print(status_table(app.screen.status, app.screen.extras))
            text = console.export_text()
            for expected in ("scripted", "Scripted", h.server.base_url, "read-only", "on-request",
                             str(h.repo / "AGENTS.md"), "Tokens used", "Context", app.session_status.thread_id):
                assert expected in text, expected
            await pilot.press("escape")
            assert not isinstance(app.screen, StatusScreen)


async def test_slash_diff_shows_tracked_and_untracked_changes(harness: MakeHarness):
    with harness() as h:
        (h.repo / "README.md").write_text("# demo\nmore\n")
        (h.repo / "new.txt").write_text("fresh\n")
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/diff")
            await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="/diff")
            stats = {s.path: (s.added, s.removed) for s in parse_stats(app.screen.diff)}
            assert stats == {"README.md": (1, 0), "new.txt": (1, 0)}
            await pilot.press("escape")


async def test_slash_undo_reverts_the_last_turns_edits(harness: MakeHarness):
    update = "*** Begin Patch\n*** Update File: README.md\n@@\n-# demo\n+# changed\n*** End Patch\n"
    with harness([Reply(tool_calls=(patch_call(update),)), Reply(text="Changed.")]) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "change the title")
            await wait_until(pilot, lambda: app._approvals, what="the approval")
            await pilot.press("y")
            await turn_done(pilot)
            assert (h.repo / "README.md").read_text() == "# changed\n"
            await send(pilot, "/undo")
            await turn_done(pilot)
            assert (h.repo / "README.md").read_text() == "# demo\n"
            assert any("restored README.md" in m for m in notices(app))


async def test_slash_new_starts_a_fresh_session(harness: MakeHarness):
    with harness([Reply(text="first"), Reply(text="second")]) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await send(pilot, "remember the word pineapple")
            await turn_done(pilot)
            old = app.session_status.thread_id
            await send(pilot, "/new")
            await wait_until(pilot, lambda: app.session_status.thread_id != old, what="a new session")
            await turn_done(pilot)
            assert cells(app, UserMessage) == []
            await send(pilot, "what was the word?")
            await turn_done(pilot)
            assert "pineapple" not in json.dumps(h.model_requests()[-1])


async def test_slash_compact_summarises_the_conversation(harness: MakeHarness):
    with harness([Reply(text="first answer"), Reply(text="SUMMARY-OF-THREAD"), Reply(text="after")]) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await send(pilot, "a question")
            await turn_done(pilot)
            await send(pilot, "/compact")
            await turn_done(pilot)
            assert len(h.model_requests()) == 2
            assert any("compacted" in m for m in notices(app))
            await send(pilot, "go on")
            await turn_done(pilot)
            assert "SUMMARY-OF-THREAD" in json.dumps(h.model_requests()[-1])


async def test_slash_init_asks_the_model_to_write_agents_md(harness: MakeHarness):
    patch = add_file_patch("AGENTS.md", "# Agents", "Run `pytest`.")
    with harness([Reply(tool_calls=(patch_call(patch),)), Reply(text="Wrote AGENTS.md.")]) as h:
        async with h.app.run_test(size=(100, 40)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/init")
            await wait_until(pilot, lambda: app._approvals, what="the approval")
            assert "AGENTS.md" in json.dumps(h.model_requests()[0]) and "apply_patch" in json.dumps(
                h.model_requests()[0])
            await pilot.press("y")
            await turn_done(pilot)
            assert (h.repo / "AGENTS.md").read_text() == "# Agents\nRun `pytest`.\n"
            await send(pilot, "/init")
            await pilot.pause()
            assert any("already exists" in m for m in notices(app, "warning"))
            assert len(h.model_requests()) == 2


async def test_slash_mention_inserts_a_path(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/mention")
            await wait_until(pilot, lambda: isinstance(app.screen, FilePickerScreen), what="the file picker")
            await wait_until(pilot, lambda: app.screen.files is not None, what="the file list")
            await pilot.press(*"readme", "enter")
            await pilot.pause()
            assert app.composer.text == "README.md "


async def test_slash_model_switches_the_model_for_the_next_request(harness: MakeHarness):
    with harness([Reply(text="one"), Reply(text="two"), Reply(text="three")]) as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/model other-model")
            await turn_done(pilot)
            assert app.config.model == "other-model" and "other-model" in app.session_status.model
            assert app.status_bar.line.model == "other-model"
            await send(pilot, "hello")
            await turn_done(pilot)
            assert h.model_requests()[-1]["model"] == "other-model"

            await send(pilot, "/model")  # the picker lists the endpoint's models; a typed name also works
            await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the model picker")
            labels = [choice.label for choice in app.screen.choices]
            assert "scripted" in labels and "gpt-oss:20b" in labels  # the endpoint's list, then other providers
            await pilot.press(*"typed-name", "enter")
            await turn_done(pilot)
            await send(pilot, "again")
            await turn_done(pilot)
            assert h.model_requests()[-1]["model"] == "typed-name"


async def test_slash_model_says_why_the_endpoint_listed_no_models(harness: MakeHarness):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"  # nothing listens there once the block ends
    with harness(config_overrides=(f'model_providers.scripted.base_url="{url}"',)) as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/model")
            await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the model picker")
            assert "scripted" in [choice.label for choice in app.screen.choices]  # a typed name still works
            assert any(m.startswith(f"Could not list the models: Scripted at {url}/models could not be reached")
                       for m in notices(app, "warning")), notices(app)


async def test_slash_approvals_switches_the_preset(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/approvals")
            await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the presets")
            assert [c.label for c in app.screen.choices] == ["Read Only", "Auto", "Full Access"]
            await pilot.press("down", "down", "enter")
            await pilot.pause()
            assert (app.session_status.sandbox, app.session_status.approval) == ("danger-full-access", "never")
            assert app.status_bar.line.sandbox == "danger-full-access"
            await send(pilot, "/approvals auto")
            await pilot.pause()
            assert app.session_status.sandbox == "workspace-write"


async def test_slash_quit_exits(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await send(pilot, "/quit")
            await pilot.pause()
        assert h.app.return_code == 0


async def test_ctrl_c_twice_quits(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+c")
            assert h.app.is_running
            await pilot.press("ctrl+c")
            await pilot.pause()
        assert h.app.return_code == 0


async def test_slash_completion_and_the_command_palette(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = await ready(pilot)
            await pilot.press("/", "s", "t")
            completions = app.composer.completions
            assert completions.visible and completions.chosen == "status"
            await pilot.press("tab")
            assert app.composer.text == "/status "
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, StatusScreen), what="/status")
            await pilot.press("escape")

            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"/diff")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_until(pilot, lambda: any("no changes" in m for m in notices(app)), what="/diff via palette")


async def test_unknown_slash_command_is_an_error(harness: MakeHarness):
    with harness() as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            await send(pilot, "/frobnicate")
            await pilot.pause()
            assert any("unknown command /frobnicate" in m for m in notices(app, "error"))
            assert h.model_requests() == []


async def test_trust_prompt_outside_git(harness: MakeHarness, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with harness(cwd=plain) as h:
        async with h.app.run_test(size=(100, 30)) as pilot:
            app = pilot.app
            await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the trust question")
            assert app.session is None
            await pilot.press("enter")
            await ready(pilot)
        assert f'[projects."{plain}"]' in (h.codex_home / "config.toml").read_text()


async def test_resume_last_replays_the_transcript(harness: MakeHarness):
    with harness([Reply(text="first reply"), Reply(text="second reply")]) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await send(pilot, "first prompt")
            await turn_done(pilot)
        h.app.close_session()
        from agent.tui.app import CodexApp

        resumed = CodexApp(h.app.config, overrides=h.app.overrides, env=h.env, resume="--last")
        async with resumed.run_test(size=(80, 24)) as pilot:
            app = await ready(pilot)
            assert [c.text for c in cells(app, UserMessage)] == ["first prompt"]
            await send(pilot, "second prompt")
            await turn_done(pilot)
            assert "first prompt" in json.dumps(h.model_requests()[-1])


async def test_resume_picker_lists_sessions_with_their_first_prompt(harness: MakeHarness):
    with harness([Reply(text="first reply"), Reply(text="again")]) as h:
        async with h.app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await send(pilot, "the very first prompt")
            await turn_done(pilot)
        h.app.close_session()
        from agent.tui.app import CodexApp

        resumed = CodexApp(h.app.config, overrides=h.app.overrides, env=h.env, resume="picker")
        async with resumed.run_test(size=(100, 24)) as pilot:
            app = pilot.app
            await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen), what="the session picker")
            choices = app.screen.choices
            assert choices[0].label == "New session"
            assert choices[1].description == "the very first prompt"
            await pilot.press("enter")  # the newest session is highlighted
            await ready(pilot)
            assert [c.text for c in cells(app, UserMessage)] == ["the very first prompt"]
