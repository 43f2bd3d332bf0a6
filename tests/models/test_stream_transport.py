"""The endpoint back ends' transport against the scripted server over real HTTP: which failures are retried
and how often, the waiting ticks of a silent server, interrupting a hang, and huge streamed arguments."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.models import make_client
from agent.models.base import (
    ModelRequest,
    ModelRequestFailed,
    ModelResponse,
    ModelUnavailable,
    Retrying,
    TextChunk,
    ToolSpec,
    Waiting,
)
from agent.protocol import Event, Interrupt, ModelWaiting, TurnFailed, UserInput
from agent.session import Session
from tests.fakes.scripted_server import Cut, Hang, HttpError, Reply, ScriptedServer, ToolCall

WIRE_APIS = ["chat", "responses"]
TOOL = ToolSpec("apply_patch", "edit files", {"type": "object", "properties": {"input": {"type": "string"}}})


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    yield started
    for server in started:
        server.stop()


def config_for(server: ScriptedServer, home: Path, wire_api: str = "chat", retries: int = 0, idle_ms: int = 20000):
    return load_config(Overrides(cwd=home, config_overrides=(
        "model=scripted", "model_provider=scripted", 'model_providers.scripted.name="Scripted"',
        f'model_providers.scripted.base_url="{server.base_url}"', f'model_providers.scripted.wire_api="{wire_api}"',
        f"model_providers.scripted.request_max_retries={retries}",
        f"model_providers.scripted.stream_idle_timeout_ms={idle_ms}",
    )), env={"CODEX_HOME": str(home), "HOME": str(home)})


def serve(servers: list[ScriptedServer], steps: list, **kwargs) -> ScriptedServer:
    server = ScriptedServer(steps, **kwargs).start()
    servers.append(server)
    return server


def posts(server: ScriptedServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


def stream_all(server: ScriptedServer, tmp_path: Path, wire_api: str = "chat", **kwargs) -> list:
    client = make_client(config_for(server, tmp_path, wire_api, **kwargs))
    return list(client.stream(ModelRequest("test", (), (TOOL,))))


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_an_idle_timeout_is_retried_once_only(wire_api, servers, tmp_path: Path):
    server = serve(servers, [Hang()] * 5)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="stream_idle_timeout_ms") as failure:
        stream_all(server, tmp_path, wire_api, retries=4, idle_ms=1000)
    assert posts(server) == 2
    assert time.monotonic() - started < 6
    assert server.base_url in str(failure.value)


def test_server_errors_keep_their_retries_next_to_one_idle_timeout(servers, tmp_path: Path):
    steps = [Hang(), HttpError(500, retry_after_ms=1), HttpError(429, retry_after_ms=1),
             HttpError(503, retry_after_ms=1), Reply(text="finally")]
    server = serve(servers, steps)
    items = stream_all(server, tmp_path, retries=4, idle_ms=1000)
    assert items[-1] == ModelResponse("finally", usage=items[-1].usage)
    assert posts(server) == 5
    assert sum(isinstance(item, Retrying) for item in items) == 4


def test_a_second_idle_timeout_fails_even_with_retries_left(servers, tmp_path: Path):
    server = serve(servers, [Hang(), HttpError(500, retry_after_ms=1), Hang(), Reply(text="never")])
    with pytest.raises(ModelUnavailable, match="twice"):
        stream_all(server, tmp_path, retries=4, idle_ms=1000)
    assert posts(server) == 3


def test_a_server_that_says_do_not_retry_is_not_retried(servers, tmp_path: Path):
    server = serve(servers, [])  # an exhausted script answers 500 with x-should-retry: false
    with pytest.raises(ModelRequestFailed, match="script exhausted"):
        stream_all(server, tmp_path, retries=4)
    assert posts(server) == 1


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_a_cut_stream_is_retried_and_the_retry_is_announced(wire_api, servers, tmp_path: Path):
    cut = Cut(Reply(text="partial answer", chunk_chars=4096), after="partial")
    server = serve(servers, [cut, Reply(text="whole answer")])
    items = stream_all(server, tmp_path, wire_api, retries=1)
    [retry] = [item for item in items if isinstance(item, Retrying)]
    assert server.base_url in retry.message and "attempt 2 of 2" in retry.message
    after_retry = items[items.index(retry) + 1:]
    assert "".join(i.text for i in after_retry if isinstance(i, TextChunk)) == "whole answer"
    assert items[-1].text == "whole answer"


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_a_silent_server_gets_waiting_ticks_then_the_wait_ends(wire_api, servers, tmp_path: Path):
    server = serve(servers, [Reply(text="read the prompt", wait_ms=3200)])
    items = stream_all(server, tmp_path, wire_api)
    waits = [item for item in items if isinstance(item, Waiting)]
    assert [w.seconds for w in waits if w.seconds] and all(w.seconds >= 2 for w in waits if w.seconds)
    assert "waiting for the model (" in waits[0].message and "stream_idle_timeout_ms" in waits[0].message
    assert waits[-1].seconds == 0
    assert items.index(waits[-1]) < next(i for i, item in enumerate(items) if isinstance(item, TextChunk))
    assert items[-1].text == "read the prompt"


def test_interrupt_while_the_server_hangs_ends_the_turn_at_once(servers, tmp_path: Path):
    server = serve(servers, [Hang()])
    config = config_for(server, tmp_path, idle_ms=120_000)
    events: list[Event] = []
    session: Session | None = None

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, ModelWaiting) and event.seconds:
            threading.Thread(target=lambda: session.submit(Interrupt()), daemon=True).start()

    session = Session(config, make_client(config), emit)
    started = time.monotonic()
    session.submit(UserInput("hello"))
    assert time.monotonic() - started < 10
    assert isinstance(events[-1], TurnFailed) and events[-1].reason == "interrupted"


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_huge_streamed_arguments_arrive_whole_in_linear_time(wire_api, servers, tmp_path: Path):
    # 8 MB in 64-character deltas: 125,000 deltas. Accumulating by string concatenation copied the whole string
    # at each delta (18.6 s here on chat); joining the pieces once takes about 2 s. benchmarks/streams.py
    # measures the sizes and delta lengths in between.
    arguments = '{"input": "' + "x" * 8_000_000 + '"}'
    server = serve(servers, [Reply(tool_calls=(ToolCall("apply_patch", arguments, call_id="big"),), chunk_chars=64)])
    started = time.monotonic()
    items = stream_all(server, tmp_path, wire_api)
    elapsed = time.monotonic() - started
    [call] = items[-1].tool_calls
    assert call.arguments == arguments
    assert elapsed < 8, f"{elapsed:.1f} s for 8 MB of arguments"
