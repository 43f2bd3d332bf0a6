"""The prompt history file (CODEX_HOME/history.jsonl), through real files under a temporary CODEX_HOME."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from agent.history import PromptHistory


def test_prompts_are_appended_as_codex_history_lines(codex_home):
    history = PromptHistory(codex_home)
    before = int(time.time())
    history.append("session-1", "fix the failing test")
    history.append("session-2", "now add a docstring\nwith two lines \u00e9")

    lines = (codex_home / "history.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["session_id"], e["text"]) for e in entries] == [
        ("session-1", "fix the failing test"), ("session-2", "now add a docstring\nwith two lines \u00e9"),
    ]
    assert all(isinstance(e["ts"], int) and before <= e["ts"] <= time.time() for e in entries)
    assert history.entries() == ["fix the failing test", "now add a docstring\nwith two lines \u00e9"]


def test_entries_are_oldest_first_and_limited_to_the_newest(codex_home):
    history = PromptHistory(codex_home)
    for n in range(5):
        history.append("s", f"prompt {n}")
    assert history.entries(limit=3) == ["prompt 2", "prompt 3", "prompt 4"]
    assert history.entries(limit=0) == []
    assert PromptHistory(codex_home).entries() == [f"prompt {n}" for n in range(5)]


def test_persistence_none_writes_nothing(codex_home):
    history = PromptHistory(codex_home, persistence="none")
    history.append("s", "secret prompt")
    assert not (codex_home / "history.jsonl").exists()
    assert history.entries() == []


def test_blank_prompts_are_not_saved(codex_home):
    history = PromptHistory(codex_home)
    history.append("s", "   \n")
    assert not (codex_home / "history.jsonl").exists()


def test_the_file_is_private_to_the_user(codex_home):
    PromptHistory(codex_home).append("s", "hello")
    assert stat.S_IMODE((codex_home / "history.jsonl").stat().st_mode) == 0o600


def test_an_existing_file_with_loose_permissions_is_made_private(codex_home):
    path = codex_home / "history.jsonl"
    path.write_text("")
    path.chmod(0o644)
    PromptHistory(codex_home).append("s", "hello")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_missing_codex_home_is_created_on_first_append(tmp_path):
    history = PromptHistory(tmp_path / "new-home")
    assert history.entries() == []
    history.append("s", "first")
    assert history.entries() == ["first"]


def test_partial_and_invalid_lines_are_skipped(codex_home):
    history = PromptHistory(codex_home)
    history.append("s", "one")
    with (codex_home / "history.jsonl").open("ab") as file:
        file.write(b'not json\n["a list"]\n{"session_id":"s","ts":1}\n\xff\xfe\n')
    history.append("s", "two")
    with (codex_home / "history.jsonl").open("ab") as file:
        file.write(b'{"session_id":"s","ts":1,"text":"cut')  # a process killed mid-write
    assert history.entries() == ["one", "two"]


def test_an_unknown_persistence_value_is_refused():
    with pytest.raises(ValueError, match="save-all"):
        PromptHistory("/nonexistent", persistence="sometimes")


def test_a_prompt_after_a_killed_writers_half_line_starts_a_line_of_its_own(codex_home):
    history = PromptHistory(codex_home)
    history.append("s", "one")
    with (codex_home / "history.jsonl").open("ab") as file:
        file.write(b'{"session_id":"s","ts":1,"text":"cut')
    history.append("s", "two")
    assert history.entries() == ["one", "two"]


def test_max_bytes_drops_the_oldest_prompts_down_to_80_percent(codex_home: Path) -> None:
    history = PromptHistory(codex_home, max_bytes=1000)
    for n in range(40):
        history.append("s", f"prompt {n:02d} " + "x" * 30)
    data = (codex_home / "history.jsonl").read_bytes()
    assert len(data) <= 1000
    texts = history.entries()
    assert texts[-1].startswith("prompt 39") and not any(t.startswith("prompt 00") for t in texts)
    assert len(data.splitlines()) == len(texts)  # whole lines only


def test_a_prompt_bigger_than_max_bytes_is_still_kept(codex_home: Path) -> None:
    history = PromptHistory(codex_home, max_bytes=50)
    history.append("s", "first")
    history.append("s", "y" * 200)
    assert history.entries() == ["y" * 200]
