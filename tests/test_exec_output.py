"""How `codex exec` renders the event stream: human lines on stderr with the answer on stdout, or JSONL."""

from __future__ import annotations

import io
import json

from agent.exec_output import HumanRenderer, JsonRenderer, use_color
from agent.protocol import (
    AgentMessage,
    CommandExecution,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    ModelWaiting,
    OutputDelta,
    TextDelta,
    ThreadStarted,
    TodoEntry,
    TodoList,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    Warning,
)


def command(status: str = "in_progress", exit_code: int | None = None) -> CommandExecution:
    return CommandExecution("item_2", "bash -lc ls", aggregated_output="README.md\n", exit_code=exit_code,
                            status=status, duration_ms=40)


def turn_with_a_tool_step() -> list:
    return [
        ThreadStarted("thread-1"),
        TurnStarted(),
        TextDelta("item_1", "Let me look"),
        ItemCompleted(AgentMessage("item_1", "Let me look at the files.")),
        ItemStarted(command()),
        OutputDelta("item_2", "README.md\n"),
        ItemCompleted(command("completed", 0)),
        TextDelta("item_3", "There is"),
        ItemCompleted(AgentMessage("item_3", "There is one file: README.md.")),
        TurnCompleted(Usage(input_tokens=100, cached_input_tokens=50, output_tokens=20), duration_ms=1500),
    ]


def render_human(events: list, color: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    renderer = HumanRenderer(color, out=out, err=err)
    for event in events:
        renderer(event)
    return out.getvalue(), err.getvalue()


def render_json(events: list) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    renderer = JsonRenderer(out=out, err=err)
    for event in events:
        renderer(event)
    return out.getvalue(), err.getvalue()


# --- human ----------------------------------------------------------------------------------------------


def test_final_message_goes_to_stdout_once_and_nothing_else_does():
    out, err = render_human(turn_with_a_tool_step())

    assert out == "There is one file: README.md.\n"
    assert "There is one file" not in err


def test_intermediate_message_before_a_tool_goes_to_stderr_before_the_command():
    out, err = render_human(turn_with_a_tool_step())

    assert "Let me look at the files." not in out
    lines = err.splitlines()
    message_line = next(i for i, line in enumerate(lines) if "Let me look at the files." in line)
    exec_line = next(i for i, line in enumerate(lines) if line.startswith("exec"))
    assert message_line < exec_line
    assert "bash -lc ls  exit 0  0.0s" in lines[exec_line]


def test_completed_turn_ends_with_a_usage_line_on_stderr():
    _, err = render_human(turn_with_a_tool_step())

    last = err.splitlines()[-1]
    assert last.startswith("done")
    assert "tokens in 100 (cached 50), out 20" in last and "1.5s" in last


def test_failed_turn_writes_error_to_stderr_and_nothing_to_stdout():
    out, err = render_human([TurnStarted(), ItemCompleted(AgentMessage("item_1", "Working on it.")),
                             TurnFailed("the turn was interrupted by the user")])

    assert out == ""
    assert "Working on it." in err
    assert err.splitlines()[-1].split() == ["error", "the", "turn", "was", "interrupted", "by", "the", "user"]


def test_plan_updates_do_not_flush_a_held_message():
    plan = TodoList("item_2", [TodoEntry("write handler", False)])
    events = [TurnStarted(), ItemCompleted(AgentMessage("item_1", "All done.")), ItemCompleted(plan),
              TurnCompleted(Usage())]

    out, err = render_human(events)

    assert out == "All done.\n"
    assert "[ ] write handler" in err


def test_plan_is_shown_with_checkboxes():
    plan = TodoList("item_2", [TodoEntry("read", True), TodoEntry("fix", False)])

    _, err = render_human([ItemStarted(plan), ItemUpdated(plan)])

    assert err.count("[x] read  [ ] fix") == 2


def test_declined_command_shows_the_reason():
    declined = CommandExecution("item_2", "make", reason="the user did not approve this command", status="declined")

    _, err = render_human([ItemStarted(declined), ItemCompleted(declined)])

    assert "make  declined: the user did not approve this command" in err


def test_warning_goes_to_stderr():
    out, err = render_human([Warning("unknown key 'foo' in config.toml")])

    assert out == ""
    assert err.startswith("warning") and "unknown key 'foo'" in err


def test_no_color_codes_without_color():
    out, err = render_human(turn_with_a_tool_step(), color=False)

    assert "\x1b[" not in out + err


def test_color_codes_on_stderr_labels_with_color_but_never_on_stdout():
    out, err = render_human(turn_with_a_tool_step(), color=True)

    assert "\x1b[" in err
    assert out == "There is one file: README.md.\n"


def test_use_color_follows_the_choice_then_no_color_then_the_terminal():
    not_a_tty = io.StringIO()

    assert use_color("always", not_a_tty, env={"NO_COLOR": "1"}) is True
    assert use_color("never", not_a_tty, env={}) is False
    assert use_color("auto", not_a_tty, env={}) is False
    assert use_color("auto", not_a_tty, env={"NO_COLOR": "1"}) is False


# --- json -----------------------------------------------------------------------------------------------


def test_json_writes_one_line_per_event_and_leaves_out_deltas():
    events = turn_with_a_tool_step()

    out, err = render_json(events)

    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines] == [
        "thread.started", "turn.started", "item.completed", "item.started", "item.completed", "item.completed",
        "turn.completed",
    ]
    assert lines[-2]["item"] == {"id": "item_3", "type": "agent_message", "text": "There is one file: README.md."}
    assert err == ""


