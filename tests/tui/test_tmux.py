"""End to end as a person uses it: the real `codex` command in a tmux pane (send-keys, capture-pane), with the
scripted model server, approving a diff with `y`.

Skipped when tmux is not installed. Without a `codex` on PATH, `python -m agent.cli` is the same command.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer
from tests.tui.conftest import add_file_patch, patch_call

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def tui_command() -> list[str]:
    codex = shutil.which("codex")
    return [codex] if codex else [sys.executable, "-m", "agent.cli"]


class Pane:
    def __init__(self, socket: Path):
        self.socket = socket

    def tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, env=env,
                                timeout=10)
        return result.stdout

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "codex")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the pane shows:\n{self.capture()}")


def test_a_person_approves_a_diff_in_the_real_terminal(git_repo: Path, codex_home: Path, tmp_path: Path):
    patch = add_file_patch("hello.py", "print('hello from tmux')")
    script = [Reply(text="I will add hello.py.", tool_calls=(patch_call(patch),)), Reply(text="Created hello.py.")]
    exit_file = tmp_path / "exit-code"
    pane = Pane(tmp_path / "tmux.sock")
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "TERM": "xterm-256color",
               "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        command = f"{shlex.join(tui_command())}; echo $? > {shlex.quote(str(exit_file))}"
        pane.tmux("new-session", "-d", "-s", "codex", "-x", "120", "-y", "40", "-c", str(git_repo), command, env=env)
        try:
            pane.wait_for("Ask Codex to do anything")
            pane.wait_for("Scripted")  # the status bar names the provider once the session is up
            pane.tmux("send-keys", "-t", "codex", "-l", "add a hello module")
            pane.tmux("send-keys", "-t", "codex", "Enter")
            screen = pane.wait_for("Apply these edits?")
            assert "hello.py +1 −0" in screen
            assert "print('hello from tmux')" in screen
            time.sleep(0.3)
            assert not (git_repo / "hello.py").exists(), "nothing is written before the person answers"

            pane.tmux("send-keys", "-t", "codex", "y")
            screen = pane.wait_for("Created hello.py.")
            assert (git_repo / "hello.py").read_text() == "print('hello from tmux')\n"
            assert "Added hello.py +1 −0" in screen
            assert "You approved the edit of hello.py" in screen

            pane.tmux("send-keys", "-t", "codex", "C-c")
            pane.tmux("send-keys", "-t", "codex", "C-c")
            deadline = time.monotonic() + 15
            while not exit_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert exit_file.read_text().strip() == "0"
        finally:
            pane.tmux("kill-server")


def test_a_whole_string_sent_at_once_runs_the_command_typed_and_quitting_prints_the_resume_hint(
        git_repo: Path, codex_home: Path, tmp_path: Path):
    exit_file = tmp_path / "exit-code"
    pane = Pane(tmp_path / "tmux.sock")
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server)
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "TERM": "xterm-256color",
               "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        # the pane outlives the app, so what it prints after leaving the alternate screen can be read
        command = f"{shlex.join(tui_command())}; echo $? > {shlex.quote(str(exit_file))}; sleep 60"
        pane.tmux("new-session", "-d", "-s", "codex", "-x", "120", "-y", "40", "-c", str(git_repo), command, env=env)
        try:
            pane.wait_for("Scripted")
            deadline = time.monotonic() + 20
            while "loading model" in pane.capture() and time.monotonic() < deadline:  # the session is not up yet
                time.sleep(0.1)
            pane.tmux("send-keys", "-t", "codex", "-l", "/")
            pane.wait_for("/approvals")  # the menu is open
            pane.tmux("send-keys", "-t", "codex", "status", "Enter")  # one write: "status\r"
            screen = pane.wait_for("Tokens used")
            assert "Model: choose a model" not in screen
            session_line = next(line for line in screen.splitlines() if "Session" in line)
            thread_id = session_line.split("Session", 1)[1].strip(" │┃|")
            pane.tmux("send-keys", "-t", "codex", "Escape")
            pane.tmux("send-keys", "-t", "codex", "C-c")
            pane.tmux("send-keys", "-t", "codex", "C-c")
            deadline = time.monotonic() + 15
            while not exit_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert exit_file.read_text().strip() == "0"
            assert f"To continue this session, run codex resume {thread_id}" in pane.capture()
        finally:
            pane.tmux("kill-server")
