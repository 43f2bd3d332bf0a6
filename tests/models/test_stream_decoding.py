"""Fuzzing the SSE and JSON decoding of both wire APIs with streams recorded from the scripted server over
real HTTP: every truncation, every two-piece split, random bytes, random mutations and wrong types in every
known field. Whatever the bytes, decoding returns a whole reply or raises one of the transport errors the
endpoint turns into one sentence; nothing else escapes."""

from __future__ import annotations

import contextlib
import json
import random
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from agent.config import ProviderInfo
from agent.errors import UserError
from agent.models.base import ModelResponse
from agent.models.chat import read_chat_completion, read_chat_stream
from agent.models.endpoint import (
    BrokenStream,
    IdleTimeout,
    StreamEndedEarly,
    StreamReportedError,
    StreamUnreadable,
    json_object,
    sse_events,
    user_error,
)
from agent.models.responses import read_responses_stream
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

ALLOWED = (BrokenStream, StreamReportedError)
WRONG_VALUES: list[Any] = [None, 0, -1, 1.5, True, "s", "", [], {}, [1], {"a": 1}, "\ud800"]
REPLY = Reply(
    text="Héllo, wörld: the answer is 42.",
    reasoning="think first",
    tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", "echo hi"]}, call_id="call_a"),
                ToolCall("apply_patch", "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch\n", call_id="call_b")),
)
READERS: dict[str, Callable[[Iterable[Any]], Any]] = {"chat": read_chat_stream, "responses": read_responses_stream}
PATHS = {"chat": "/chat/completions", "responses": "/responses"}


def record(wire: str, reply: Reply = REPLY, stream: bool = True) -> bytes:
    """The raw body the scripted server sends for `reply` (chunked transfer decoded by urllib)."""
    with ScriptedServer([reply], chunk_chars=5) as server:
        body = {"model": "m", "stream": stream, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "hi"}], "input": "hi"}
        request = urllib.request.Request(server.base_url + PATHS[wire], data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read()


@pytest.fixture(scope="module")
def recorded() -> dict[str, bytes]:
    return {wire: record(wire) for wire in READERS}


def decode(wire: str, chunks: Iterable[bytes]) -> ModelResponse:
    reader = READERS[wire](sse_events(chunks))
    try:
        while True:
            next(reader)
    except StopIteration as stop:
        return stop.value


def outcome(wire: str, chunks: Iterable[bytes]) -> ModelResponse | Exception:
    """The reply, or the allowed error; any other exception fails the test with the input that caused it."""
    chunks = list(chunks)
    try:
        return decode(wire, chunks)
    except ALLOWED as e:
        return e
    except Exception as e:  # pragma: no cover - this is the failure being fuzzed for
        raise AssertionError(f"{wire}: {type(e).__name__}: {e} for input {b''.join(chunks)[:300]!r}") from e


def assert_is_the_reply(response: ModelResponse | Exception) -> None:
    assert isinstance(response, ModelResponse), response
    assert response.text == REPLY.text
    assert response.reasoning == REPLY.reasoning
    assert [(c.call_id, c.name) for c in response.tool_calls] == [("call_a", "shell"), ("call_b", "apply_patch")]
    assert json.loads(response.tool_calls[0].arguments) == {"command": ["bash", "-lc", "echo hi"]}
    assert response.tool_calls[1].arguments == REPLY.tool_calls[1].arguments
    assert response.usage.input_tokens > 0


@pytest.mark.parametrize("wire", READERS)
def test_the_whole_recorded_stream_is_the_reply(wire, recorded):
    assert_is_the_reply(outcome(wire, [recorded[wire]]))


@pytest.mark.parametrize("wire", READERS)
def test_every_truncation_is_a_stream_that_ended_early(wire, recorded):
    stream = recorded[wire]
    for end in range(len(stream)):
        result = outcome(wire, [stream[:end]])
        assert isinstance(result, StreamEndedEarly), (end, stream[max(0, end - 40):end], result)


@pytest.mark.parametrize("wire", READERS)
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_split_into_two_reads_gives_the_same_reply(wire, newline, recorded):
    stream = recorded[wire].replace(b"\n", newline)
    cuts = range(len(stream) + 1) if newline == b"\n" else sorted(  # CR and CRLF: every cut at a line end
        {i + d for i, byte in enumerate(stream) if byte in b"\r\n" for d in (0, 1, 2)})
    for cut in cuts:
        assert_is_the_reply(outcome(wire, [stream[:cut], stream[cut:]]))


@pytest.mark.parametrize("wire", READERS)
def test_one_byte_reads_give_the_same_reply(wire, recorded):
    stream = recorded[wire]
    assert_is_the_reply(outcome(wire, [stream[i:i + 1] for i in range(len(stream))]))


@pytest.mark.parametrize("wire", READERS)
def test_random_bytes_never_escape_as_other_errors(wire):
    rng = random.Random(1234)
    for _ in range(3000):
        size = rng.choice([0, 1, 2, 7, 64, 300, 2000])
        data = bytes(rng.getrandbits(8) for _ in range(size))
        if rng.random() < 0.5:  # random bytes that look like SSE
            data = b"data: " + data + b"\n\n"
        assert not isinstance(outcome(wire, [data]), ModelResponse)


@pytest.mark.parametrize("wire", READERS)
def test_random_mutations_of_a_recorded_stream_never_escape(wire, recorded):
    rng = random.Random(99)
    stream = recorded[wire]
    for _ in range(3000):
        mutated = bytearray(stream)
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(mutated))
            action = rng.choice(["flip", "delete", "insert", "duplicate"])
            if action == "flip":
                mutated[where] = rng.getrandbits(8)
            elif action == "delete":
                del mutated[where:where + rng.randint(1, 20)]
            elif action == "insert":
                mutated[where:where] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
            else:
                mutated[where:where] = mutated[where:where + rng.randint(1, 200)]
        outcome(wire, [bytes(mutated)])