def test_json_writes_nothing_for_text_and_output_deltas():
    out, _ = render_json([TextDelta("item_1", "hi"), OutputDelta("item_2", "chunk")])

    assert out == ""


def test_json_sends_warnings_to_stderr_only():
    out, err = render_json([Warning("config key 'foo' is unknown")])

    assert out == ""
    assert err == "warning: config key 'foo' is unknown\n"


def test_json_failed_turn_and_fatal_error():
    out = io.StringIO()
    renderer = JsonRenderer(out=out, err=io.StringIO())

    renderer(TurnFailed("boom"))
    renderer.fatal("cannot start")

    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"type": "error", "message": "boom"},  # Codex 0.163 sends the top-level error first
        {"type": "turn.failed", "error": {"message": "boom"}},
        {"type": "error", "message": "cannot start"},
    ]


def test_json_keeps_non_ascii_text_readable():
    out, _ = render_json([ItemCompleted(AgentMessage("item_1", "héllo ✓"))])

    assert "héllo ✓" in out


def waiting(seconds: int) -> ModelWaiting:
    return ModelWaiting(f"waiting for the model ({seconds} s)", seconds=seconds)


def test_waiting_is_one_line_redrawn_in_place_on_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    render = HumanRenderer(color=False, out=out, err=err, live=True)
    for event in [TurnStarted(), waiting(2), waiting(3), waiting(4), ModelWaiting("the model is answering"),
                  ItemCompleted(AgentMessage("item_1", "Hello.")), TurnCompleted(Usage())]:
        render(event)

    text = err.getvalue()
    assert text.count("\n") == 1  # only the usage line ends a line; the waiting line was redrawn, then erased
    assert text.count("\r\x1b[2K") == 3 and "waiting for the model (4 s)" in text
    assert text.rsplit("\r\x1b[2K", 1)[1].startswith("done")
    assert out.getvalue() == "Hello.\n"


def test_waiting_on_a_log_is_shown_when_the_wait_doubles():
    err = io.StringIO()
    render = HumanRenderer(color=False, out=io.StringIO(), err=err, live=False)
    for seconds in range(2, 40):
        render(waiting(seconds))
    render(ModelWaiting("the model is answering"))
    render(waiting(2))

    shown = [line.split("(")[1] for line in err.getvalue().splitlines()]
    assert shown == ["2 s)", "4 s)", "8 s)", "16 s)", "32 s)", "2 s)"]


def test_json_shows_waiting_on_stderr_only_and_sparingly():
    out, err = io.StringIO(), io.StringIO()
    render = JsonRenderer(out=out, err=err)
    for seconds in range(2, 10):
        render(waiting(seconds))

    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == ["status: waiting for the model (2 s)", "status: waiting for the model (4 s)",
                                           "status: waiting for the model (8 s)"]
