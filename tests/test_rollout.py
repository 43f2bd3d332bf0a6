"""Session files, written and read through real files under a temporary CODEX_HOME."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.errors import UserError
from agent.models.base import Message, ToolCall
from agent.models.response_items import to_input_items
from agent.protocol import (
    AgentMessage,
    CommandExecution,
    ItemCompleted,
    ItemStarted,
    OutputDelta,
    Status,
    TextDelta,
    ThreadStarted,
    TurnCompleted,
    TurnStarted,
    Usage,
    Warning,
)
from agent.rollout import (
    LoadedRollout,
    RolloutError,
    RolloutWriter,
    SessionMeta,
    UnknownSession,
    find_by_id,
    find_rollouts,
    latest_for_cwd,
    load_rollout,
    new_session_meta,
)
from tests.conftest import codex_command, git, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer

START = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

PREAMBLE = [Message("user", "# AGENTS.md\nuse pytest"), Message("user", "<environment_context>...")]
TURN = [
    Message("user", "list the files"),
    Message("assistant", "", (ToolCall("call_1", "shell", '{"command": ["ls"]}'),)),
    Message("tool", "README.md\n", tool_call_id="call_1"),
    Message("assistant", "Two calls:", (
        ToolCall("call_2", "shell", '{"command": ["cat", "README.md"]}'),
        ToolCall("call_3", "update_plan", '{"plan": [], broken'),
    )),
    Message("tool", "# demo\n", tool_call_id="call_2"),
    Message("tool", "error: invalid arguments", tool_call_id="call_3"),
    Message("assistant", "There is one file: README.md."),
]


def make_meta(cwd: Path, started: datetime = START, model: str | None = "qwen2.5-coder:7b") -> SessionMeta:
    return SessionMeta(
        id=str(uuid.uuid4()), cwd=str(cwd), model=model, provider="ollama", git_branch="main",
        git_commit="0123abcd", cli_version="0.1.0", started_at=started.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )


def record_session(codex_home: Path, cwd: Path, prompt: str | None = "list the files",
                   started: datetime = START) -> RolloutWriter:
    """A closed rollout of one thread: preamble, one turn with tool calls, its events."""
    with RolloutWriter(codex_home, make_meta(cwd, started), now=started) as writer:
        writer.event(ThreadStarted(writer.meta.id))
        for message in PREAMBLE:
            writer.message(message)
        if prompt is not None:
            writer.user_prompt(prompt)
        writer.event(TurnStarted())
        for message in TURN:
            writer.message(message)
        writer.event(ItemCompleted(AgentMessage("item_1", "There is one file: README.md.")))
        writer.event(TurnCompleted(Usage(100, 0, 20)))
    return writer


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines(keepends=False)]


# --- writing ------------------------------------------------------------------------------------------------------


def test_file_is_dated_and_named_after_the_start_time_and_session_id(codex_home, tmp_path):
    with RolloutWriter(codex_home, make_meta(tmp_path), now=START) as writer:
        pass
    expected = codex_home / "sessions/2025/03/04" / f"rollout-2025-03-04T05-06-07-{writer.meta.id}.jsonl"
    assert writer.path == expected
    assert expected.is_file()
    assert stat.S_IMODE(expected.stat().st_mode) == 0o600


def test_first_line_is_the_session_meta(codex_home, tmp_path):
    meta = make_meta(tmp_path)
    with RolloutWriter(codex_home, meta, now=START) as writer:
        pass
    [line] = lines_of(writer.path)
    assert line["type"] == "session_meta"
    assert TIMESTAMP_RE.match(line["timestamp"])
    assert line["payload"] == {
        "id": meta.id, "timestamp": meta.started_at, "cwd": str(tmp_path), "originator": "codex-local",
        "cli_version": "0.1.0", "model_provider": "ollama", "model": "qwen2.5-coder:7b",
        "git": {"branch": "main", "commit_hash": "0123abcd"},
    }
    assert load_rollout(writer.path).meta == meta


def test_every_line_is_one_json_object_with_timestamp_type_and_payload(codex_home, tmp_path):
    writer = RolloutWriter(codex_home, make_meta(tmp_path), now=START)
    tricky = "line one\nline two \u2028 \u00e9\u4e2d \"quoted\" \\ tab\t"
    writer.user_prompt(tricky)
    writer.message(Message("user", tricky))
    writer.close()
    raw = writer.path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 3
    for line in raw.split(b"\n")[:-1]:
        record = json.loads(line)
        assert set(record) == {"timestamp", "type", "payload"}
        assert TIMESTAMP_RE.match(record["timestamp"])
    loaded = load_rollout(writer.path)
    assert loaded.first_prompt == tricky
    assert loaded.history == [Message("user", tricky)]


def test_lines_are_readable_by_another_reader_while_the_writer_is_open(codex_home, tmp_path):
    writer = RolloutWriter(codex_home, make_meta(tmp_path), now=START)
    writer.user_prompt("hello")
    writer.message(Message("user", "hello"))
    writer.event(TurnStarted())

    loaded = load_rollout(writer.path)
    assert loaded.history == [Message("user", "hello")]
    assert loaded.events == [{"type": "user_message", "message": "hello"}, {"type": "turn.started"}]

    writer.message(Message("assistant", "hi"))
    assert load_rollout(writer.path).history == [Message("user", "hello"), Message("assistant", "hi")]
    writer.close()


def test_a_writer_killed_with_sigkill_leaves_every_line_it_wrote(codex_home, tmp_path):
    script = textwrap.dedent(f"""
        import sys, time, uuid
        from pathlib import Path
        from agent.models.base import Message
        from agent.rollout import RolloutWriter, SessionMeta
        meta = SessionMeta(str(uuid.uuid4()), {str(tmp_path)!r}, None, "embedded", None, None, "0.1.0",
                           "2025-03-04T05:06:07.000Z")
        writer = RolloutWriter(Path({str(codex_home)!r}), meta)
        writer.user_prompt("hello")
        writer.message(Message("user", "hello"))
        print(writer.path, flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parent.parent)
    try:
        path = Path(process.stdout.readline().strip())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    loaded = load_rollout(path)
    assert (loaded.history, loaded.first_prompt, loaded.warnings) == ([Message("user", "hello")], "hello", [])


