"""What every endpoint request carries and how replies that are not whole answers are reported, against the
scripted server over real HTTP: the output cap, replies cut at the cap, a server that cannot stream with tools
(remembered for the session: no doubled requests), and 404s that name the real cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.models.base import ModelRequest, ModelRequestFailed, ModelResponse, ToolSpec
from agent.models.chat import ChatClient, read_chat_stream
from agent.models.endpoint import EndpointClient, sse_events
from agent.models.responses import ResponsesClient, read_responses_stream
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer, ServedAs, ToolCall
from tests.models.test_server_info import endpoint_config

TOOL = ToolSpec("shell", "run a command", {"type": "object", "properties": {"command": {"type": "string"}}})
CLIENTS: dict[str, type[EndpointClient]] = {"chat": ChatClient, "responses": ResponsesClient}


def client_for(server: ScriptedServer, home: Path, wire_api: str = "chat", *extra: str) -> EndpointClient:
    config = endpoint_config(server.base_url, home, f'model_providers.box.wire_api="{wire_api}"', *extra)
    return CLIENTS[wire_api](config, "scripted")


def reply(client: EndpointClient, request: ModelRequest | None = None) -> ModelResponse:
    items = list(client.stream(request or ModelRequest("be brief", (), (TOOL,))))
    assert isinstance(items[-1], ModelResponse)
    return items[-1]


def posts(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


CAP_KEY = {"chat": "max_tokens", "responses": "max_output_tokens"}


@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_every_request_carries_an_output_cap(wire_api, tmp_path: Path):
    with ScriptedServer([Reply(text="a"), Reply(text="b")], serves_as=ServedAs("llama.cpp", 2048)) as server:
        reply(client_for(server, tmp_path, wire_api))
        reply(client_for(server, tmp_path, wire_api, "model_max_output_tokens=300"))

    assert [body[CAP_KEY[wire_api]] for body in posts(server)] == [512, 300]  # a quarter of the window; config


def test_unknown_window_still_gets_a_cap(tmp_path: Path):
    with ScriptedServer([Reply(text="a")]) as server:
        reply(client_for(server, tmp_path))
    assert posts(server)[0]["max_tokens"] == 4096


def finished(stream) -> ModelResponse:
    with pytest.raises(StopIteration) as done:
        while True:
            next(stream)
    return done.value.value


def test_chat_reply_stopped_by_the_cap_is_marked_truncated():
    chunks = [{"choices": [{"index": 0, "delta": {"content": "The start of"}, "finish_reason": None}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"
    stopped = finished(read_chat_stream(sse_events([body])))
    assert stopped.truncated and stopped.text == "The start of"


def test_responses_reply_stopped_by_the_cap_is_the_reply_so_far_marked_truncated():
    delta = {"type": "response.output_text.delta", "delta": "The start of"}
    incomplete = {"type": "response.incomplete", "response": {"status": "incomplete",
                                                              "incomplete_details": {"reason": "max_output_tokens"}}}
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in (delta, incomplete)).encode()
    stopped = finished(read_responses_stream(sse_events([body])))
    assert stopped.truncated and stopped.text == "The start of"


@pytest.mark.parametrize("refusal", ["empty", "error"])
def test_a_server_that_cannot_stream_with_tools_costs_one_extra_request_per_session(refusal, tmp_path: Path):
    steps = [Reply(tool_calls=(ToolCall("shell", {"command": "ls"}),)), Reply(text="one"), Reply(text="two")]
    with ScriptedServer(steps, refuse_streaming_tools=refusal) as server:  # type: ignore[arg-type]
        client = client_for(server, tmp_path)
        first, second, third = reply(client), reply(client), reply(client)
        bodies = posts(server)

    assert first.tool_calls[0].name == "shell" and (second.text, third.text) == ("one", "two")
    assert [bool(b.get("stream")) for b in bodies] == [True, False, False, False]  # 4 requests for 3 replies
    assert len(first.warnings) == 1 and "without streaming" in first.warnings[0]
    assert second.warnings == () and third.warnings == ()  # the hint is given once


def test_a_request_without_tools_still_streams_after_the_refusal(tmp_path: Path):
    steps = [Reply(text="with tools"), Reply(text="no tools")]
    with ScriptedServer(steps, refuse_streaming_tools="empty") as server:
        client = client_for(server, tmp_path)
        reply(client)
        reply(client, ModelRequest("be brief", (), (TOOL,), tool_choice="none"))
        bodies = posts(server)
    assert [bool(b.get("stream")) for b in bodies] == [True, False, True]


def test_404_on_responses_says_to_use_the_chat_wire_api(tmp_path: Path):
    with ScriptedServer([HttpError(404, "Not Found")]) as server:
        client = client_for(server, tmp_path, "responses")
        with pytest.raises(ModelRequestFailed) as failure:
            reply(client)
    message = str(failure.value)
    assert "does not speak the Responses API" in message and 'wire_api = "chat"' in message
    assert "[model_providers.box]" in message and "config.toml" in message


def test_404_for_a_model_lists_the_models_the_server_serves(tmp_path: Path):
    with ScriptedServer([HttpError(404, "The model `qwen` does not exist.")]) as server:
        config = endpoint_config(server.base_url, tmp_path)
        with pytest.raises(ModelRequestFailed) as failure:
            reply(ChatClient(config, "qwen"))
    assert "does not serve model 'qwen'" in str(failure.value) and "it lists scripted" in str(failure.value)
