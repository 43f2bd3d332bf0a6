"""OpenAI's real Codex TypeScript SDK (@openai/codex-sdk, pinned in conftest.py) drives our `codex` through
`codexPathOverride`, against the scripted model server: what an app built on the SDK does, unchanged."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import write_provider_config
from tests.fakes.scripted_server import Hang, Reply, ScriptedServer, ToolCall

WIRE_APIS = ["chat", "responses"]


def model_requests(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


def sent_text(body: dict) -> str:
    return json.dumps(body.get("messages") or body.get("input"), ensure_ascii=False)


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_run_returns_the_answer_items_usage_and_thread_id(wire_api, git_repo: Path, codex_home: Path, run_sdk):
    with ScriptedServer([Reply(text="Hello from the scripted model.")]) as server:
        write_provider_config(codex_home, server, wire_api)
        [_, run] = run_sdk([{"op": "start", "thread": {"workingDirectory": str(git_repo)}},
                                {"op": "run", "input": "say hello"}])

    assert run["ok"], run
    assert run["finalResponse"] == "Hello from the scripted model."
    assert [item["type"] for item in run["items"]] == ["agent_message"]
    assert set(run["usage"]) >= {"input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens",
                                 "reasoning_output_tokens"}
    assert run["threadId"]


# A 1x1 PNG: what `local_image` inputs are sent as, base64 in a data: URL.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b1d4"
                    "5b0000000049454e44ae426082")


def thread_in(repo: Path, **options) -> dict:
    return {"op": "start", "thread": {"workingDirectory": str(repo), **options}}


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_second_run_on_a_thread_carries_the_history_and_its_image(wire_api, git_repo: Path, codex_home: Path,
                                                                   run_sdk):
    image = git_repo / "screen.png"
    image.write_bytes(PNG)
    script = [Reply(text="The first answer."), Reply(text="The second answer.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api)
        [_, first, second] = run_sdk([
            thread_in(git_repo), {"op": "run", "input": "first question"},
            {"op": "run", "input": [{"type": "text", "text": "second question"},
                                    {"type": "local_image", "path": str(image)}]},
        ])
        requests = model_requests(server)

    assert first["ok"] and second["ok"], (first, second)
    assert second["finalResponse"] == "The second answer."
    assert second["threadId"] == first["threadId"]
    later = sent_text(requests[1])
    assert "first question" in later and "The first answer." in later and "second question" in later
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    image_part = ({"type": "image_url", "image_url": {"url": url}} if wire_api == "chat"
                  else {"type": "input_image", "image_url": url})
    prompt = (requests[1].get("messages") or requests[1]["input"])[-1]
    assert prompt["content"][1:] == [image_part]


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_resume_thread_by_id_streams_the_next_turn(wire_api, git_repo: Path, codex_home: Path, run_sdk):
    script = [Reply(text="Noted: the code word is heron."), Reply(text="The code word was heron.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api)
        [_, first] = run_sdk([thread_in(git_repo), {"op": "run", "input": "remember: heron"}])
        [_, streamed] = run_sdk([
            {"op": "resume", "id": first["threadId"], "thread": {"workingDirectory": str(git_repo)}},
            {"op": "runStreamed", "input": "what was the code word?"},
        ])
        requests = model_requests(server)

    assert streamed["ok"], streamed
    types = [event["type"] for event in streamed["events"]]
    assert types[0] == "thread.started" and types[-1] == "turn.completed" and "turn.started" in types
    assert streamed["events"][0]["thread_id"] == first["threadId"]
    completed = [e["item"] for e in streamed["events"] if e["type"] == "item.completed"]
    assert completed[-1] == {"id": completed[-1]["id"], "type": "agent_message", "text": "The code word was heron."}
    assert "remember: heron" in sent_text(requests[1]) and "Noted: the code word is heron." in sent_text(requests[1])


SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
          "additionalProperties": False}


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_output_schema_reaches_the_server_and_shapes_the_final_response(wire_api, git_repo: Path,
                                                                       codex_home: Path, run_sdk):
    with ScriptedServer([Reply(text="It is forty-two."), Reply(text='{"answer": 42}')]) as server:
        write_provider_config(codex_home, server, wire_api)
        [_, run] = run_sdk([thread_in(git_repo), {"op": "run", "input": "the answer?",
                                                  "turn": {"outputSchema": SCHEMA}}])
        [_, request] = model_requests(server)  # prose first, so the answer is asked for again under the schema

    assert run["ok"], run
    assert json.loads(run["finalResponse"]) == {"answer": 42}
    sent = request["response_format"]["json_schema"] if wire_api == "chat" else request["text"]["format"]
    assert sent["schema"] == SCHEMA


def test_base_url_and_api_key_on_an_empty_config_reach_the_gateway(git_repo: Path, codex_home: Path, run_sdk):
    assert not (codex_home / "config.toml").exists()
    with ScriptedServer([Reply(text="Hello through the gateway.")]) as server:
        [_, run] = run_sdk([thread_in(git_repo), {"op": "run", "input": "hi"}],
                           codex_options={"baseUrl": server.base_url, "apiKey": "sk-local-gateway"})
        [request] = [r for r in server.requests if r.method == "POST"]

    assert run["ok"], run
    assert run["finalResponse"] == "Hello through the gateway."
    assert request.path.endswith("/responses")  # the built-in openai provider speaks the Responses API
    assert request.headers["authorization"] == "Bearer sk-local-gateway"
    assert not [item for item in run["items"] if item["type"] == "error"]  # no "unknown key" warning


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_model_reasoning_effort_reaches_the_server(wire_api, git_repo: Path, codex_home: Path, run_sdk):
    with ScriptedServer([Reply(text="Thought hard.")]) as server:
        write_provider_config(codex_home, server, wire_api)
        [_, run] = run_sdk([thread_in(git_repo, modelReasoningEffort="high"), {"op": "run", "input": "think"}])
        [request] = model_requests(server)

    assert run["ok"], run
    assert run["finalResponse"] == "Thought hard."
    assert not [item for item in run["items"] if item["type"] == "error"]
    sent = request["reasoning_effort"] if wire_api == "chat" else request["reasoning"]["effort"]
    assert sent == "high"


def command_items(items: list[dict]) -> list[dict]:
    return [item for item in items if item["type"] == "command_execution"]


def shell_call(script: str) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-lc", script]})


WORKSPACE_WRITE = {"sandboxMode": "workspace-write", "approvalPolicy": "never"}


@pytest.mark.parametrize("enabled", [True, False])
def test_network_access_enabled_decides_whether_a_sandboxed_command_can_connect(enabled, git_repo: Path,
                                                                                codex_home: Path, run_sdk):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connect = (f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); "
               "print('connected')\"")
    with listener, ScriptedServer([Reply(tool_calls=(shell_call(connect),)), Reply(text="Tried.")]) as server:
        write_provider_config(codex_home, server, "chat")
        [_, run] = run_sdk([thread_in(git_repo, **WORKSPACE_WRITE, networkAccessEnabled=enabled),
                            {"op": "run", "input": "connect"}])

    assert run["ok"], run
    [command] = command_items(run["items"])
    assert ("connected" in command["aggregated_output"]) is enabled, command
    assert command["status"] == ("completed" if enabled else "failed")


@pytest.mark.parametrize("added", [True, False])
def test_additional_directories_are_writable_in_the_sandbox(added, git_repo: Path, codex_home: Path, tmp_path: Path,
                                                            run_sdk):
    extra = tmp_path / "extra"
    extra.mkdir()
    options = {**WORKSPACE_WRITE, "additionalDirectories": [str(extra)] if added else []}
    # the session's temp dirs are writable anyway: keep them out, so only --add-dir can open `extra`
    (codex_home / "config.toml").write_text("")
    script = [Reply(tool_calls=(shell_call(f"echo written > {extra}/out.txt"),)), Reply(text="Wrote it.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, "chat", extra=(
            "[sandbox_workspace_write]\nexclude_slash_tmp = true\nexclude_tmpdir_env_var = true\n"))
        [_, run] = run_sdk([thread_in(git_repo, **options), {"op": "run", "input": "write"}])

    assert run["ok"], run
    assert (extra / "out.txt").exists() is added, command_items(run["items"])


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose argv contains `text` (reads /proc; kills nothing)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(text.encode() in arg for arg in argv):
            found.append(" ".join(a.decode(errors="replace") for a in argv))
    return found


def test_abort_signal_ends_the_turn_and_the_codex_process(git_repo: Path, codex_home: Path, run_sdk):
    with ScriptedServer([Hang()]) as server:
        write_provider_config(codex_home, server, "chat")
        [_, aborted] = run_sdk([thread_in(git_repo), {"op": "abort", "input": "take forever", "after": "turn.started"}],
                               timeout=60)
        deadline = time.monotonic() + 10
        while processes_mentioning(str(git_repo)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = processes_mentioning(str(git_repo))

    assert not aborted["ok"] and aborted["name"] == "AbortError", aborted
    assert [e["type"] for e in aborted["events"]] == ["thread.started", "turn.started"]
    assert aborted["ms"] < 20000
    assert left == []
