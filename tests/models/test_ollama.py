"""The built-in `ollama` provider speaks Ollama's native /api/chat, against a fake that follows Ollama's documented
API over real HTTP: NDJSON streaming, native tools, one constant num_ctx per session, the output cap as
num_predict, silent truncation warned once, and one sentence for a model without tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config
from agent.models import make_client
from agent.models.base import Message, ModelRequest, ModelRequestFailed, ModelResponse, TextChunk, ToolCall, ToolSpec
from agent.models.ollama import OllamaClient
from tests.fakes.ollama_server import FakeOllama, OllamaModel
from tests.fakes.scripted_server import Reply, StreamError
from tests.fakes.scripted_server import ToolCall as ScriptedCall

TOOL = ToolSpec("shell", "run a command", {"type": "object", "properties": {"command": {"type": "string"}}})
MODEL = "qwen2.5-coder:7b"


def ollama_config(fake: FakeOllama, home: Path, *extra: str, model: str = MODEL) -> Config:
    return load_config(Overrides(cwd=home, config_overrides=(
        f'model="{model}"', "model_provider=ollama", f'model_providers.ollama.base_url="{fake.base_url}"',
        "model_providers.ollama.request_max_retries=0", *extra,
    )), env={"CODEX_HOME": str(home), "HOME": str(home)})


def reply(client: OllamaClient, request: ModelRequest) -> tuple[list, ModelResponse]:
    items = list(client.stream(request))
    assert isinstance(items[-1], ModelResponse)
    return items[:-1], items[-1]


def ask(text: str = "hi") -> ModelRequest:
    return ModelRequest("You are a coding agent.", (Message("user", text),), (TOOL,))


def test_builtin_ollama_uses_the_native_api(tmp_path: Path):
    with FakeOllama([Reply(text="hello")]) as fake:
        client = make_client(ollama_config(fake, tmp_path))
        items = list(client.stream(ask()))
    assert [r.path for r in fake.requests if r.method == "POST"] == ["/api/show", "/api/chat"]
    assert items[-1].text == "hello"


def test_wire_api_set_in_config_keeps_the_openai_compatible_api(tmp_path: Path):
    with FakeOllama([]) as fake:
        client = make_client(ollama_config(fake, tmp_path, 'model_providers.ollama.wire_api="chat"'))
    assert client.wire_api == "chat"


def test_num_ctx_is_constant_and_num_predict_is_the_cap(tmp_path: Path):
    with FakeOllama([Reply(text="one"), Reply(text="two"), Reply(text="three")]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path), MODEL)
        for text in ("a", "b " * 500, "c"):
            reply(client, ask(text))
        options = [body["options"] for body in fake.chats()]
        loads = fake.loads

    assert options == [{"num_ctx": 8192, "num_predict": 2048}] * 3  # trained 32768, capped at 8192
    assert loads == [(MODEL, 8192)]  # the model was loaded once, never reloaded
    assert client.context_window == 8192


@pytest.mark.parametrize(("extra", "model", "expected"), [
    (("model_context_window=4096",), OllamaModel(MODEL), 4096),
    ((), OllamaModel(MODEL, num_ctx=12288), 12288),
    ((), OllamaModel(MODEL, context_length=2048), 2048),
])
def test_num_ctx_comes_from_config_else_the_modelfile_else_the_trained_length(extra, model, expected, tmp_path: Path):
    with FakeOllama([Reply(text="ok")], [model]) as fake:
        reply(OllamaClient(ollama_config(fake, tmp_path, *extra), MODEL), ask())
        [body] = fake.chats()
    assert body["options"]["num_ctx"] == expected


def test_tool_calls_stream_natively_and_results_go_back_by_name(tmp_path: Path):
    steps = [Reply(text="Let me look.", tool_calls=(ScriptedCall("shell", {"command": "ls"}),)), Reply(text="Done.")]
    with FakeOllama(steps) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path), MODEL)
        chunks, first = reply(client, ask("list files"))
        [call] = first.tool_calls
        history = (Message("user", "list files"), Message("assistant", first.text, first.tool_calls),
                   Message("tool", "README.md", tool_call_id=call.call_id))
        _, second = reply(client, ModelRequest("You are a coding agent.", history, (TOOL,)))
        sent = fake.chats()[1]

    assert "".join(c.text for c in chunks if isinstance(c, TextChunk)) == "Let me look."  # streamed in pieces
    assert len([c for c in chunks if isinstance(c, TextChunk)]) > 1
    assert (call.name, call.arguments) == ("shell", '{"command": "ls"}')
    assert sent["tools"][0]["function"]["name"] == "shell"
    assert sent["messages"][2]["tool_calls"] == [{"function": {"name": "shell", "arguments": {"command": "ls"}}}]
    assert sent["messages"][3] == {"role": "tool", "content": "README.md", "tool_name": "shell"}
    assert second.text == "Done." and second.usage.input_tokens > 0 and second.usage.output_tokens > 0


def test_a_reply_stopped_at_num_predict_is_marked_truncated(tmp_path: Path):
    with FakeOllama([Reply(text="x" * 400)]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path, "model_max_output_tokens=10"), MODEL)
        _, response = reply(client, ask())
    assert response.truncated and len(response.text) == 40


def test_a_prompt_ollama_cut_silently_is_warned_once(tmp_path: Path):
    small = OllamaModel(MODEL, context_length=2048)  # Ollama caps num_ctx at the trained length
    with FakeOllama([Reply(text="one"), Reply(text="two")], [small]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path, "model_context_window=32768"), MODEL)
        _, first = reply(client, ask("a long file: " + "x" * 40_000))
        _, second = reply(client, ask("another long file: " + "y" * 40_000))
        cut = [s.cut for s in fake.served]

    assert cut == [True, True]
    [warning] = first.warnings
    assert "read only" in warning and "trained for 2048 tokens" in warning and "model_context_window" in warning
    assert second.warnings == ()


def test_a_model_without_tools_gets_one_sentence_naming_the_fix(tmp_path: Path):
    with FakeOllama([Reply(text="never")], [OllamaModel("gemma:2b", tools=False)]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path, model="gemma:2b"), "gemma:2b")
        with pytest.raises(ModelRequestFailed) as failure:
            reply(client, ask())
    message = str(failure.value)
    assert "does not support tools" in message and "ollama show gemma:2b" in message
    assert 'tool_call_format = "text"' in message


def test_an_unknown_model_lists_the_pulled_ones(tmp_path: Path):
    with FakeOllama([Reply(text="never")]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path, model="llama3"), "llama3")
        with pytest.raises(ModelRequestFailed) as failure:
            reply(client, ask())
    assert "does not serve model 'llama3'" in str(failure.value) and MODEL in str(failure.value)
    assert "ollama pull llama3" in str(failure.value)


def test_an_error_line_in_the_stream_fails_the_request(tmp_path: Path):
    with FakeOllama([StreamError("out of memory")]) as fake:
        client = OllamaClient(ollama_config(fake, tmp_path), MODEL)
        with pytest.raises(ModelRequestFailed, match="out of memory"):
            reply(client, ask())


def test_assistant_calls_with_invalid_arguments_still_go_out_as_objects(tmp_path: Path):
    history = (Message("user", "go"), Message("assistant", "", (ToolCall("c1", "shell", "{not json"),)),
               Message("tool", "error: arguments are not JSON", tool_call_id="c1"))
    with FakeOllama([Reply(text="ok")]) as fake:
        reply(OllamaClient(ollama_config(fake, tmp_path), MODEL), ModelRequest("sys", history, (TOOL,)))
        [body] = fake.chats()
    assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == {}