def test_events_are_stored_in_their_exec_json_form_without_deltas_or_status(codex_home, tmp_path):
    command = CommandExecution("item_1", "bash -lc ls", str(tmp_path))
    with RolloutWriter(codex_home, make_meta(tmp_path), now=START) as writer:
        writer.event(ThreadStarted(writer.meta.id))
        writer.event(TurnStarted())
        writer.event(Status("loading SmolLM2 (98 MB)"))
        writer.event(ItemStarted(command))
        writer.event(OutputDelta("item_1", "README.md\n"))
        writer.event(TextDelta("item_2", "Do"))
        writer.event(Warning("Context window nearly full: compacting the conversation into a summary."))
        writer.event(ItemCompleted(AgentMessage("item_2", "Done.")))
        writer.event(TurnCompleted(Usage(10, 0, 2), duration_ms=1500))

    events = load_rollout(writer.path).events
    assert [event["type"] for event in events] == [
        "thread.started", "turn.started", "item.started", "warning", "item.completed", "turn.completed",
    ]
    assert events[2]["item"]["command"] == "bash -lc ls"
    assert events[4] == {"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": "Done."}}
    assert events[5]["usage"]["input_tokens"] == 10
    assert all(line["type"] in ("session_meta", "event_msg") for line in lines_of(writer.path))


def test_closed_writer_refuses_more_lines(codex_home, tmp_path):
    writer = RolloutWriter(codex_home, make_meta(tmp_path), now=START)
    writer.close()
    writer.close()  # closing twice is harmless
    with pytest.raises(ValueError, match="closed"):
        writer.message(Message("user", "late"))


def test_a_second_writer_for_the_same_session_and_second_is_refused(codex_home, tmp_path):
    meta = make_meta(tmp_path)
    RolloutWriter(codex_home, meta, now=START).close()
    with pytest.raises(RolloutError, match="cannot create the session file"):
        RolloutWriter(codex_home, meta, now=START)


def test_new_session_meta_records_cwd_model_provider_and_git_head(git_repo, codex_home):
    config = load_config(Overrides(cwd=git_repo, model="qwen2.5-coder:7b", local_provider="ollama"),
                         env={"CODEX_HOME": str(codex_home), "HOME": str(codex_home)})
    meta = new_session_meta("0199a213-81c0-7800-8aa1-bbab2a035a53", config, now=START)
    assert meta == SessionMeta(
        id="0199a213-81c0-7800-8aa1-bbab2a035a53", cwd=str(git_repo.resolve()), model="qwen2.5-coder:7b",
        provider="ollama", git_branch="main", git_commit=git(git_repo, "rev-parse", "HEAD").strip(),
        cli_version=meta.cli_version, started_at="2025-03-04T05:06:07.000Z",
    )


