"""End to end: the real `codex exec` process against the scripted model server over HTTP,
in real temporary git repositories."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer, StreamError, ToolCall

WIRE_APIS = ["chat", "responses"]
FULL_ACCESS = ["--sandbox", "danger-full-access"]


def shell_call(script: str) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-lc", script]})


def patch_call(patch: str) -> ToolCall:
    return ToolCall("apply_patch", {"input": patch})


def request_text(body: dict) -> str:
    """Everything a request sent to the model, as one string (both wire formats)."""
    return json.dumps(body.get("messages") or body.get("input"), ensure_ascii=False)


def model_requests(server: ScriptedServer) -> list[dict]:
    return [r.body for r in server.requests if r.method == "POST"]


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_patch_adds_updates_moves_and_deletes_files(wire_api, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / "app.py").write_text("def greet():\n    return 'hi'\n")
    (git_repo / "old_name.txt").write_text("keep me\n")
    (git_repo / "obsolete.txt").write_text("bye\n")
    patch = (
        "*** Begin Patch\n"
        "*** Add File: src/new.py\n+print('new')\n"
        "*** Update File: app.py\n@@ def greet():\n-    return 'hi'\n+    return 'hello'\n"
        "*** Update File: old_name.txt\n*** Move to: docs/new_name.txt\n@@\n-keep me\n+kept and moved\n"
        "*** Delete File: obsolete.txt\n"
        "*** End Patch\n"
    )
    script = [Reply(tool_calls=(patch_call(patch),)), Reply(text="Edited four files.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", "--full-auto", "edit the files"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Edited four files.\n"
    assert (git_repo / "src/new.py").read_text() == "print('new')\n"
    assert (git_repo / "app.py").read_text() == "def greet():\n    return 'hello'\n"
    assert (git_repo / "docs/new_name.txt").read_text() == "kept and moved\n"
    assert not (git_repo / "old_name.txt").exists()
    assert not (git_repo / "obsolete.txt").exists()
    tool_output = request_text(model_requests(server)[1])
    for line in ("A src/new.py", "M app.py", "M docs/new_name.txt", "D obsolete.txt"):
        assert line in tool_output


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_command_output_reaches_the_next_request(wire_api, git_repo: Path, codex_home: Path,
                                                 run_codex: RunCodex):
    script = [
        Reply(tool_calls=(shell_call("echo marker-$((6*7)); exit 3"),)),
        Reply(text="The command printed marker-42."),
    ]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", *FULL_ACCESS, "run it"], git_repo)

    assert run.returncode == 0, run.stderr
    second = request_text(model_requests(server)[1])
    assert "marker-42" in second
    assert "Exit code: 3" in second
    assert "Wall time:" in second
    assert "exit 3" in run.stderr


def test_malformed_patch_leaves_every_file_untouched(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (git_repo / "a.txt").write_text("alpha\n")
    (git_repo / "b.txt").write_text("beta\n")
    before = {p.name: p.read_text() for p in git_repo.iterdir() if p.is_file()}
    patch = (
        "*** Begin Patch\n"
        "*** Update File: a.txt\n@@\n-alpha\n+ALPHA\n"
        "*** Add File: c.txt\n+gamma\n"
        "*** Update File: b.txt\n@@\n-this line is not in b.txt\n+BETA\n"
        "*** End Patch\n"
    )
    script = [Reply(tool_calls=(patch_call(patch),)), Reply(text="The patch failed.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--full-auto", "--json", "edit"], git_repo)

    assert run.returncode == 0, run.stderr
    assert {p.name: p.read_text() for p in git_repo.iterdir() if p.is_file()} == before
    error_to_model = request_text(model_requests(server)[1])
    assert "b.txt" in error_to_model and "this line is not in b.txt" in error_to_model
    failed = [e for e in run.events() if e["type"] == "item.completed" and e["item"]["type"] == "file_change"]
    assert failed[0]["item"]["status"] == "failed"


@pytest.mark.parametrize(
    "printed",
    [
        '{"name": "shell", "arguments": {"command": ["bash", "-lc", "touch made-by-text-call"]}}',
        'I will run:\n```json\n{"name": "shell", "arguments": {"command": ["bash", "-lc", '
        '"touch made-by-text-call"]}}\n```',
        '<tool_call>\n{"name": "shell", "arguments": {"command": "touch made-by-text-call"}}\n</tool_call>',
    ],
    ids=["bare-json", "fenced-json", "tool-call-tags"],
)
def test_tool_call_printed_as_text_is_executed(printed, git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(text=printed), Reply(text="Created the file.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", *FULL_ACCESS, "make a file"], git_repo)

    assert run.returncode == 0, run.stderr
    assert (git_repo / "made-by-text-call").exists()
    assert run.stdout == "Created the file.\n"
    assert "Exit code: 0" in request_text(model_requests(server)[1])


def test_invalid_tool_arguments_go_back_to_the_model(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(ToolCall("shell", '{"command": ["ls"'),)), Reply(text="Sorry.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", *FULL_ACCESS, "list"], git_repo)

    assert run.returncode == 0, run.stderr
    assert "not valid JSON" in request_text(model_requests(server)[1])


def test_server_errors_are_retried_until_success(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [HttpError(500, retry_after_ms=1), HttpError(500, retry_after_ms=1), Reply(text="Third time lucky.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, retries=3)
        run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Third time lucky.\n"
    assert len(model_requests(server)) == 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("wire_api", WIRE_APIS)
def test_error_event_in_the_stream_gives_one_sentence_and_exit_1(wire_api, git_repo: Path, codex_home: Path,
                                                                 run_codex: RunCodex):
    with ScriptedServer([StreamError("the model crashed (out of memory)")]) as server:
        write_provider_config(codex_home, server, wire_api=wire_api)
        run = run_codex(["exec", "hello"], git_repo)
        url = server.base_url

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    error_lines = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(error_lines) == 1 and "the model crashed (out of memory)" in error_lines[0], run.stderr
    assert url in error_lines[0]


def test_chat_reply_that_streamed_nothing_is_asked_once_more_without_streaming(git_repo: Path, codex_home: Path,
                                                                               run_codex: RunCodex):
    # Some servers drop tool calls from streamed replies; the chat back end then repeats the request unstreamed,
    # and, as the unstreamed one had the call, sends the session's later requests with tools unstreamed at once.
    script = [Reply(text=""), Reply(tool_calls=(shell_call("echo from-the-call"),)), Reply(text="done")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, wire_api="chat")
        run = run_codex(["exec", *FULL_ACCESS, "hello"], git_repo)
        requests = model_requests(server)

    assert run.returncode == 0, run.stderr
    assert [bool(r.get("stream")) for r in requests] == [True, False, False]
    assert "from-the-call" in request_text(requests[2])
    assert run.stdout.strip() == "done"


def test_server_that_is_down_gives_one_sentence_and_exit_1(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    url = f"http://127.0.0.1:{free_port()}/v1"
    (codex_home / "config.toml").write_text(
        f'model = "m"\nmodel_provider = "local"\n[model_providers.local]\nname = "Local vLLM"\n'
        f'base_url = "{url}"\nrequest_max_retries = 0\n'
    )
    run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 1
    assert run.stdout == ""
    error_lines = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(error_lines) == 1
    assert url in error_lines[0] and "Cannot reach Local vLLM" in error_lines[0]


def test_ollama_that_is_down_says_to_start_ollama(git_repo: Path, run_codex: RunCodex):
    port = free_port()
    no_retries = "model_providers.ollama.request_max_retries=0"
    run = run_codex(["exec", "--oss", "--local-provider", "ollama", "-c", no_retries, "hello"], git_repo,
                    env={"CODEX_OSS_PORT": str(port)})

    assert run.returncode == 1
    assert f"http://localhost:{port}/v1" in run.stderr
    assert "ollama serve" in run.stderr


def test_bad_config_toml_names_file_line_and_key_and_exits_2(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    config = codex_home / "config.toml"
    config.write_text('model = "m"\n\nmodel_provider = "nowhere"\n')
    run = run_codex(["exec", "hello"], git_repo)

    assert run.returncode == 2
    assert str(config) in run.stderr and "line 3" in run.stderr and "model_provider" in run.stderr

    config.write_text('model = "m"\napproval_policy = \n')
    run = run_codex(["exec", "hello"], git_repo)
    assert run.returncode == 2
    assert str(config) in run.stderr and "line 2" in run.stderr


def test_agents_md_text_is_in_the_first_request(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    (codex_home / "AGENTS.md").write_text("GLOBAL-RULE: be brief.\n")
    (git_repo / "AGENTS.md").write_text("REPO-RULE: use TypeScript strict mode.\n")
    sub = git_repo / "services" / "orders"
    sub.mkdir(parents=True)
    (sub / "AGENTS.md").write_text("DIR-RULE: log every error.\n")
    with ScriptedServer([Reply(text="ok")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "hello"], sub)

    assert run.returncode == 0, run.stderr
    first = request_text(model_requests(server)[0])
    positions = [first.index(rule) for rule in ("GLOBAL-RULE", "REPO-RULE", "DIR-RULE")]
    assert positions == sorted(positions)


SPEC_EVENT_TYPES = {"thread.started", "turn.started", "item.started", "item.updated", "item.completed",
                    "turn.completed", "turn.failed", "error"}
SPEC_ITEM_TYPES = {"agent_message", "reasoning", "command_execution", "file_change", "todo_list", "error"}


def test_json_output_is_one_spec_event_per_line(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    plan = {"plan": [{"step": "write hello.py", "status": "in_progress"}, {"step": "run it", "status": "pending"}]}
    done = {"plan": [{"step": "write hello.py", "status": "completed"}, {"step": "run it", "status": "completed"}]}
    script = [
        Reply(tool_calls=(ToolCall("update_plan", plan),)),
        Reply(reasoning="Need a file.", tool_calls=(patch_call("*** Begin Patch\n*** Add File: hello.py\n"
                                                                "+print('hello')\n*** End Patch\n"),)),
        Reply(tool_calls=(shell_call("python3 hello.py"), ToolCall("update_plan", done))),
        Reply(text="Done: added hello.py."),
    ]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", *FULL_ACCESS, "add hello.py"], git_repo)

    assert run.returncode == 0, run.stderr
    events = run.events()
    assert all(e["type"] in SPEC_EVENT_TYPES for e in events)
    assert events[0]["type"] == "thread.started" and events[0]["thread_id"]
    assert events[1] == {"type": "turn.started"}
    assert events[-1]["type"] == "turn.completed"
    assert set(events[-1]["usage"]) >= {"input_tokens", "cached_input_tokens", "output_tokens"}
    items = [e["item"] for e in events if "item" in e]
    assert {i["type"] for i in items} <= SPEC_ITEM_TYPES
    change = next(i for i in items if i["type"] == "file_change")
    assert change["changes"] == [{"path": str(git_repo / "hello.py"), "kind": "add"}]
    command = next(e["item"] for e in events if e["type"] == "item.completed"
                   and e["item"]["type"] == "command_execution")
    assert command["aggregated_output"] == "hello\n" and command["exit_code"] == 0
    assert command["status"] == "completed"
    todo = [e for e in events if e.get("item", {}).get("type") == "todo_list"]
    assert [e["type"] for e in todo] == ["item.started", "item.updated", "item.completed"]
    assert todo[-1]["item"]["items"] == [{"text": "write hello.py", "completed": True},
                                         {"text": "run it", "completed": True}]
    messages = [i for i in items if i["type"] == "agent_message"]
    assert messages == [{"id": messages[0]["id"], "type": "agent_message", "text": "Done: added hello.py."}]


def completed_items(run, item_type: str) -> list[dict]:
    return [e["item"] for e in run.events() if e["type"] == "item.completed" and e["item"]["type"] == item_type]


def test_full_auto_runs_commands_in_the_workspace_sandbox(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                          tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    script = [Reply(tool_calls=(shell_call(f"touch inside.txt && touch {outside}/escaped.txt"),)), Reply(text="ok")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        no_tmp = ["-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                  "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]  # tmp_path itself lives in /tmp
        run = run_codex(["exec", "--full-auto", *no_tmp, "--json", "touch"], git_repo)

    assert run.returncode == 0, run.stderr
    assert (git_repo / "inside.txt").exists()
    assert not (outside / "escaped.txt").exists()
    command = completed_items(run, "command_execution")[0]
    assert command["status"] == "failed"
    assert "Permission denied" in command["aggregated_output"] or "No such file" in command["aggregated_output"]


def test_exec_denies_what_needs_approval_and_reports_it(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [
        Reply(tool_calls=(shell_call("ls"), shell_call("touch made.txt"))),
        Reply(text="One was denied."),
    ]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-a", "untrusted", "-s", "workspace-write", "--json", "go"], git_repo)

    assert run.returncode == 0, run.stderr
    safe, unsafe = completed_items(run, "command_execution")
    assert safe["status"] == "completed" and "README.md" in safe["aggregated_output"]
    assert unsafe["status"] == "declined" and "not approve" in unsafe["reason"]
    assert not (git_repo / "made.txt").exists()
    assert "was not approved" in request_text(model_requests(server)[1])
    assert "the user did not" not in request_text(model_requests(server)[1])  # nobody was asked in exec


def test_exec_ends_with_a_summary_of_what_was_not_approved(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    patch = "*** Begin Patch\n*** Add File: new.txt\n+x\n*** End Patch\n"
    script = [Reply(tool_calls=(shell_call("touch made.txt"),)), Reply(tool_calls=(patch_call(patch),)),
              Reply(text="All done, everything worked.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-a", "untrusted", "-s", "workspace-write", "go"], git_repo)

    assert run.returncode == 0, run.stderr
    summary = [line for line in run.stderr.splitlines() if line.startswith("declined")]
    assert len(summary) == 1 and "2 actions needed an approval that codex exec cannot ask for" in summary[0]
    assert "touch made.txt" in summary[0] and "edit of new.txt" in summary[0]
    assert run.stderr.rindex("declined") > run.stderr.index("approval")  # at the end of the run


def test_escalation_request_is_denied_in_exec(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    call = ToolCall("shell", {"command": ["bash", "-lc", "touch escalated.txt"], "with_escalated_permissions": True,
                              "justification": "needs to write"})
    with ScriptedServer([Reply(tool_calls=(call,)), Reply(text="denied")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--full-auto", "go"], git_repo)

    assert run.returncode == 0, run.stderr
    assert not (git_repo / "escalated.txt").exists()
    assert "codex exec cannot ask" in run.stderr


@pytest.mark.parametrize(("policy", "expected"), [("on-request", "was not approved"), ("never", "approval_policy is")])
def test_edit_outside_the_workspace_is_asked_or_refused(policy, expected, git_repo: Path, codex_home: Path,
                                                        run_codex: RunCodex):
    patch = "*** Begin Patch\n*** Add File: ../escaped.txt\n+nope\n*** End Patch\n"
    with ScriptedServer([Reply(tool_calls=(patch_call(patch),)), Reply(text="blocked")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-s", "workspace-write", "-a", policy, "--json", "escape"], git_repo)

    assert run.returncode == 0, run.stderr
    assert not (git_repo.parent / "escaped.txt").exists()
    change = completed_items(run, "file_change")[0]
    assert change["status"] == "failed" and change["declined"] is True  # Codex's status; ours as an extension
    assert expected in request_text(model_requests(server)[1])


def test_outside_git_refuses_unless_skip_git_repo_check(tmp_path: Path, codex_home: Path, run_codex: RunCodex):
    plain = tmp_path / "plain"
    plain.mkdir()
    with ScriptedServer([Reply(text="fine")]) as server:
        write_provider_config(codex_home, server)
        refused = run_codex(["exec", "hello"], plain)
        allowed = run_codex(["exec", "--skip-git-repo-check", "hello"], plain)

    assert refused.returncode == 2 and "--skip-git-repo-check" in refused.stderr
    assert allowed.returncode == 0 and allowed.stdout == "fine\n"


def test_prompt_from_stdin_and_last_message_file(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                 tmp_path: Path):
    out = tmp_path / "last.txt"
    with ScriptedServer([Reply(text="from stdin, answered")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "-o", str(out), "-"], git_repo, stdin="PROMPT-ON-STDIN")

    assert run.returncode == 0, run.stderr
    assert out.read_text() == "from stdin, answered"
    assert "PROMPT-ON-STDIN" in request_text(model_requests(server)[0])


def test_step_limit_asks_for_a_final_answer_without_tools(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    script = [Reply(tool_calls=(shell_call("ls"),)), Reply(tool_calls=(shell_call("pwd"),)),
              Reply(text="I listed the files; pwd is left to check.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra="max_turn_steps = 2")
        run = run_codex(["exec", "--json", *FULL_ACCESS, "loop"], git_repo)
        requests = model_requests(server)

    assert run.returncode == 0, run.stderr
    assert run.events()[-1]["type"] == "turn.completed"
    assert any("max_turn_steps" in json.dumps(event) for event in run.events())
    assert len(requests) == 3 and not requests[2].get("tools")  # the last request offers no tools
    assert "every tool call this turn allows" in request_text(requests[2])
    assert run.events()[-2]["item"]["text"] == "I listed the files; pwd is left to check."


def test_exceeded_context_window_is_reported_not_a_crash(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text="never")]) as server:
        write_provider_config(codex_home, server, extra="model_context_window = 600")
        run = run_codex(["exec", *FULL_ACCESS, "hello"], git_repo)

    assert run.returncode == 1
    assert "600-token context window" in run.stderr
    assert "Traceback" not in run.stderr
    assert model_requests(server) == []


def test_oldest_tool_output_is_shortened_to_fit_the_window(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    flood = shell_call("yes 0123456789012345678901234567890123456789 | head -n 2000")
    script = [Reply(tool_calls=(flood,)), Reply(text="Fitted.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra="model_context_window = 3000")
        run = run_codex(["exec", *FULL_ACCESS, "flood"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Fitted.\n"
    assert "shortened the oldest command outputs" in run.stderr
    assert "[output shortened to save context]" in request_text(model_requests(server)[1])


def test_compaction_keeps_the_turn_going_when_shortening_is_not_enough(git_repo: Path, codex_home: Path,
                                                                      run_codex: RunCodex):
    # Twelve small outputs in one step: nothing left to shorten, so only compaction can make room.
    many = Reply(tool_calls=tuple(shell_call(f"echo step-{i}") for i in range(12)))
    script = [many, Reply(text="SUMMARY: ran echo steps 0-11."), Reply(text="Finished after compaction.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra="model_context_window = 1400")
        run = run_codex(["exec", *FULL_ACCESS, "GOAL-PROMPT run the steps"], git_repo)

    assert run.returncode == 0, run.stderr
    assert run.stdout == "Finished after compaction.\n"
    assert "compacting" in run.stderr
    last = request_text(model_requests(server)[-1])
    assert "SUMMARY: ran echo steps 0-11." in last and "GOAL-PROMPT" in last
    assert "step-0" not in last


def test_server_context_error_is_reported_not_a_crash(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    message = "This model's maximum context length is 4096 tokens; your prompt has 5000"
    with ScriptedServer([HttpError(400, message)]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "hi"], git_repo)

    assert run.returncode == 1
    assert run.events()[-1]["type"] == "turn.failed"
    assert "context window" in run.events()[-1]["error"]["message"]
