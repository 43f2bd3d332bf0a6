"""Fixtures shared by the whole suite: temporary git repositories, an isolated CODEX_HOME,
and a runner for the real `codex` command against the scripted model server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.scripted_server import ScriptedServer

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True,
                            capture_output=True, text=True)
    return result.stdout


@pytest.fixture(autouse=True)
def _no_real_codex_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Code that falls back to $CODEX_HOME (the edit journal, the audit log) never touches the real ~/.codex."""
    monkeypatch.setenv("CODEX_HOME", str(tmp_path_factory.mktemp("default-codex-home")))


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# demo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    return home


def codex_command() -> list[str]:
    """The installed console command, as a user runs it (falls back to the module in a bare checkout)."""
    found = shutil.which("codex")
    return [found] if found else [sys.executable, "-m", "agent.cli"]


def write_provider_config(codex_home: Path, server: ScriptedServer, wire_api: str = "chat",
                          extra: str = "", retries: int = 0) -> Path:
    config = codex_home / "config.toml"
    config.write_text(
        f'model = "scripted"\nmodel_provider = "scripted"\n{extra}\n'
        "[model_providers.scripted]\n"
        'name = "Scripted"\n'
        f'base_url = "{server.base_url}"\n'
        f'wire_api = "{wire_api}"\n'
        f"request_max_retries = {retries}\n"
        "stream_idle_timeout_ms = 20000\n"
    )
    return config


@dataclass
class CodexRun:
    returncode: int
    stdout: str
    stderr: str

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines()]


RunCodex = Callable[..., CodexRun]


@pytest.fixture
def run_codex(codex_home: Path) -> RunCodex:
    """Run the real `codex` process with CODEX_HOME isolated; returns its exit code and output."""

    def run(args: Sequence[str], cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> CodexRun:
        full_env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1", **(env or {})}
        proc = subprocess.run([*codex_command(), *args], cwd=cwd, env=full_env, input=stdin if stdin else "",
                              capture_output=True, text=True, timeout=timeout)
        return CodexRun(proc.returncode, proc.stdout, proc.stderr)

    return run
