"""Codex's documented config keys, each checked by its effect on a real `codex exec` run against the scripted
model server: what the server receives, what runs, what the --json stream shows. Both profile layouts too: the
`[profiles.X]` tables of older Codex and Codex 0.163's `$CODEX_HOME/X.config.toml` files."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import RecordedRequest, Reply, ScriptedServer, ToolCall

CODEX_NOTIFY = Path(__file__).parent / "fixtures" / "codex_0_163" / "notify_argv.json"


def exec_once(run_codex: RunCodex, repo: Path, codex_home: Path, config: str, replies: list[Reply] | None = None,
              wire_api: str = "chat", args: tuple[str, ...] = ()) -> tuple[list[RecordedRequest], list[dict], str]:
    """One `codex exec --json` run with `config` added to the provider's config.toml; (requests, events, stderr)."""
    with ScriptedServer(replies or [Reply(text="done")]) as server:
        write_provider_config(codex_home, server, wire_api=wire_api, extra=config)
        run = run_codex(["exec", "--json", "-s", "workspace-write", *args, "go"], repo)
        assert run.returncode == 0, run.stderr
        return server.requests, run.events(), run.stderr


def system_text(request: RecordedRequest) -> str:
    if "messages" in request.body:
        return "\n".join(m["content"] for m in request.body["messages"] if m["role"] == "system")
    return request.body["instructions"]


def all_text(request: RecordedRequest) -> str:
    return json.dumps(request.body)


# --- notify ---------------------------------------------------------------------------------------------------


def test_notify_runs_the_program_with_codex_agent_turn_complete_json(git_repo, codex_home, run_codex, tmp_path):
    out = tmp_path / "notified.json"
    script = tmp_path / "notify.py"
    script.write_text(f"import json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    config = f"notify = [{json.dumps(sys.executable)}, {json.dumps(str(script))}, \"extra\"]\n"
    _, events, _ = exec_once(run_codex, git_repo, codex_home, config, [Reply(text="all done")])
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:  # notify is not waited for
        time.sleep(0.05)
    extra, payload = json.loads(out.read_text())
    notification = json.loads(payload)
    codex = json.loads(json.loads(CODEX_NOTIFY.read_text())["argv_tail"][1])  # what real Codex 0.163 sent
    assert extra == "extra"
    assert list(notification) == list(codex)  # the same keys in the same order
    thread_id = next(e["thread_id"] for e in events if e["type"] == "thread.started")
    assert notification | {"turn-id": None} == {
        "type": "agent-turn-complete", "thread-id": thread_id, "turn-id": None, "cwd": str(git_repo),
        "client": "codex_exec", "input-messages": ["go"], "last-assistant-message": "all done"}


def test_a_notify_program_that_cannot_start_is_a_warning_and_the_run_succeeds(git_repo, codex_home, run_codex):
    _, events, stderr = exec_once(run_codex, git_repo, codex_home, 'notify = ["/no/such/notifier"]\n')
    assert "notify program '/no/such/notifier' could not be started" in json.dumps(events) + stderr


# --- instructions ---------------------------------------------------------------------------------------------


def test_developer_instructions_reach_the_model_after_the_base_instructions(git_repo, codex_home, run_codex):
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, 'developer_instructions = "Answer in haiku."\n')
    text = system_text(request)
    assert "<developer_instructions>\nAnswer in haiku.\n</developer_instructions>" in text
    assert text.index("Answer in haiku.") > 100  # after the base instructions


def test_project_doc_fallback_filenames_read_claude_md_where_there_is_no_agents_md(git_repo, codex_home, run_codex):
    (git_repo / "CLAUDE.md").write_text("Use tabs, never spaces.\n")
    (git_repo / "sub").mkdir()
    (git_repo / "sub" / "AGENTS.md").write_text("Sub rules.\n")
    (git_repo / "sub" / "CLAUDE.md").write_text("Ignored: AGENTS.md wins here.\n")
    config = 'project_doc_fallback_filenames = ["NOTES.md", "CLAUDE.md"]\n'
    with ScriptedServer([Reply(text="done")]) as server:
        write_provider_config(codex_home, server, extra=config)
        run = run_codex(["exec", "--json", "-C", "sub", "go"], git_repo)
        assert run.returncode == 0, run.stderr
        [request] = server.requests
    sent = all_text(request)
    assert "Use tabs, never spaces." in sent and "Sub rules." in sent and "Ignored" not in sent


def test_without_fallback_filenames_claude_md_is_not_read(git_repo, codex_home, run_codex):
    (git_repo / "CLAUDE.md").write_text("Use tabs, never spaces.\n")
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, "")
    assert "Use tabs" not in all_text(request)


# --- reasoning and verbosity on the wire ------------------------------------------------------------------------


REASONING = 'model_reasoning_effort = "high"\nmodel_reasoning_summary = "concise"\nmodel_verbosity = "low"\n'


def test_reasoning_and_verbosity_are_sent_on_the_responses_wire(git_repo, codex_home, run_codex):
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, REASONING, wire_api="responses")
    assert request.body["reasoning"] == {"effort": "high", "summary": "concise"}
    assert request.body["text"] == {"verbosity": "low"}


