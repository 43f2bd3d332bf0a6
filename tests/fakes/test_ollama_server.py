"""The fake Ollama behaves as Ollama's docs say, checked with plain HTTP (no client of ours): NDJSON streams, the
default window of 2048 and its silent cut, num_predict, reloads on a new num_ctx, /api/show, /api/tags, and 400
for tools on a model without them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fakes.ollama_server import FakeOllama, OllamaModel
from tests.fakes.scripted_server import Reply, ToolCall

MODEL = "qwen2.5-coder:7b"


def post(fake: FakeOllama, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(fake.root + path, json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def lines(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": text}],
            **extra}


def test_a_chat_streams_ndjson_ending_with_done():
    with FakeOllama([Reply(text="Hello there, friend.", tool_calls=(ToolCall("shell", {"command": "ls"}),))]) as fake:
        status, raw = post(fake, "/api/chat", chat("hi"))
    objects = lines(raw)
    assert status == 200 and all(o["done"] is False for o in objects[:-1]) and objects[-1]["done"] is True
    assert "".join(o["message"]["content"] for o in objects) == "Hello there, friend."
    [call] = [c for o in objects for c in o["message"].get("tool_calls", [])]
    assert call == {"function": {"name": "shell", "arguments": {"command": "ls"}}}
    assert objects[-1]["done_reason"] == "stop" and objects[-1]["prompt_eval_count"] > 0


def test_without_num_ctx_a_long_prompt_is_cut_at_2048_silently():
    history = [{"role": "user", "content": "old " * 4000}, {"role": "assistant", "content": "ok"}]
    body = {"model": MODEL, "messages": [{"role": "system", "content": "sys"}, *history,
                                         {"role": "user", "content": "now"}]}
    with FakeOllama([Reply(text="fine")]) as fake:
        status, raw = post(fake, "/api/chat", body)
        [served] = fake.served
    assert status == 200 and served.num_ctx == 2048 and served.cut
    assert lines(raw)[-1]["prompt_eval_count"] < 100  # the old message was dropped, and the count shows it


def test_num_ctx_is_capped_at_the_trained_length_and_a_new_value_reloads():
    steps = [Reply(text="a"), Reply(text="b"), Reply(text="c")]
    with FakeOllama(steps, [OllamaModel(MODEL, context_length=4096)]) as fake:
        for num_ctx in (8192, 8192, 2048):
            post(fake, "/api/chat", chat("hi", options={"num_ctx": num_ctx}))
        assert [s.num_ctx for s in fake.served] == [4096, 4096, 2048]
        assert fake.loads == [(MODEL, 4096), (MODEL, 2048)]


def test_num_predict_stops_the_reply_with_done_reason_length():
    with FakeOllama([Reply(text="x" * 100)]) as fake:
        _, raw = post(fake, "/api/chat", chat("hi", options={"num_predict": 5}, stream=False))
    answer = json.loads(raw)
    assert answer["done_reason"] == "length" and answer["message"]["content"] == "x" * 20


def test_tools_on_a_model_without_them_is_a_400():
    with FakeOllama([Reply(text="never")], [OllamaModel("gemma:2b", tools=False)]) as fake:
        status, raw = post(fake, "/api/chat", {**chat("hi"), "model": "gemma:2b", "tools": [{"type": "function"}]})
    assert status == 400 and json.loads(raw)["error"].endswith("gemma:2b does not support tools")


@pytest.mark.parametrize("path", ["/api/chat", "/api/show"])
def test_an_unknown_model_is_a_404(path):
    with FakeOllama([]) as fake:
        status, raw = post(fake, path, {"model": "nope", "messages": []})
    assert status == 404 and "not found" in json.loads(raw)["error"]


def test_show_and_tags_describe_the_pulled_models():
    with FakeOllama([], [OllamaModel(MODEL, context_length=32768, num_ctx=16384)]) as fake:
        _, shown = post(fake, "/api/show", {"model": MODEL})
        with urllib.request.urlopen(fake.root + "/api/tags", timeout=10) as answer:
            tags = json.loads(answer.read())
    info = json.loads(shown)
    assert info["model_info"]["qwen2.context_length"] == 32768 and "num_ctx" in info["parameters"]
    assert "tools" in info["capabilities"] and [m["name"] for m in tags["models"]] == [MODEL]
