"""Tests for the scripted fake OpenAI server, driven through the real ``openai`` SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.fakes.scripted_server import (
    HttpError,
    RecordedRequest,
    Reply,
    ScriptedServer,
    ToolCall,
    load_script,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MESSAGES: list[Any] = [{"role": "user", "content": "hello there"}]


def _client(server: ScriptedServer, **kwargs: Any) -> OpenAI:
    kwargs.setdefault("max_retries", 0)
    return OpenAI(base_url=server.base_url, api_key="test", timeout=10, **kwargs)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(*steps: Any, **kwargs: Any) -> ScriptedServer:
        server = ScriptedServer(list(steps), **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _chat_stream(client: OpenAI, **kwargs: Any) -> list[Any]:
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True, **kwargs)
    return list(stream)


# ------------------------------------------------------------------------------------ chat completions


def test_chat_non_streaming_text(serve: Any) -> None:
    server = serve(Reply(text="Hello, world!"))
    completion = _client(server).chat.completions.create(model="m", messages=MESSAGES)
    choice = completion.choices[0]
    assert choice.message.content == "Hello, world!"
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == len("Hello, world!") // 4
    assert server.remaining == 0


def test_chat_streaming_text_in_pieces(serve: Any) -> None:
    server = serve(Reply(text="The quick brown fox jumps"), chunk_chars=5)
    chunks = _chat_stream(_client(server))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == ["The q", "uick ", "brown", " fox ", "jumps"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" for c in chunks)


def test_chat_streaming_tool_calls_reassemble(serve: Any) -> None:
    calls = (
        ToolCall("shell", {"command": ["ls", "-la"]}),
        ToolCall("apply_patch", "{not json", call_id="my_id"),
    )
    server = serve(Reply(text="Let me look.", tool_calls=calls, reasoning="think first"))
    chunks = _chat_stream(_client(server))
    assembled: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for tc in chunk.choices[0].delta.tool_calls or []:
            slot = assembled.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] += tc.id or ""
            slot["name"] += (tc.function and tc.function.name) or ""
            slot["arguments"] += (tc.function and tc.function.arguments) or ""
    assert assembled[0] == {"id": "call_1", "name": "shell", "arguments": '{"command": ["ls", "-la"]}'}
    assert assembled[1] == {"id": "my_id", "name": "apply_patch", "arguments": "{not json"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks)
    assert (text, reasoning) == ("Let me look.", "think first")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_non_streaming_tool_calls(serve: Any) -> None:
    server = serve(Reply(tool_calls=(ToolCall("shell", {"command": ["pwd"]}),)))
    message = _client(server).chat.completions.create(model="m", messages=MESSAGES).choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.function.name) == ("call_1", "shell")
    assert json.loads(call.function.arguments) == {"command": ["pwd"]}


def test_chat_usage_chunk_and_prefix_cache(serve: Any) -> None:
    server = serve(Reply(text="one"), Reply(text="two"))
    client = _client(server)
    options = {"stream_options": {"include_usage": True}}
    first = _chat_stream(client, **options)
    second_messages = [
        *MESSAGES,
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "more"},
    ]
    stream = client.chat.completions.create(model="m", messages=second_messages, stream=True, **options)
    second = list(stream)
    for chunks in (first, second):
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
    usage1, usage2 = first[-1].usage, second[-1].usage
    assert usage1.prompt_tokens == len(json.dumps(MESSAGES)) // 4
    assert usage1.prompt_tokens_details.cached_tokens == 0
    assert 0 < usage2.prompt_tokens_details.cached_tokens < usage2.prompt_tokens
    assert usage2.total_tokens == usage2.prompt_tokens + usage2.completion_tokens


def test_chat_without_include_usage_has_no_usage_chunk(serve: Any) -> None:
    server = serve(Reply(text="hi"))
    chunks = _chat_stream(_client(server))
    assert all(c.choices for c in chunks)


# ------------------------------------------------------------------------------------ responses API


def _event_types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def test_responses_streaming_text(serve: Any) -> None:
    server = serve(Reply(text="Hello from responses"))
    stream = _client(server).responses.create(model="m", input="hi", instructions="be nice", stream=True)
    events = list(stream)
    assert _event_types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Hello from responses"
    completed = events[-1].response
    assert completed.status == "completed"
    assert completed.output_text == "Hello from responses"
    assert completed.instructions == "be nice"
    assert completed.usage is not None
    assert completed.usage.input_tokens == len(json.dumps("hi")) // 4
    assert completed.usage.output_tokens == len("Hello from responses") // 4
    assert completed.usage.input_tokens_details.cached_tokens == 0


def test_responses_streaming_function_call_and_reasoning(serve: Any) -> None:
    reply = Reply(reasoning="plan it", tool_calls=(ToolCall("shell", {"command": ["ls"]}, call_id="c1"),))
    server = serve(reply)
    events = list(_client(server).responses.create(model="m", input="list files", stream=True))
    done_items = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done_items] == ["reasoning", "function_call"]
    assert done_items[0].summary[0].text == "plan it"
    call = done_items[1]
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("c1", "shell", {"command": ["ls"]})
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert added[1].type == "function_call" and added[1].arguments == "" and added[1].status == "in_progress"
    arg_deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert arg_deltas == call.arguments
    assert any(e.type == "response.function_call_arguments.done" for e in events)
    assert "response.reasoning_summary_text.delta" in _event_types(events)
    completed = events[-1]
    assert completed.type == "response.completed"
    assert [item.type for item in completed.response.output] == ["reasoning", "function_call"]
    assert completed.response.usage.output_tokens_details.reasoning_tokens == len("plan it") // 4


def test_responses_non_streaming(serve: Any) -> None:
    server = serve(Reply(text="plain"))
    response = _client(server).responses.create(model="m", input=[{"role": "user", "content": "x"}])
    assert response.output_text == "plain"
    assert response.status == "completed"
    assert server.requests[0].path == "/v1/responses"


# ------------------------------------------------------------------------------------ errors


def test_http_errors_are_retried_by_the_sdk(serve: Any) -> None:
    failure = HttpError(500, "boom", retry_after_ms=1)
    server = serve(failure, failure, Reply(text="third time lucky"))
    completion = _client(server, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == "third time lucky"
    assert len(server.requests) == 3
    assert server.remaining == 0


def test_http_error_status_and_message(serve: Any) -> None:
    server = serve(HttpError(400, "bad request body"))
    with pytest.raises(openai.BadRequestError, match="bad request body"):
        _client(server).chat.completions.create(model="m", messages=MESSAGES)


def test_exhausted_script_fails_clearly(serve: Any) -> None:
    server = serve(Reply(text="only one"))
    client = _client(server, max_retries=2)
    client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError, match="script exhausted after 1 steps"):
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert len(server.requests) == 2  # x-should-retry: false stops the SDK's retries


def test_client_disconnect_mid_stream_keeps_server_alive(serve: Any) -> None:
    server = serve(Reply(text="x" * 200, delay_ms=20), Reply(text="next"), chunk_chars=4)
    client = _client(server)
    started = time.monotonic()
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    assert time.monotonic() - started < 1.0
    completion = client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == "next"


# ------------------------------------------------------------------------------------ recording


def test_requests_are_recorded_and_logged(serve: Any, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = serve(Reply(text="a"), log_path=log)
    client = _client(server, default_query={"api-version": "2024"})
    models = client.models.list()
    client.chat.completions.create(model="m", messages=MESSAGES, temperature=0.5)
    assert [m.id for m in models.data] == ["scripted"]
    first, second = server.requests
    assert isinstance(second, RecordedRequest)
    assert (first.method, first.path, first.body) == ("GET", "/v1/models", {})
    assert second.path == "/v1/chat/completions"
    assert second.query == {"api-version": "2024"}
    assert second.body["messages"] == MESSAGES and second.body["temperature"] == 0.5
    assert second.headers["authorization"] == "Bearer test"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [
        {"path": "/v1/models", "body": {}},
        {"path": "/v1/chat/completions", "body": second.body},
    ]


def test_paths_without_v1_prefix_and_unknown_paths(serve: Any) -> None:
    server = serve(Reply(text="no prefix"))
    root = server.base_url.removesuffix("/v1")
    client = OpenAI(base_url=root, api_key="test", max_retries=0)
    assert (
        client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "no prefix"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.base_url}/nope", timeout=5)
    assert info.value.code == 404
    assert "unknown path" in json.loads(info.value.read())["error"]["message"]


# ------------------------------------------------------------------------------------ script loading, CLI


def test_load_script_from_json(tmp_path: Path) -> None:
    steps = [
        {"text": "hi", "reasoning": "r", "delay_ms": 5},
        {"tool_calls": [{"name": "shell", "arguments": {"command": ["ls"]}, "call_id": "c9"}]},
        {"error": 503, "message": "overloaded"},
    ]
    expected = [
        Reply(text="hi", reasoning="r", delay_ms=5),
        Reply(tool_calls=(ToolCall("shell", {"command": ["ls"]}, call_id="c9"),)),
        HttpError(503, "overloaded"),
    ]
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"steps": steps}))
    assert load_script(path) == expected
    assert load_script(str(path)) == expected
    assert load_script(steps) == expected


def test_cli_prints_url_and_serves(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "from the cli"}]))
    log = tmp_path / "log.jsonl"
    cmd = [sys.executable, "-m", "tests.fakes.scripted_server", str(script), "--log", str(log)]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        client = OpenAI(base_url=base_url, api_key="test", max_retries=0)
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == (
            "from the cli"
        )
        assert json.loads(log.read_text())["path"] == "/v1/chat/completions"
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


def test_cli_exit_when_done(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "bye"}]))
    cmd = [sys.executable, "-m", "tests.fakes.scripted_server", str(script), "--exit-when-done"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        client = OpenAI(base_url=proc.stdout.readline().strip(), api_key="test", max_retries=0)
        client.chat.completions.create(model="m", messages=MESSAGES)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