def test_reasoning_effort_and_verbosity_are_sent_on_the_chat_wire(git_repo, codex_home, run_codex):
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, REASONING)
    assert (request.body["reasoning_effort"], request.body["verbosity"]) == ("high", "low")
    assert "reasoning" not in request.body  # the summary has no chat field


def test_unset_reasoning_keys_send_nothing(git_repo, codex_home, run_codex):
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, "", wire_api="responses")
    assert not {"reasoning", "text"} & set(request.body)


def test_an_unknown_reasoning_effort_is_refused_naming_the_key(git_repo, codex_home, run_codex):
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server, extra='model_reasoning_effort = "extreme"\n')
        run = run_codex(["exec", "go"], git_repo)
    assert run.returncode != 0
    assert "model_reasoning_effort = 'extreme' is not allowed; use one of: none, minimal, low" in run.stderr


# --- profiles in both layouts ----------------------------------------------------------------------------------


def test_a_profiles_table_selected_by_dash_p(git_repo, codex_home, run_codex):
    config = '[profiles.deep]\nmodel_reasoning_effort = "high"\n'
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, config, wire_api="responses", args=("-p", "deep"))
    assert request.body["reasoning"] == {"effort": "high"}


def test_a_codex_0_163_profile_file_selected_by_dash_dash_profile(git_repo, codex_home, run_codex):
    (codex_home / "deep.config.toml").write_text('model_reasoning_effort = "low"\nmodel_verbosity = "high"\n')
    [request], _, _ = exec_once(run_codex, git_repo, codex_home, "", wire_api="responses",
                                args=("--profile", "deep"))
    assert (request.body["reasoning"], request.body["text"]) == ({"effort": "low"}, {"verbosity": "high"})
    assert request.body["model"] == "scripted"  # config.toml's keys stay under the profile file


def test_a_mistake_in_a_profile_file_names_that_file_and_line(git_repo, codex_home, run_codex):
    profile = codex_home / "deep.config.toml"
    profile.write_text('model = "m"\nmodel_verbosity = "loud"\n')
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--profile", "deep", "go"], git_repo)
    assert run.returncode != 0
    assert f"{profile} line 2: model_verbosity = 'loud' is not allowed" in run.stderr


# --- tool output, history, reasoning display --------------------------------------------------------------------


def test_tool_output_token_limit_cuts_what_the_model_gets_back(git_repo, codex_home, run_codex):
    command = ToolCall("shell", {"command": ["python3", "-c", "print('\\n'.join(str(n) for n in range(3000)))"]})
    replies = [Reply(tool_calls=(command,)), Reply(text="done")]
    requests, _, _ = exec_once(run_codex, git_repo, codex_home, "tool_output_token_limit = 100\n", replies)
    output = requests[1].body["messages"][-1]
    assert output["role"] == "tool"
    assert len(output["content"].encode()) < 100 * 4 + 200  # the budget plus the cut marker
    assert "lines cut from the middle" in output["content"] and "2999" in output["content"]


def test_history_max_bytes_keeps_the_prompt_file_under_its_cap(git_repo, codex_home, run_codex):
    with ScriptedServer([Reply(text="ok")] * 6) as server:
        write_provider_config(codex_home, server, extra="[history]\nmax_bytes = 400\n")
        for n in range(6):
            run = run_codex(["exec", f"prompt number {n} " + "x" * 60], git_repo)
            assert run.returncode == 0, run.stderr
    history = codex_home / "history.jsonl"
    lines = [json.loads(line)["text"] for line in history.read_text().splitlines()]
    assert history.stat().st_size <= 400
    assert lines[-1].startswith("prompt number 5") and not any(t.startswith("prompt number 0") for t in lines)


def reasoning_seen(events: list[dict]) -> bool:
    return any((event.get("item") or {}).get("type") == "reasoning" or event.get("kind") == "reasoning"
               for event in events)


@pytest.mark.parametrize("config", ["hide_agent_reasoning = true\n", "show_raw_agent_reasoning = false\n"])
def test_reasoning_can_be_hidden(git_repo, codex_home, run_codex, config):
    _, events, _ = exec_once(run_codex, git_repo, codex_home, config, [Reply(text="4", reasoning="2+2 is 4")])
    assert not reasoning_seen(events) and "2+2 is 4" not in json.dumps(events)


def test_reasoning_is_shown_by_default(git_repo, codex_home, run_codex):
    _, events, _ = exec_once(run_codex, git_repo, codex_home, "", [Reply(text="4", reasoning="2+2 is 4")])
    assert reasoning_seen(events) and "2+2 is 4" in json.dumps(events)


# --- keys without effect -----------------------------------------------------------------------------------------


def test_codex_keys_without_effect_here_are_named_in_one_warning(git_repo, codex_home, run_codex):
    config = 'file_opener = "cursor"\ncheck_for_update_on_startup = false\n[tui]\nanimations = false\n'
    _, events, stderr = exec_once(run_codex, git_repo, codex_home, config)
    for shown in (json.dumps(events), stderr):  # an error item in the stream, and a line on stderr
        assert shown.count("these Codex settings have no effect in codex-local") == 1
        assert "check_for_update_on_startup, file_opener, tui" in shown
