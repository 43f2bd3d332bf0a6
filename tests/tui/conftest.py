"""Helpers for driving the real TUI headless (`App.run_test()`) against the scripted model server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agent.config import Overrides, load_config
from agent.tui.app import CodexApp
from tests.conftest import write_provider_config
from tests.fakes.scripted_server import ScriptedServer, Step, ToolCall

WAIT_SECONDS = 15.0


def shell_call(script: str) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-lc", script]})


def patch_call(patch: str) -> ToolCall:
    return ToolCall("apply_patch", {"input": patch})


def add_file_patch(name: str, *lines: str) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return f"*** Begin Patch\n*** Add File: {name}\n{body}*** End Patch\n"


@dataclass
class Harness:
    """One app, its scripted server and its directories."""

    app: CodexApp
    server: ScriptedServer
    repo: Path
    codex_home: Path
    env: dict[str, str]

    def model_requests(self) -> list[dict]:
        return [r.body for r in self.server.requests if r.method == "POST"]


MakeHarness = Callable[..., contextlib.AbstractContextManager[Harness]]


@pytest.fixture
def harness(git_repo: Path, codex_home: Path, tmp_path: Path) -> MakeHarness:
    """`with harness(script, sandbox_mode=…, approval_policy=…) as h:` an app wired to a scripted server."""

    @contextlib.contextmanager
    def make(script: Sequence[Step] = (), *, cwd: Path | None = None, chunk_chars: int = 8,
             **overrides) -> Iterator[Harness]:
        env = {"CODEX_HOME": str(codex_home), "HOME": str(tmp_path)}
        with ScriptedServer(list(script), chunk_chars=chunk_chars) as server:
            write_provider_config(codex_home, server)
            ov = Overrides(cwd=cwd or git_repo, **overrides)
            config = load_config(ov, env=env)
            app = CodexApp(config, overrides=ov, env=env)
            yield Harness(app, server, cwd or git_repo, codex_home, env)

    return make


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = WAIT_SECONDS,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot: Pilot) -> CodexApp:
    app = pilot.app
    assert isinstance(app, CodexApp)
    await wait_until(pilot, lambda: app.session is not None, what="the session to start")
    await pilot.pause()
    return app


async def send(pilot: Pilot, text: str) -> None:
    """Type a prompt into the composer and press Enter, as a user would."""
    app = pilot.app
    assert isinstance(app, CodexApp)
    app.composer.set_text(text)
    await pilot.press("enter")


async def turn_done(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, CodexApp)
    await pilot.pause(0.05)
    await wait_until(pilot, lambda: not app.turn_running and not app.busy_with, what="the turn to end")
    await pilot.pause(0.05)


def cells(app: CodexApp, kind: type) -> list:
    return list(app.transcript.query(kind))
