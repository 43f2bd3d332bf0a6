"""End to end: `codex exec --json` as Codex 0.163 emits it, and exec's argument forms that OpenAI's Codex SDK and
Codex users pass (resume after flags, --image, flags only OpenAI's service uses), with the real `codex` process
against the scripted model server.

The expected lines were taken from real Codex 0.163.0 run against the same scripted server: usage fields and
their order, a top-level `error` before `turn.failed`, config warnings as `error` items after `thread.started`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, RunCodex, codex_command, write_provider_config
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer, ToolCall

WIRE_APIS = ["chat", "responses"]
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M/AwB8ABQACAeKx1FsAAAAASUVO"
                       "RK5CYII=")  # a 1x1 PNG


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def posts(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_turn_completed_usage_has_codex_0163_fields_in_its_order(wire_api, git_repo: Path, codex_home: Path,
                                                                run_codex: RunCodex):
    with ScriptedServer([Reply(text="Hi.")]) as server:
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", "--json", "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    [done] = [e for e in events(run.stdout) if e["type"] == "turn.completed"]
    assert list(done["usage"]) == ["input_tokens", "cached_input_tokens", "cache_write_input_tokens",
                                   "output_tokens", "reasoning_output_tokens"]
    assert done["usage"]["cache_write_input_tokens"] == 0


def test_reply_in_one_burst_reports_no_generation_rate(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="All of this arrives in one write, so no rate can be measured.")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "hello"], git_repo)

    [done] = [e for e in events(run.stdout) if e["type"] == "turn.completed"]
    assert "tokens_per_second" not in done


def test_streamed_reply_reports_its_true_generation_rate(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    text = "one two three four five six seven eight nine ten eleven twelve"
    with ScriptedServer([Reply(text=text, delay_ms=20)], chunk_chars=4) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "count"], git_repo)

    [done] = [e for e in events(run.stdout) if e["type"] == "turn.completed"]
    chunks = -(-len(text) // 4)
    ceiling = done["usage"]["output_tokens"] / ((chunks - 1) * 0.020)  # the tokens over the delays they took
    assert 0 < done["tokens_per_second"] <= ceiling * 1.05


def test_model_error_is_a_top_level_error_then_turn_failed(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([HttpError(400, "the model is not loaded")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "hello"], git_repo)

    assert run.returncode == 1
    stream = events(run.stdout)
    assert [e["type"] for e in stream[-2:]] == ["error", "turn.failed"]
    assert stream[-2]["message"] == stream[-1]["error"]["message"]
    assert "the model is not loaded" in stream[-2]["message"]


def test_config_warnings_are_error_items_after_thread_started(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="Hi.")]) as server:
        write_provider_config(codex_home, server, extra="bogus_key = 3")
        run = run_codex(["exec", "--json", "hello"], git_repo)

    stream = events(run.stdout)
    assert stream[0]["type"] == "thread.started"
    warning = stream[1]
    assert warning["type"] == "item.completed" and warning["item"]["type"] == "error"
    assert "bogus_key" in warning["item"]["message"]
    assert stream[2]["type"] == "turn.started"
    assert "bogus_key" in run.stderr  # and still on stderr, for people reading the log


def test_declined_edit_is_a_failed_file_change_with_the_reason_as_extensions(git_repo: Path, codex_home: Path,
                                                                            run_codex: RunCodex):
    patch = "*** Begin Patch\n*** Add File: ../escaped.txt\n+nope\n*** End Patch\n"
    script = [Reply(tool_calls=(ToolCall("apply_patch", {"input": patch}),)), Reply(text="blocked")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-s", "workspace-write", "-a", "on-request", "--json", "escape"], git_repo)

    [change] = [e["item"] for e in events(run.stdout)
                if e["type"] == "item.completed" and e["item"]["type"] == "file_change"]
    assert change["status"] == "failed"  # the SDK's PatchApplyStatus is "completed" | "failed"
    assert change["declined"] is True and "approved" in change["error"]


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_image_is_sent_as_an_image_part(wire_api, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / "shot.png").write_bytes(PNG)
    with ScriptedServer([Reply(text="A white pixel.")]) as server:
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", "-i", "shot.png", "what is this?"], git_repo)
        [body] = posts(server)

    assert run.returncode == 0, run.stderr
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    last = (body.get("messages") or body["input"])[-1]
    if wire_api == "chat":
        assert last["content"] == [{"type": "text", "text": "what is this?"},
                                   {"type": "image_url", "image_url": {"url": url}}]
    else:
        assert last["content"] == [{"type": "input_text", "text": "what is this?"},
                                   {"type": "input_image", "image_url": url}]


def test_missing_image_is_one_sentence_and_exit_2(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="never")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--image", "nowhere.png", "look"], git_repo)
        assert posts(server) == []

    assert run.returncode == 2
    assert run.stderr.strip() == ("error: --image nowhere.png: cannot be read (No such file or directory); pass the "
                                  "path of an existing image.")


def test_embedded_engine_says_its_model_cannot_see_images(git_repo: Path, codex_home: Path):
    """Only the start of the run is read (the sentence comes before the turn); then the process is stopped."""
    (git_repo / "shot.png").write_bytes(PNG)
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
    proc = subprocess.Popen([*codex_command(), "exec", "--json", "-i", "shot.png", "look"], cwd=git_repo, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.kill()
        proc.wait()

    assert lines[1]["item"] == {"id": lines[1]["item"]["id"], "type": "error", "message": (
        "The embedded engine's model cannot see images, so --image shot.png was not sent to it; use an endpoint "
        "with a vision model for images.")}
    assert lines[2] == {"type": "turn.started"}


def test_flags_only_openais_service_uses_are_accepted_and_recorded(git_repo: Path, codex_home: Path,
                                                                  run_codex: RunCodex):
    with ScriptedServer([Reply(text="Hi.")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "--thread-source", "sdk-app", "--cyber-access-program", "standard",
                         "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    assert "--thread-source sdk-app recorded" in run.stderr
    assert "--cyber-access-program standard recorded" in run.stderr
    [rollout] = (codex_home / "sessions").rglob("*.jsonl")
    recorded = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()]
    assert {"type": "service_flag", "flag": "--thread-source", "value": "sdk-app"} in recorded
    assert "service_flag" not in run.stdout  # not part of Codex's stream
    with ScriptedServer([Reply(text="Again.")]) as server:
        write_provider_config(codex_home, server)
        resumed = run_codex(["exec", "--json", "resume", "--last", "again"], git_repo)
    assert resumed.returncode == 0 and "warning" not in resumed.stderr, resumed.stderr


def test_resume_after_flags_with_the_prompt_on_stdin_as_the_sdk_passes_it(git_repo: Path, codex_home: Path,
                                                                          run_codex: RunCodex):
    (git_repo / "shot.png").write_bytes(PNG)
    with ScriptedServer([Reply(text="First."), Reply(text="Second."), Reply(text="Third.")]) as server:
        write_provider_config(codex_home, server, "responses")
        first = run_codex(["exec", "--json", "start"], git_repo)
        thread_id = events(first.stdout)[0]["thread_id"]
        sdk_form = run_codex(["exec", "--experimental-json", "--config", 'approval_policy="never"', "--cd",
                              str(git_repo), "resume", thread_id, "--image", "shot.png"], git_repo, stdin="again")
        last = run_codex(["exec", "--json", "resume", "--last", "and once more"], git_repo)
        bodies = posts(server)

    assert sdk_form.returncode == 0, sdk_form.stderr
    assert last.returncode == 0, last.stderr
    assert events(sdk_form.stdout)[0]["thread_id"] == thread_id == events(last.stdout)[0]["thread_id"]
    assert "input_image" in json.dumps(bodies[1]["input"][-1])
    assert "again" in json.dumps(bodies[2]["input"]) and "and once more" in json.dumps(bodies[2]["input"])


def test_openai_base_url_and_codex_api_key_configure_the_openai_provider(git_repo: Path, codex_home: Path,
                                                                         run_codex: RunCodex):
    with ScriptedServer([Reply(text="Via the gateway.")]) as server:
        run = run_codex(["exec", "--json", "-c", f'openai_base_url="{server.base_url}"', "hello"], git_repo,
                        env={"CODEX_API_KEY": "sk-from-codex-api-key", "OPENAI_API_KEY": "sk-not-this-one"})
        [request] = [r for r in server.requests if r.method == "POST"]

    assert run.returncode == 0, run.stderr
    assert request.path.endswith("/responses")
    assert request.headers["authorization"] == "Bearer sk-from-codex-api-key"
    assert request.body["model"] == "scripted"  # the only model the gateway lists
    assert "openai_base_url" not in run.stderr
