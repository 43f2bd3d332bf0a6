"""End to end: the real `codex exec` process with the built-in `ollama` provider against a fake Ollama that follows
Ollama's documented native API over real HTTP (Ollama itself cannot be installed here), in real git repositories.

What is pinned: requests go to /api/chat as NDJSON streams with native tools; every request of a session carries
the same num_ctx (so Ollama never reloads the model) and num_predict; a prompt Ollama cut silently is reported;
a model without tools ends the run with one sentence naming the fix.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCodex
from tests.fakes.ollama_server import FakeOllama, OllamaModel
from tests.fakes.scripted_server import Reply, ToolCall

FULL_ACCESS = ["--sandbox", "danger-full-access"]
MODEL = "qwen2.5-coder:7b"


def write_ollama_config(codex_home: Path, fake: FakeOllama, extra: str = "", model: str = MODEL) -> None:
    (codex_home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "ollama"\n{extra}\n'
        "[model_providers.ollama]\n"
        f'base_url = "{fake.base_url}"\n'
        "request_max_retries = 0\n"
    )


def test_tool_call_and_answer_through_the_native_api(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    call = ToolCall("shell", {"command": ["bash", "-lc", "echo ma$((40+2))rker"]})
    script = [Reply(text="Running it.", tool_calls=(call,)), Reply(text="The command printed ma42rker.")]
    with FakeOllama(script) as fake:
        write_ollama_config(codex_home, fake)
        run = run_codex(["exec", "--json", *FULL_ACCESS, "run it"], git_repo)
        chats, loads = fake.chats(), fake.loads

    assert run.returncode == 0, run.stderr
    last = [e for e in run.events() if e["type"] == "item.completed"][-1]["item"]
    assert last["text"] == "The command printed ma42rker."
    assert len(chats) == 2 and all(body["stream"] is True for body in chats)
    assert chats[0]["tools"] and "ma42rker" in str(chats[1]["messages"][-1])
    assert chats[1]["messages"][-1]["role"] == "tool" and chats[1]["messages"][-1]["tool_name"] == "shell"
    options = [body["options"] for body in chats]
    assert options[0] == options[1] and options[0]["num_ctx"] == 8192 and options[0]["num_predict"] > 0
    assert loads == [(MODEL, 8192)]  # one load for the whole session


def test_configured_window_is_the_num_ctx_of_every_request(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-lc", "true"]}),)), Reply(text="Done.")]
    with FakeOllama(script) as fake:
        write_ollama_config(codex_home, fake, "model_context_window = 16384")
        run = run_codex(["exec", *FULL_ACCESS, "go"], git_repo)
        chats = fake.chats()

    assert run.returncode == 0, run.stderr
    assert [body["options"]["num_ctx"] for body in chats] == [16384, 16384]


def test_a_prompt_ollama_cut_silently_is_reported(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / "AGENTS.md").write_text("Project rules.\n" + "Keep this in mind. " * 2000)
    with FakeOllama([Reply(text="Done.")], [OllamaModel(MODEL, context_length=2048)]) as fake:
        write_ollama_config(codex_home, fake, "model_context_window = 65536")
        run = run_codex(["exec", "--json", "hello"], git_repo)
        served = fake.served

    assert run.returncode == 0, run.stderr
    assert served[0].cut
    warnings = [e["item"]["message"] for e in run.events()
                if e["type"] == "item.completed" and e["item"]["type"] == "error"]  # how exec --json shows warnings
    assert any("read only" in w and "trained for 2048 tokens" in w for w in warnings), run.stdout


def test_a_model_without_tools_ends_with_one_sentence(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with FakeOllama([Reply(text="never")], [OllamaModel("gemma:2b", tools=False)]) as fake:
        write_ollama_config(codex_home, fake, 'tool_call_format = "native"', model="gemma:2b")
        run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "does not support tools" in run.stderr and "ollama show gemma:2b" in run.stderr
