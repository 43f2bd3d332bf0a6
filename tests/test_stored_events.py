"""A rollout's stored events, typed again (agent/stored_events.py): what a real RolloutWriter stored comes back as
the events a front end draws a resumed transcript from, and lines it cannot read are skipped, not fatal."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from agent.protocol import (
    AgentMessage,
    CommandExecution,
    ErrorItem,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    McpToolCall,
    McpToolCallResult,
    PathChange,
    Reasoning,
    TextDelta,
    TodoEntry,
    TodoList,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    UserPrompt,
    item_to_json,
)
from agent.rollout import RolloutWriter, SessionMeta, load_rollout
from agent.stored_events import events_from_rollout, item_from_json

ITEMS = [
    AgentMessage("item_1", "Done."),
    Reasoning("item_2", "thinking"),
    CommandExecution("item_3", "bash -lc ls", "/repo", "README.md\n", 0, "completed", 12, True),
    CommandExecution("item_4", "bash -lc 'rm -rf /'", "/repo", status="declined", reason="the user declined"),
    FileChangeItem("item_5", [PathChange("/repo/a.py", "update")], "completed"),
    FileChangeItem("item_6", [PathChange("/repo/b.py", "add")], "declined", "the user declined the edit"),
    TodoList("item_7", [TodoEntry("read", True), TodoEntry("write", False)]),
    ErrorItem("item_8", "something failed"),
    McpToolCall("item_9", "time", "now", {"tz": "UTC"}, McpToolCallResult([{"type": "text", "text": "12:00"}]),
                None, "completed", 5),
]


def test_a_stored_thread_comes_back_as_prompts_completed_items_and_failures(codex_home: Path, tmp_path: Path):
    meta = SessionMeta(str(uuid.uuid4()), str(tmp_path), "m", "p", None, None, "0.1.0", "2025-03-04T05:06:07.000Z")
    with RolloutWriter(codex_home, meta) as writer:
        writer.user_prompt("first prompt")
        writer.event(TurnStarted())
        writer.event(TextDelta("item_1", "Do"))  # not stored
        for item in ITEMS:
            writer.event(ItemStarted(item))
            writer.event(ItemCompleted(item))
        writer.event(TurnCompleted(Usage(10, 0, 5)))
        writer.user_prompt("second prompt")
        writer.event(TurnFailed("the turn was interrupted by the user", reason="interrupted"))
        writer.user_prompt("third prompt")
        writer.event(TurnFailed("Cannot reach Ollama at http://127.0.0.1:11434/v1", reason="model_error"))
        path = writer.path

    events = events_from_rollout(load_rollout(path).events)

    assert events == [UserPrompt("first prompt"), *(ItemCompleted(item) for item in ITEMS),
                      UserPrompt("second prompt"), TurnFailed("the turn was interrupted by the user",
                                                              reason="interrupted"),
                      UserPrompt("third prompt"), TurnFailed("Cannot reach Ollama at http://127.0.0.1:11434/v1")]


def test_every_item_survives_its_json_form():
    for item in ITEMS:
        assert item_from_json(json.loads(json.dumps(item_to_json(item)))) == item


def test_lines_it_cannot_read_are_skipped():
    stored = [{"type": "item.completed", "item": {"type": "command_execution"}},  # no id
              {"type": "item.completed", "item": {"id": "x", "type": "web_search"}},
              {"type": "user_message", "message": 3}, {"type": "turn.failed", "error": "text"}, "not a dict",
              {"type": "user_message", "message": "kept"}]
    assert events_from_rollout(stored) == [TurnFailed("the turn failed"), UserPrompt("kept")]
