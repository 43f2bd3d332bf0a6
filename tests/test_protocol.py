"""event_to_json: the `codex exec --json` shapes of ../shared/spec/exec-json.md."""

from __future__ import annotations

import json

import pytest

from agent.protocol import (
    AgentMessage,
    CommandExecution,
    Error,
    ErrorItem,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    PathChange,
    Reasoning,
    ThreadStarted,
    TodoEntry,
    TodoList,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    event_to_json,
)

# Fields we add beyond the spec; allowed there as extensions only.
EXTENSIONS = {"cwd", "duration_ms", "error", "explanation", "tokens_per_second"}


def as_line(event) -> dict:
    """The event as it goes over the wire: must survive a JSON round trip unchanged."""
    data = event_to_json(event)
    assert json.loads(json.dumps(data)) == data
    return data


def assert_spec_shape(actual: dict, spec: dict) -> None:
    """Every spec field is there with the spec's value; anything else is a known extension."""
    assert {k: actual.get(k) for k in spec} == spec
    assert set(actual) - set(spec) <= EXTENSIONS, set(actual) - set(spec)


def test_thread_started():
    assert as_line(ThreadStarted("0199a213-81c0")) == {"type": "thread.started", "thread_id": "0199a213-81c0"}


def test_turn_started():
    assert as_line(TurnStarted()) == {"type": "turn.started"}


def test_command_in_progress_keeps_exit_code_null():
    item = CommandExecution("item_1", "bash -lc ls", cwd="/repo")

    line = as_line(ItemStarted(item))

    assert line["type"] == "item.started"
    assert_spec_shape(line["item"], {"id": "item_1", "type": "command_execution", "command": "bash -lc ls",
                                     "aggregated_output": "", "exit_code": None, "status": "in_progress"})
    assert "exit_code" in line["item"]
    assert '"exit_code": null' in json.dumps(line)


def test_completed_command():
    item = CommandExecution("item_1", "bash -lc ls", aggregated_output="README.md\n", exit_code=0,
                            status="completed", duration_ms=12)

    line = as_line(ItemCompleted(item))

    assert line["type"] == "item.completed"
    assert_spec_shape(line["item"], {"id": "item_1", "type": "command_execution", "command": "bash -lc ls",
                                     "aggregated_output": "README.md\n", "exit_code": 0, "status": "completed"})
    assert line["item"]["duration_ms"] == 12


def test_declined_command():
    item = CommandExecution("item_2", "rm -rf /", aggregated_output="refused", status="declined")

    line = as_line(ItemCompleted(item))

    assert line["item"]["status"] == "declined"
    assert line["item"]["exit_code"] is None


@pytest.mark.parametrize(("event_type", "json_type", "status"), [(ItemStarted, "item.started", "in_progress"),
                                                               (ItemCompleted, "item.completed", "completed")])
def test_file_change_is_started_then_completed(event_type, json_type, status):
    item = FileChangeItem("item_2", [PathChange("/home/me/repo/hello.py", "add")], status=status)

    assert as_line(event_type(item)) == {"type": json_type, "item": {
        "id": "item_2", "type": "file_change", "changes": [{"path": "/home/me/repo/hello.py", "kind": "add"}],
        "status": status}}


def test_failed_file_change_carries_the_error_as_an_extension():
    item = FileChangeItem("item_2", [PathChange("/r/a.py", "update")], status="failed", error="hunk not found")

    line = as_line(ItemCompleted(item))

    assert_spec_shape(line["item"], {"id": "item_2", "type": "file_change",
                                     "changes": [{"path": "/r/a.py", "kind": "update"}], "status": "failed"})
    assert line["item"]["error"] == "hunk not found"


def test_todo_list_items_are_text_and_completed_only():
    item = TodoList("item_3", [TodoEntry("write handler", False, "in_progress"), TodoEntry("test", True, "completed")])

    started = as_line(ItemStarted(item))
    item.items[0] = TodoEntry("write handler", True, "completed")
    updated = as_line(ItemUpdated(item))

    assert started == {"type": "item.started", "item": {"id": "item_3", "type": "todo_list", "items": [
        {"text": "write handler", "completed": False}, {"text": "test", "completed": True}]}}
    assert updated["type"] == "item.updated"
    assert updated["item"]["items"][0] == {"text": "write handler", "completed": True}


def test_reasoning():
    assert as_line(ItemCompleted(Reasoning("item_4", "thinking"))) == {
        "type": "item.completed", "item": {"id": "item_4", "type": "reasoning", "text": "thinking"}}


def test_agent_message():
    assert as_line(ItemCompleted(AgentMessage("item_5", "Done: added hello.py."))) == {
        "type": "item.completed", "item": {"id": "item_5", "type": "agent_message", "text": "Done: added hello.py."}}


def test_error_item():
    assert as_line(ItemCompleted(ErrorItem("item_6", "shell: bad arguments"))) == {
        "type": "item.completed", "item": {"id": "item_6", "type": "error", "message": "shell: bad arguments"}}


def test_item_json_starts_with_id_and_type():
    line = as_line(ItemCompleted(CommandExecution("item_1", "ls", exit_code=0, status="completed")))

    assert list(line["item"])[:2] == ["id", "type"]


def test_turn_completed_carries_usage():
    event = TurnCompleted(Usage(input_tokens=2410, cached_input_tokens=2048, output_tokens=112), duration_ms=900,
                          tokens_per_second=41.234)

    line = as_line(event)

    assert line["type"] == "turn.completed"
    assert {k: line["usage"][k] for k in ("input_tokens", "cached_input_tokens", "output_tokens")} == {
        "input_tokens": 2410, "cached_input_tokens": 2048, "output_tokens": 112}
    assert set(line["usage"]) <= {"input_tokens", "cached_input_tokens", "output_tokens",
                                  "reasoning_output_tokens", "cache_write_input_tokens"}
    assert set(line) - {"type", "usage"} <= EXTENSIONS
    assert line["tokens_per_second"] == 41.23


def test_turn_completed_without_a_speed_leaves_it_out():
    assert "tokens_per_second" not in as_line(TurnCompleted(Usage()))


def test_turn_failed_has_only_the_error_message():
    assert as_line(TurnFailed("model went away", Usage(input_tokens=5))) == {
        "type": "turn.failed", "error": {"message": "model went away"}}


def test_fatal_error():
    assert as_line(Error("cannot reach the server")) == {"type": "error", "message": "cannot reach the server"}
