"""SVG snapshots (pytest-textual-snapshot) of the main screen, a diff approval, the status view, the screen at
start (its header) and a toast (the Ctrl+C hint, which must leave the composer and the status bar in view).

The app runs for real, but the transcript is fed fixed events (`CodexApp.show_events`, the same path the
session's events take), and paths, ids and the endpoint are fixed, so the pictures are deterministic.
Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.protocol import (
    AgentMessage,
    ApprovalRequested,
    CommandExecution,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    PathChange,
    Reasoning,
    TextDelta,
    TodoEntry,
    TodoList,
    TurnCompleted,
    TurnStarted,
    Usage,
)
from agent.tui.app import CodexApp
from agent.tui.widgets.user_message import UserMessage
from tests.conftest import GIT_ENV

ROOT = Path(tempfile.gettempdir()) / "codex-tui-snapshots"
THREAD_ID = "0199a7f2-5b1c-7d3e-9f00-5a0b1c2d3e4f"
DIFF = (
    "diff --git a/app.py b/app.py\n"
    "--- a/app.py\n+++ b/app.py\n"
    "@@ -1,4 +1,5 @@\n"
    " def greet(name):\n"
    '-    return "hi " + name\n'
    '+    \"\"\"Greet someone by name.\"\"\"\n'
    '+    return f"Hello, {name}!"\n'
    " \n"
    " \n"
)


@pytest.fixture
def snapshot_app() -> CodexApp:
    shutil.rmtree(ROOT, ignore_errors=True)
    repo, home = ROOT / "repo", ROOT / "codex-home"
    repo.mkdir(parents=True)
    home.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "AGENTS.md").write_text("Run the tests with pytest.\n")
    (home / "config.toml").write_text(
        'model = "qwen2.5-coder:7b"\nmodel_provider = "local"\n'
        '[model_providers.local]\nname = "Local"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    env = {"CODEX_HOME": str(home), "HOME": str(ROOT), **GIT_ENV}
    overrides = Overrides(cwd=repo)
    config = load_config(overrides, env=env)
    return CodexApp(config, overrides=overrides, env=env, ephemeral=True, thread_id=THREAD_ID)


async def _started(pilot) -> CodexApp:
    app = pilot.app
    for _ in range(500):
        if app.session is not None:
            break
        await pilot.pause(0.01)
    app.composer.input.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await pilot.pause()
    return app


async def _conversation(pilot) -> None:
    app = await _started(pilot)
    await app.transcript.mount(UserMessage("Make greet() friendlier and add a docstring."))
    plan = TodoList("item_1", [TodoEntry("Read app.py", True, "completed"),
                               TodoEntry("Update greet()", False, "in_progress"),
                               TodoEntry("Run the tests", False, "pending")])
    command = CommandExecution("item_2", "bash -lc 'pytest -q'", cwd=str(app.config.cwd),
                               aggregated_output="....\n4 passed in 0.02s\n", exit_code=0, status="completed",
                               duration_ms=840)
    edit = FileChangeItem("item_3", [PathChange(str(app.config.cwd / "app.py"), "update")], status="completed",
                          diff=DIFF)
    reply = "Done. `greet()` now says **Hello**:\n\n```python\ngreet(\"Ada\")  # Hello, Ada!\n```\n"
    await app.show_events([
        TurnStarted(),
        ItemCompleted(Reasoning("item_0", "The user wants a friendlier greeting.")),
        ItemStarted(plan),
        ItemStarted(command),
        ItemCompleted(command),
        ItemStarted(edit),
        ItemCompleted(edit),
        TextDelta("item_4", reply[:20]),
        TextDelta("item_4", reply[20:]),
        ItemCompleted(AgentMessage("item_4", reply)),
        TurnCompleted(Usage(1200, 0, 80), 2100, 42.0),
    ])
    await pilot.pause(0.2)


async def _approval(pilot) -> None:
    app = await _started(pilot)
    await app.transcript.mount(UserMessage("Make greet() friendlier."))
    await app.show_events([
        TurnStarted(),
        ApprovalRequested("item_1", "patch", f"{app.config.cwd / 'app.py'} is outside the writable roots "
                          "(none: the sandbox is read-only)", cwd=str(app.config.cwd), diff=DIFF,
                          paths=(str(app.config.cwd / "app.py"),)),
    ])
    await pilot.pause(0.2)
    app.activity.stop()  # its clock would make the picture change every second
    await pilot.pause()


async def _status(pilot) -> None:
    await _started(pilot)
    await pilot.press("/", "s", "t", "a", "t", "u", "s", "enter")
    await pilot.pause(0.2)


def test_main_screen_80x24_dark(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=_conversation)


def test_main_screen_200x60_light(snap_compare, snapshot_app):
    async def light(pilot):
        pilot.app.theme = "textual-light"
        await _conversation(pilot)

    assert snap_compare(snapshot_app, terminal_size=(200, 60), run_before=light)


def test_diff_approval(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(100, 30), run_before=_approval)


def test_status_view(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(100, 30), run_before=_status)


async def _ctrl_c_hint(pilot) -> None:
    await _started(pilot)
    await pilot.press("ctrl+c")
    await pilot.pause(0.2)


def test_start_screen_shows_the_header(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=_started)


def test_ctrl_c_hint_toast_leaves_the_status_bar_in_view(snap_compare, snapshot_app):
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=_ctrl_c_hint)