def events_of(stream: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """The recorded stream as (event name, JSON object) pairs; chat's [DONE] is re-added by `frames`."""
    pairs: list[tuple[str | None, dict[str, Any]]] = []
    for block in stream.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines and lines["data"] != "[DONE]":
            pairs.append((lines.get("event"), json.loads(lines["data"])))
    return pairs


def frames(pairs: list[tuple[str | None, Any]], chat: bool) -> bytes:
    out = []
    for name, data in pairs:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return ("".join(out) + ("data: [DONE]\n\n" if chat else "")).encode("utf-8", "surrogatepass")


def key_paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every key and index path inside a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from key_paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from key_paths(inner, (*prefix, index))


def replaced(value: Any, path: tuple, new: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


@pytest.mark.parametrize("wire", READERS)
def test_wrong_types_in_every_known_field_never_escape(wire, recorded):
    pairs = events_of(recorded[wire])
    cases = 0
    for index, (name, data) in enumerate(pairs):
        for path in key_paths(data):
            for wrong in WRONG_VALUES:
                mutated = [*pairs[:index], (name, replaced(data, path, wrong)), *pairs[index + 1:]]
                outcome(wire, [frames(mutated, wire == "chat")])
                cases += 1
    assert cases > 1000


@pytest.mark.parametrize("wire", READERS)
def test_events_that_are_not_objects_are_unreadable(wire):
    for data in ["[1, 2]", '"text"', "12", "null", "{", "{\"a\": 1,}", "NaN-ish", "\x00"]:
        result = outcome(wire, [f"data: {data}\n\n".encode()])
        assert isinstance(result, StreamUnreadable), (data, result)


@pytest.mark.parametrize("wire", READERS)
def test_text_that_is_not_valid_unicode_is_unreadable(wire, recorded):
    lone_surrogate = recorded[wire].replace("Héllo".encode(), b"\\ud800llo", 1)
    assert isinstance(outcome(wire, [lone_surrogate]), StreamUnreadable)
    not_utf8 = recorded[wire].replace("Héllo".encode(), b"H\xe9llo", 1)
    assert isinstance(outcome(wire, [not_utf8]), StreamUnreadable)


def test_chat_done_without_a_finish_reason_ended_early():
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    stream = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    result = outcome("chat", [stream])
    assert isinstance(result, StreamEndedEarly) and "finish_reason" in str(result)


def test_responses_incomplete_and_failed_are_the_servers_verdict():
    incomplete = {"type": "response.incomplete", "response": {"incomplete_details": {"reason": "content_filter"}}}
    result = outcome("responses", [f"data: {json.dumps(incomplete)}\n\n".encode()])
    assert isinstance(result, StreamReportedError) and "content_filter" in str(result)
    failed = {"type": "response.failed", "response": {"error": {"message": "out of memory"}}}
    assert "out of memory" in str(outcome("responses", [f"data: {json.dumps(failed)}\n\n".encode()]))


def test_unstreamed_chat_completion_with_wrong_types_never_escapes():
    completion = json.loads(record("chat", stream=False))
    assert read_chat_completion(completion).text == REPLY.text
    for path in key_paths(completion):
        for wrong in WRONG_VALUES:
            with contextlib.suppress(*ALLOWED):
                read_chat_completion(replaced(completion, path, wrong))
    for text in ["<html>", "[]", ""]:
        with pytest.raises(StreamUnreadable):
            json_object(text, "the answer")


@pytest.mark.parametrize("error", [StreamEndedEarly("cut"), StreamUnreadable("garbage"), StreamReportedError("oom"),
                                   IdleTimeout(3)], ids=lambda e: type(e).__name__)
def test_every_transport_error_is_one_sentence_naming_the_server(error):
    provider = ProviderInfo("box", "Box", "http://127.0.0.1:9/v1", stream_idle_timeout_ms=3000)
    message = str(user_error(provider, "m", error, attempts=2))
    assert isinstance(user_error(provider, "m", error), UserError)
    assert "Box at http://127.0.0.1:9/v1" in message and "[model_providers.box]" in message or "oom" in message
    assert message.endswith(".") or "oom" in message