def test_new_session_meta_outside_a_repository_has_no_git_info(tmp_path, codex_home, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    config = load_config(Overrides(cwd=plain), env={"CODEX_HOME": str(codex_home), "HOME": str(codex_home)})
    meta = new_session_meta("abc", config)
    assert (meta.git_branch, meta.git_commit) == (None, None)


# --- loading ------------------------------------------------------------------------------------------------------


def test_load_rebuilds_the_history_with_tool_calls_and_outputs(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    loaded = load_rollout(writer.path)
    assert isinstance(loaded, LoadedRollout)
    assert loaded.history == PREAMBLE + TURN
    assert loaded.first_prompt == "list the files"
    assert loaded.warnings == []
    assert [event["type"] for event in loaded.events] == [
        "thread.started", "user_message", "turn.started", "item.completed", "turn.completed",
    ]


def test_history_items_use_the_responses_api_shape(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    items = [line["payload"] for line in lines_of(writer.path) if line["type"] == "response_item"]
    assert items[2] == {"type": "message", "role": "user",
                        "content": [{"type": "input_text", "text": "list the files"}]}
    assert items[3] == {"type": "function_call", "call_id": "call_1", "name": "shell",
                        "arguments": '{"command": ["ls"]}'}
    assert items[4] == {"type": "function_call_output", "call_id": "call_1", "output": "README.md\n"}
    assert items[5] == {"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": "Two calls:"}]}
    assert [item["type"] for item in items[6:]] == [
        "function_call", "function_call", "function_call_output", "function_call_output", "message",
    ]


def stored_items(path: Path) -> list[dict]:
    return [line["payload"] for line in lines_of(path) if line["type"] == "response_item"]


def test_a_rollout_stores_the_items_a_responses_request_sends_for_the_same_history(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    assert stored_items(writer.path) == to_input_items([*PREAMBLE, *TURN])


def test_a_users_images_are_stored_as_codex_stores_them_and_come_back_on_resume(codex_home, tmp_path):
    picture = Message("user", "what is this?", images=("data:image/png;base64,iVBORw0KGgo=",))
    with RolloutWriter(codex_home, make_meta(tmp_path), now=START) as writer:
        writer.message(picture)
    text = {"type": "input_text", "text": "what is this?"}
    expected = [{"type": "message", "role": "user", "content": [
        text, {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]}]
    assert stored_items(writer.path) == expected == to_input_items([picture])
    assert load_rollout(writer.path).history == [picture]


def test_an_empty_answer_is_kept_in_the_rollout_and_left_out_of_a_request(codex_home, tmp_path):
    history = [Message("user", "say nothing"), Message("assistant", "")]
    with RolloutWriter(codex_home, make_meta(tmp_path), now=START) as writer:
        for message in history:
            writer.message(message)
    assert load_rollout(writer.path).history == history
    assert [item["role"] for item in to_input_items(history)] == ["user"]


def test_compaction_replaces_the_history_before_it(codex_home, tmp_path):
    summary = [*PREAMBLE, Message("user", "Summary: listed the files."), Message("user", "now read it")]
    with RolloutWriter(codex_home, make_meta(tmp_path), now=START) as writer:
        for message in [*PREAMBLE, *TURN]:
            writer.message(message)
        writer.message(Message("user", "now read it"))
        writer.compacted(summary, "listed the files.")
        writer.message(Message("assistant", "It says # demo."))
    compacted = next(line for line in lines_of(writer.path) if line["type"] == "compacted")
    assert compacted["payload"]["message"] == "listed the files."
    assert load_rollout(writer.path).history == [*summary, Message("assistant", "It says # demo.")]


def test_a_file_cut_in_the_middle_of_its_last_line_loads_without_that_line(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    with RolloutWriter.append_to(writer.path) as more:
        more.message(Message("user", "this line will be cut"))
    data = writer.path.read_bytes()
    writer.path.write_bytes(data[: len(data) - 20])  # killed mid-write: no newline, half a JSON object

    loaded = load_rollout(writer.path)
    assert loaded.history == PREAMBLE + TURN
    assert len(loaded.warnings) == 1
    assert "partial last line" in loaded.warnings[0] and str(writer.path) in loaded.warnings[0]


def test_a_complete_last_line_without_its_newline_still_counts(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    writer.path.write_bytes(writer.path.read_bytes().rstrip(b"\n"))
    loaded = load_rollout(writer.path)
    assert loaded.warnings == []
    assert loaded.events[-1]["type"] == "turn.completed"


def test_garbage_lines_in_the_middle_are_reported_and_skipped(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    lines = writer.path.read_bytes().split(b"\n")
    lines[3:3] = [b"{not json", b"\xff\xfe binary", b'["a list"]', b""]
    writer.path.write_bytes(b"\n".join(lines))

    loaded = load_rollout(writer.path)
    assert loaded.history == PREAMBLE + TURN
    assert [w.split(" line ")[1].split(" ")[0] for w in loaded.warnings] == ["4", "5", "6"]
    assert all("skipped" in warning for warning in loaded.warnings)


def test_a_file_that_does_not_start_with_session_meta_is_refused(codex_home, tmp_path):
    path = tmp_path / "rollout-2025-03-04T05-06-07-x.jsonl"
    path.write_text('{"timestamp":"2025-03-04T05:06:07.000Z","type":"event_msg","payload":{"type":"turn.started"}}\n')
    with pytest.raises(RolloutError, match="not a session file"):
        load_rollout(path)
    with pytest.raises(RolloutError, match="not a session file"):
        RolloutWriter.append_to(path)
    path.write_text("")
    with pytest.raises(RolloutError, match="not a session file"):
        load_rollout(path)


def test_a_missing_file_is_a_user_error_naming_it(tmp_path):
    with pytest.raises(UserError, match="cannot read the session file .*missing.jsonl"):
        load_rollout(tmp_path / "missing.jsonl")


def test_resuming_a_killed_session_appends_after_the_last_complete_line(codex_home, tmp_path):
    writer = record_session(codex_home, tmp_path)
    with writer.path.open("ab") as file:
        file.write(b'{"timestamp":"2025-03-04T05:06:09.000Z","type":"response_it')  # the killed process's half line

    with RolloutWriter.append_to(writer.path) as resumed:
        assert resumed.meta == load_rollout(writer.path).meta
        resumed.user_prompt("and now?")
        resumed.message(Message("user", "and now?"))

    loaded = load_rollout(writer.path)
    assert loaded.warnings == []
    assert loaded.history == [*PREAMBLE, *TURN, Message("user", "and now?")]
    assert loaded.first_prompt == "list the files"


def test_a_rollout_written_by_codex_loads(codex_home):
    """Codex writes more line and item types: turn_context lines are skipped, a developer message is carried as a
    user message, and the reasoning item, which cannot be carried, is named in a warning."""
    path = codex_home / "sessions/2025/10/29/rollout-2025-10-29T00-59-38-019a2d7a-41c4-78b1-b7cc-a45d62a89cd5.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        ("session_meta", {"id": "019a2d7a-41c4-78b1-b7cc-a45d62a89cd5", "timestamp": "2025-10-29T00:59:38.308Z",
                          "cwd": "/tmp/codex-research-test", "originator": "codex_exec", "cli_version": "0.46.0",
                          "instructions": None, "source": "exec", "git": {}}),
        ("response_item", {"type": "message", "role": "developer",
                           "content": [{"type": "input_text", "text": "<permissions>"}]}),
        ("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "2+2?"}]}),
        ("event_msg", {"type": "user_message", "message": "2+2?", "images": []}),
        ("turn_context", {"cwd": "/tmp/codex-research-test", "model": "gpt-5-codex"}),
        ("response_item", {"type": "reasoning", "summary": [], "encrypted_content": "..."}),
        ("response_item", {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"}),
        ("response_item", {"type": "function_call_output", "call_id": "c1", "output": "4\n"}),
        ("response_item", {"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": "4"}]}),
    ]
    path.write_text("".join(
        json.dumps({"timestamp": "2025-10-29T00:59:38.317Z", "type": kind, "payload": payload}) + "\n"
        for kind, payload in lines
    ))
    loaded = load_rollout(path)
    assert loaded.warnings == [f"{path}: resumed without these items, which cannot be sent to this model: "
                               "reasoning ×1 (Codex encrypts its reasoning for OpenAI's servers); the rest of the "
                               "conversation is carried"]
    assert loaded.meta.cli_version == "0.46.0" and loaded.meta.model is None
    assert loaded.history == [
        Message("user", "<permissions>"),  # a developer message: carried as a user message
        Message("user", "2+2?"),
        Message("assistant", "", (ToolCall("c1", "shell", "{}"),)),
        Message("tool", "4\n", tool_call_id="c1"),
        Message("assistant", "4"),
    ]
    [summary] = find_rollouts(codex_home)
    assert (summary.id, summary.first_prompt) == ("019a2d7a-41c4-78b1-b7cc-a45d62a89cd5", "2+2?")


# --- finding ------------------------------------------------------------------------------------------------------


def test_find_rollouts_lists_newest_first_with_the_first_prompt(codex_home, tmp_path):
    oldest = record_session(codex_home, tmp_path, "first task", START)
    newest = record_session(codex_home, tmp_path, "third task", START + timedelta(days=40))
    middle = record_session(codex_home, tmp_path, None, START + timedelta(hours=1))

    found = find_rollouts(codex_home)
    assert [s.path for s in found] == [newest.path, middle.path, oldest.path]
    assert [s.first_prompt for s in found] == ["third task", None, "first task"]
    assert found[0].id == newest.meta.id
    assert found[0].cwd == str(tmp_path)
    assert found[0].started_at == newest.meta.started_at
    assert found[0].model == "qwen2.5-coder:7b"


def test_find_rollouts_filters_by_cwd_and_skips_files_that_are_not_rollouts(codex_home, tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    mine = record_session(codex_home, here, "mine")
    record_session(codex_home, elsewhere, "theirs")
    junk = codex_home / "sessions/2025/03/04/rollout-2025-03-04T05-06-07-junk.jsonl"
    junk.write_text("not json at all\n")

    assert [s.path for s in find_rollouts(codex_home, here)] == [mine.path]
    assert len(find_rollouts(codex_home)) == 2
    assert find_rollouts(tmp_path / "no-such-home") == []


def test_latest_for_cwd(codex_home, tmp_path):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    assert latest_for_cwd(codex_home, here) is None
    record_session(codex_home, here, "old", START)
    latest = record_session(codex_home, here, "new", START + timedelta(minutes=5))
    record_session(codex_home, elsewhere, "newer elsewhere", START + timedelta(minutes=10))
    assert latest_for_cwd(codex_home, here) == latest.path


def test_find_by_id_accepts_the_full_id_or_a_unique_prefix(codex_home, tmp_path):
    writers = [record_session(codex_home, tmp_path, started=START + timedelta(seconds=n)) for n in range(3)]
    target = writers[1]
    assert find_by_id(codex_home, target.meta.id) == target.path
    assert find_by_id(codex_home, target.meta.id.upper()) == target.path
    unique = next(n for n in range(1, 37) if sum(w.meta.id.startswith(target.meta.id[:n]) for w in writers) == 1)
    assert find_by_id(codex_home, target.meta.id[:unique]) == target.path


def test_find_by_id_names_the_sessions_directory_when_nothing_matches(codex_home, tmp_path):
    record_session(codex_home, tmp_path)
    with pytest.raises(UserError, match=re.escape(str(codex_home / "sessions"))) as error:
        find_by_id(codex_home, "zzzz")
    assert "no session id starts with 'zzzz'" in str(error.value)


def test_find_by_id_refuses_an_ambiguous_prefix(codex_home, tmp_path):
    metas = [replace(make_meta(tmp_path), id=f"abcd{n}000-0000-4000-8000-000000000000") for n in range(2)]
    for n, meta in enumerate(metas):
        RolloutWriter(codex_home, meta, now=START + timedelta(seconds=n)).close()
    with pytest.raises(UnknownSession, match="is the start of 2 session ids") as error:
        find_by_id(codex_home, "abcd")
    assert str(codex_home / "sessions") in str(error.value)
    assert metas[0].id in str(error.value) and metas[1].id in str(error.value)
    assert find_by_id(codex_home, "abcd1").name.endswith(f"{metas[1].id}.jsonl")


# --- rollouts written by real Codex 0.163 -------------------------------------------------------------------------

# Recorded once with the real Codex 0.163.0 binary (`pip download openai-codex-cli-bin`) running `codex exec --json`
# against a local Responses server that answered a freeform apply_patch call (a custom_tool_call) and an
# exec_command call; config.toml set developer_instructions, so the first item is Codex's developer message.
CODEX_0_163 = Path(__file__).parent / "fixtures" / "codex_0_163"
CODEX_ROLLOUT = next(CODEX_0_163.glob("rollout-*.jsonl"))
CODEX_THREAD = "01a230ee-099e-74d3-8e32-e4f2ad78e547"
CODEX_PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+Hello from Codex\n*** End Patch\n"


def install_codex_rollout(codex_home: Path) -> Path:
    target = codex_home / "sessions" / "2026" / "12" / "01" / CODEX_ROLLOUT.name
    target.parent.mkdir(parents=True)
    target.write_bytes(CODEX_ROLLOUT.read_bytes())
    return target


def test_a_real_codex_0_163_rollout_carries_every_item(codex_home):
    loaded = load_rollout(install_codex_rollout(codex_home))
    assert loaded.warnings == []
    assert (loaded.meta.id, loaded.meta.cli_version, loaded.first_prompt) == (
        CODEX_THREAD, "0.163.0", "Add hello.txt saying hello")
    roles = [message.role for message in loaded.history]
    assert roles == ["user", "user", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    developer, environment, prompt = (message.content for message in loaded.history[:3])
    assert developer.startswith("Always answer in English.\n\n")  # developer_instructions, then Codex's own parts
    assert environment.startswith("<environment_context>") and prompt == "Add hello.txt saying hello"
    patch_call = loaded.history[3]
    assert patch_call.content == "I will add the file."
    assert patch_call.tool_calls == (ToolCall("call_patch_1", "apply_patch", json.dumps({"input": CODEX_PATCH})),)
    assert loaded.history[4] == Message("tool", "unsupported custom tool call: apply_patch",
                                        tool_call_id="call_patch_1")
    # Codex 0.163's exec_command, carried as a call of our shell tool
    assert loaded.history[5].tool_calls == (
        ToolCall("call_shell_1", "shell", '{"command": ["bash", "-lc", "cat hello.txt"]}'),)
    assert loaded.history[6].tool_call_id == "call_shell_1" and loaded.history[7].content == "Added hello.txt."
    [summary] = find_rollouts(codex_home)
    assert summary.first_prompt == "Add hello.txt saying hello"  # from Codex 0.163's item_completed UserMessage


def test_codex_exec_resumes_a_real_codex_rollout_with_its_patch_call_and_developer_message(
        codex_home, git_repo):
    install_codex_rollout(codex_home)
    with ScriptedServer([Reply(text="continued")]) as server:
        write_provider_config(codex_home, server)
        env = {**os.environ, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
        run = subprocess.run([*codex_command(), "exec", "--json", "resume", CODEX_THREAD, "and now?"],
                             cwd=git_repo, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        [request] = server.requests
    messages = request.body["messages"]
    sent = json.dumps(messages)
    assert "Always answer in English." in sent
    [patch] = [call for message in messages for call in message.get("tool_calls") or []
               if call["id"] == "call_patch_1"]
    assert patch["function"] == {"name": "apply_patch", "arguments": json.dumps({"input": CODEX_PATCH})}
    assert {"role": "tool", "tool_call_id": "call_patch_1", "content": "unsupported custom tool call: apply_patch"} \
        in messages
    assert messages[-1]["content"] == "and now?"


def test_items_a_model_cannot_be_sent_are_named_in_one_warning(codex_home, tmp_path):
    path = codex_home / "sessions/2025/10/29/rollout-2025-10-29T00-59-38-019a2d7a-41c4-78b1-b7cc-a45d62a89cd6.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        ("session_meta", {"id": "019a2d7a-41c4-78b1-b7cc-a45d62a89cd6", "timestamp": "2025-10-29T00:59:38.308Z",
                          "cwd": str(tmp_path), "cli_version": "0.163.0"}),
        ("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
        ("response_item", {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}),
        ("response_item", {"type": "reasoning", "summary": [], "encrypted_content": "gAAB"}),
        ("response_item", {"type": "web_search_call", "status": "completed"}),
        ("response_item", {"type": "local_shell_call", "call_id": "s1", "status": "completed",
                           "action": {"type": "exec", "command": ["ls"], "working_directory": "/w"}}),
        ("response_item", {"type": "function_call_output", "call_id": "s1", "output": "a\n"}),
    ]
    path.write_text("".join(json.dumps({"timestamp": "t", "type": kind, "payload": payload}) + "\n"
                            for kind, payload in lines))
    loaded = load_rollout(path)
    assert loaded.warnings == [f"{path}: resumed without these items, which cannot be sent to this model: "
                               "reasoning ×2, web_search_call ×1 (Codex encrypts its reasoning for OpenAI's "
                               "servers); the rest of the conversation is carried"]
    assert loaded.history[1:] == [
        Message("assistant", "", (ToolCall("s1", "shell", '{"command": ["ls"], "workdir": "/w"}'),)),
        Message("tool", "a\n", tool_call_id="s1"),
    ]
