"""The TUI's pure parts: file listing and fuzzy matching, the event pump, edit diffs, slash parsing, diff stats."""

from __future__ import annotations

import threading
from pathlib import Path

from agent.protocol import (
    OutputDelta,
    TextDelta,
    TurnStarted,
)
from agent.tui import slash_commands
from agent.tui.event_pump import OUTPUT_TAIL_CHARS, EventPump
from agent.tui.files import fuzzy_filter, list_files
from agent.tui.widgets.command_cell import clean_output, format_duration
from agent.tui.widgets.diff_view import parse_stats
from tests.conftest import git


def test_list_files_respects_gitignore_and_includes_untracked(git_repo: Path):
    (git_repo / ".gitignore").write_text("build/\n*.log\n")
    (git_repo / "build").mkdir()
    (git_repo / "build" / "out.bin").write_text("x")
    (git_repo / "debug.log").write_text("x")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "new.py").write_text("")
    git(git_repo, "add", ".gitignore")
    assert list_files(git_repo) == [".gitignore", "README.md", "src/new.py"]


def test_list_files_walks_outside_git(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret").write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("")
    assert list_files(tmp_path) == ["a/b.txt"]


def test_fuzzy_filter_prefers_file_names_and_consecutive_letters():
    paths = ["docs/parser-notes.md", "src/parser.py", "src/pretty/printer.py", "tests/test_parser.py", "README.md"]
    found = [m.path for m in fuzzy_filter("parser", paths)]
    assert found[0] == "src/parser.py"
    assert "README.md" not in found
    assert [m.path for m in fuzzy_filter("prsr", paths)][:1] == ["src/parser.py"]
    assert fuzzy_filter("zzz", paths) == []
    assert [m.path for m in fuzzy_filter("", paths, limit=2)] == paths[:2]


def test_pump_merges_deltas_and_wakes_once_per_drain():
    wakes = []
    pump = EventPump(lambda: wakes.append(1))
    pump.push(TurnStarted())
    for piece in ("Hel", "lo", " world"):
        pump.push(TextDelta("item_1", piece))
    pump.push(OutputDelta("item_2", "a" * OUTPUT_TAIL_CHARS))
    pump.push(OutputDelta("item_2", "tail"))
    assert len(wakes) == 1
    events = pump.drain()
    assert events[0] == TurnStarted()
    assert events[1] == TextDelta("item_1", "Hello world")
    assert events[2].chunk.endswith("tail") and len(events[2].chunk) == OUTPUT_TAIL_CHARS
    pump.push(TextDelta("item_1", "!"))
    assert len(wakes) == 2


def test_pump_keeps_order_across_threads():
    pump = EventPump(lambda: None)
    threads = [threading.Thread(target=lambda n=n: [pump.push(OutputDelta(f"i{n}", "x")) for _ in range(200)])
               for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(e.chunk) for e in pump.drain()) == 800


def test_slash_commands_complete_and_parse():
    assert [c.name for c in slash_commands.complete("/")] == [c.name for c in slash_commands.COMMANDS]
    assert [c.name for c in slash_commands.complete("/st")] == ["status"]
    assert slash_commands.complete("/status now") == []
    command, argument = slash_commands.parse("/model  qwen2.5-coder:7b ")
    assert (command.name, argument) == ("model", "qwen2.5-coder:7b")
    assert slash_commands.parse("/nope") is None
    assert slash_commands.parse("not a command") is None


def test_diff_stats_per_file():
    diff = ("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n"
            "diff --git a/new.txt b/new.txt\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+1\n+2\n")
    stats = parse_stats(diff)
    assert [(s.path, s.added, s.removed, s.kind) for s in stats] == [("x.py", 1, 1, "update"), ("new.txt", 2, 0, "add")]
    assert parse_stats("not a diff") == []


def test_command_output_is_cleaned_like_a_terminal():
    assert clean_output("\x1b[31mred\x1b[0m\nprogress 10%\rprogress 100%\n") == ["red", "progress 100%", ""]
    assert (format_duration(840), format_duration(1500), format_duration(125_000)) == ("840 ms", "1.5s", "2m 05s")
