"""tool_call_format: the prompt-based tool protocol (agent/models/text_tools.py) against the scripted server over
real HTTP — what goes on the wire, how calls come back, when `auto` switches — and the choice of the format from
config.toml and the quirks table. The real servers' side (a server that drops tools) is in tests/real_servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import ConfigError, Overrides, load_config
from agent.models import make_client, tool_support
from agent.models.base import Message, ModelRequest, ModelResponse, Retrying, TextChunk, ToolCall, ToolSpec
from agent.models.chat import ChatClient
from agent.models.quirks import endpoint_quirks
from agent.models.text_tools import CallHider, ToolFormatClient, configured_format, history_as_text
from tests.fakes.ollama_server import FakeOllama, OllamaModel
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer

TOOL = ToolSpec("shell", "Runs a command.", {"type": "object", "properties": {"command": {"type": "array"}}})
CALL_TEXT = '<tool_call>{"name": "shell", "arguments": {"command": ["ls"]}}</tool_call>'


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    yield started
    for server in started:
        server.stop()


def serve(servers: list[ScriptedServer], steps: list) -> ScriptedServer:
    server = ScriptedServer(steps).start()
    servers.append(server)
    return server


def config_for(server: ScriptedServer, home: Path, *extra: str):
    return load_config(Overrides(cwd=home, config_overrides=(
        "model=scripted", "model_provider=scripted", 'model_providers.scripted.name="Scripted"',
        f'model_providers.scripted.base_url="{server.base_url}"', "model_providers.scripted.request_max_retries=0",
        *extra,
    )), env={"CODEX_HOME": str(home), "HOME": str(home)})


def model_posts(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


def run(client, request: ModelRequest) -> list:
    return list(client.stream(request))


def test_text_format_sends_no_tools_and_parses_the_call_from_the_reply(servers, tmp_path: Path):
    server = serve(servers, [Reply(text=f"Listing the files.\n{CALL_TEXT}")])
    client = make_client(config_for(server, tmp_path, 'tool_call_format="text"'))
    items = run(client, ModelRequest("Be brief.", (Message("user", "list files"),), (TOOL,)))
    [body] = model_posts(server)
    assert "tools" not in body and "tool_choice" not in body
    system = body["messages"][0]["content"]
    assert system.startswith("Be brief.") and "<tool_call>" in system and "- shell: Runs a command." in system
    reply = items[-1]
    assert isinstance(reply, ModelResponse)
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [("shell", {"command": ["ls"]})]
    assert reply.text == "Listing the files."
    shown = "".join(i.text for i in items if isinstance(i, TextChunk))
    assert "<tool_call" not in shown and shown.strip() == "Listing the files."


def test_a_text_answer_without_a_call_is_passed_through_whole(servers, tmp_path: Path):
    server = serve(servers, [Reply(text="No tool needed: 4. <tool")])
    client = make_client(config_for(server, tmp_path, 'model_providers.scripted.tool_call_format="text"'))
    items = run(client, ModelRequest("x", (Message("user", "2+2?"),), (TOOL,)))
    assert items[-1].tool_calls == () and items[-1].text == "No tool needed: 4. <tool"
    assert "".join(i.text for i in items if isinstance(i, TextChunk)) == "No tool needed: 4. <tool"


def test_earlier_calls_and_results_reach_the_model_as_text_with_alternating_roles(servers, tmp_path: Path):
    server = serve(servers, [Reply(text="done")])
    client = make_client(config_for(server, tmp_path, 'tool_call_format="text"'))
    history = (Message("user", "list files"),
               Message("assistant", "", (ToolCall("call_1", "shell", '{"command": ["ls"]}'),)),
               Message("tool", "README.md", tool_call_id="call_1"))
    run(client, ModelRequest("x", history, (TOOL,)))
    [body] = model_posts(server)
    messages = body["messages"][1:]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == CALL_TEXT and "tool_calls" not in messages[1]
    assert messages[2]["content"] == "<tool_response>\nREADME.md\n</tool_response>"


def test_auto_resends_as_text_when_the_server_rejects_tools_and_remembers_it(servers, tmp_path: Path):
    rejection = HttpError(400, "registry.ollama.ai/library/qwen:0.5b does not support tools")
    server = serve(servers, [rejection, Reply(text=CALL_TEXT), Reply(text="second")])
    status: list[str] = []
    client = make_client(config_for(server, tmp_path), on_status=status.append)
    request = ModelRequest("x", (Message("user", "list files"),), (TOOL,))
    items = run(client, request)
    first, resent = model_posts(server)
    assert first["tools"] and "tools" not in resent
    assert any(isinstance(i, Retrying) for i in items)
    assert items[-1].tool_calls[0].name == "shell"
    assert len(status) == 1 and "text tool protocol" in status[0] and "does not support tools" in status[0]
    run(client, request)  # the verdict holds: no rejected request first
    assert len(model_posts(server)) == 3 and "tools" not in model_posts(server)[2]


def test_auto_keeps_native_tools_on_servers_not_known_to_drop_them(servers, tmp_path: Path):
    server = serve(servers, [Reply(text="plain answer")])
    status: list[str] = []
    client = make_client(config_for(server, tmp_path), on_status=status.append)
    run(client, ModelRequest("x", (Message("user", "hi"),), (TOOL,)))
    [body] = model_posts(server)  # no probe requests: one request, with its tools
    assert body["tools"][0]["function"]["name"] == "shell"
    assert status == []


def test_native_is_the_endpoint_client_itself(servers, tmp_path: Path):
    server = serve(servers, [])
    assert isinstance(make_client(config_for(server, tmp_path, 'tool_call_format="native"')), ChatClient)
    assert isinstance(make_client(config_for(server, tmp_path)), ToolFormatClient)


def test_the_provider_key_wins_over_the_top_level_one_which_wins_over_the_quirks_table(servers, tmp_path: Path):
    server = serve(servers, [])
    both = config_for(server, tmp_path, 'tool_call_format="text"', 'model_providers.scripted.tool_call_format="native"')
    assert configured_format(both, "scripted") == "native"
    top = config_for(server, tmp_path, 'tool_call_format="native"')
    assert configured_format(top, "gemma3:4b") == "native"
    assert configured_format(config_for(server, tmp_path), "gemma3:4b") == "text"  # the table: no tools template
    assert configured_format(config_for(server, tmp_path), "qwen2.5-coder:7b") == "auto"


def test_the_quirks_table_names_model_families_without_tool_templates():
    assert endpoint_quirks("library/gemma2:9b").tool_call_format == "text"
    assert endpoint_quirks("deepseek-coder-v2:16b").tool_call_format == "auto"
    assert "llama_cpp.server" in endpoint_quirks("anything").probe_servers


@pytest.mark.parametrize("key", ["tool_call_format", "model_providers.scripted.tool_call_format"])
def test_an_unknown_tool_call_format_names_the_key_and_the_choices(key, servers, tmp_path: Path):
    server = serve(servers, [])
    with pytest.raises(ConfigError, match=r"tool_call_format.*native, text, auto"):
        config_for(server, tmp_path, f'{key}="json"')


def test_the_call_hider_holds_back_a_tag_split_across_chunks():
    hider = CallHider()
    shown = [hider.feed(part) for part in ("Let me look. <to", "ol_c", 'all>{"name": "shell"', "}</tool_call>")]
    assert "".join(shown) == "Let me look. "
    assert hider.flush() == ""
    plain = CallHider()
    assert plain.feed("a <b") == "a <b" and plain.feed(" <t") == " " and plain.flush() == "<t"


def test_consecutive_results_merge_into_one_user_message():
    history = (Message("assistant", "", (ToolCall("a", "shell", "{}"), ToolCall("b", "shell", "not json"))),
               Message("tool", "one", tool_call_id="a"), Message("tool", "two", tool_call_id="b"),
               Message("user", "and now?"))
    converted = history_as_text(history)
    assert [m.role for m in converted] == ["assistant", "user"]
    assert '"arguments": "not json"' in converted[0].content
    assert converted[1].content.count("<tool_response>") == 2 and converted[1].content.endswith("and now?")


@pytest.mark.parametrize(("message", "rejects"), [
    ("registry.ollama.ai/library/gemma3:4b does not support tools", True),
    ("tools param requires --jinja flag", True),
    ("Unrecognized request argument supplied: tools", True),
    ("Automatic streaming tool choice is not supported", False),
    ("the request exceeds the available context size", False),
])
def test_which_errors_say_the_server_takes_no_tools(message, rejects):
    assert tool_support.rejects_tools(RuntimeError(f"Server at http://x answered 400: {message}")) is rejects


def test_a_model_listing_names_the_server_family():
    def listing(owner: str) -> dict:
        return {"object": "list", "data": [{"id": "m", "owned_by": owner}]}

    assert tool_support.listing_kind(listing("me")) == "llama_cpp.server"
    assert tool_support.listing_kind(listing("llamacpp")) == "llama.cpp"
    assert tool_support.listing_kind(listing("test")) == ""


def test_auto_sends_tools_as_text_to_an_ollama_model_whose_template_has_none(tmp_path: Path):
    with FakeOllama([Reply(text=CALL_TEXT)], [OllamaModel("smollm2:135m", tools=False)]) as fake:
        config = load_config(Overrides(cwd=tmp_path, config_overrides=(
            'model="smollm2:135m"', "model_provider=ollama", f'model_providers.ollama.base_url="{fake.base_url}"',
            "model_providers.ollama.request_max_retries=0",
        )), env={"CODEX_HOME": str(tmp_path), "HOME": str(tmp_path)})
        status: list[str] = []
        items = run(make_client(config, on_status=status.append),
                    ModelRequest("x", (Message("user", "list files"),), (TOOL,)))
    assert [(c.name, json.loads(c.arguments)) for c in items[-1].tool_calls] == [("shell", {"command": ["ls"]})]
    assert len(status) == 1 and "does not support tools" in status[0]
