"""The turn loop, driven in-process as a front end does: a real Config, a real HTTP client talking to the
scripted model server, real shell commands in a real git repository, events collected in a list."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.instructions import ProjectDocs, load_project_docs
from agent.models import make_client
from agent.models.base import Message
from agent.protocol import (
    AgentMessage,
    ApprovalDecision,
    ApprovalRequested,
    CommandExecution,
    Compact,
    ContextCompacted,
    ErrorItem,
    Event,
    GetStatus,
    Interrupt,
    ItemCompleted,
    ItemStarted,
    OperationFailed,
    OutputDelta,
    OverrideTurnContext,
    Reasoning,
    SessionConfigured,
    Shutdown,
    ShutdownComplete,
    StatusReport,
    TextDelta,
    ThreadStarted,
    TurnCompleted,
    TurnContextChanged,
    TurnFailed,
    TurnStarted,
    Undo,
    UndoCompleted,
    UserInput,
    Warning,
)
from agent.session import Session, SessionSetup
from agent.session_open import SessionOptions, open_session
from agent.thread import base_instructions
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer, ToolCall

FULL_ACCESS = "danger-full-access"


def shell_call(script: str, call_id: str | None = None) -> ToolCall:
    return ToolCall("shell", {"command": ["bash", "-c", script]}, call_id=call_id)


@dataclass(frozen=True)
class Outcome:
    """How a turn ended, as its last event says."""

    completed: bool
    last_message: str
    error: str | None


@dataclass
class Harness:
    session: Session
    server: ScriptedServer
    events: list[Event] = field(default_factory=list)
    on_event: Callable[[Event], object] | None = None

    def turn(self, text: str) -> Outcome:
        start = len(self.events)
        self.session.submit(UserInput(text))
        end = next(e for e in reversed(self.events[start:]) if isinstance(e, TurnCompleted | TurnFailed))
        if isinstance(end, TurnCompleted):
            return Outcome(True, end.last_agent_message or "", None)
        messages = [e.item.text for e in self.events[start:] if isinstance(e, ItemCompleted)
                    and isinstance(e.item, AgentMessage)]
        return Outcome(False, messages[-1] if messages else "", end.message)

    @property
    def history(self) -> list[Message]:
        return self.session.thread.messages

    def of_type(self, *types: type) -> list[Event]:
        return [e for e in self.events if isinstance(e, types)]

    def items(self, item_type: type) -> list:
        return [e.item for e in self.of_type(ItemStarted, ItemCompleted) if isinstance(e.item, item_type)]

    def model_messages(self, index: int) -> list[dict]:
        return [r.body for r in self.server.requests if r.method == "POST"][index]["messages"]


MakeSession = Callable[..., Harness]


@pytest.fixture
def make_session(git_repo: Path, codex_home: Path, tmp_path: Path) -> Iterator[MakeSession]:
    servers: list[ScriptedServer] = []

    def make(steps: list, sandbox_mode: str | None = FULL_ACCESS, wire_api: str = "chat", docs=None,
             on_event: Callable[[Event], None] | None = None, approval_policy: str | None = None,
             recorded: bool = False) -> Harness:
        """`recorded`: open the session as front ends do (agent.session_open, ephemeral: an undo log, no
        rollout); else a bare Session that keeps nothing."""
        server = ScriptedServer(steps).start()
        servers.append(server)
        config = load_config(
            Overrides(cwd=git_repo, sandbox_mode=sandbox_mode, approval_policy=approval_policy, config_overrides=(
                "model=scripted",
                "model_provider=scripted",
                'model_providers.scripted.name="Scripted"',
                f'model_providers.scripted.base_url="{server.base_url}"',
                f'model_providers.scripted.wire_api="{wire_api}"',
                "model_providers.scripted.request_max_retries=0",
            )),
            env={"CODEX_HOME": str(codex_home), "HOME": str(tmp_path)},
        )
        def emit(event: Event) -> None:
            harness.events.append(event)
            if harness.on_event:
                harness.on_event(event)

        if recorded:
            session = open_session(config, make_client(config), emit, docs or ProjectDocs((), "", False),
                                   SessionOptions(ephemeral=True))
        else:
            session = Session(config, make_client(config), emit, SessionSetup(docs=docs))
        harness = Harness(session, server, on_event=on_event)
        return harness

    yield make
    for server in servers:
        server.stop()


def assert_every_tool_call_answered(history: list[Message]) -> None:
    answered = {m.tool_call_id for m in history if m.role == "tool"}
    asked = [c.call_id for m in history if m.role == "assistant" for c in m.tool_calls]
    assert set(asked) <= answered, f"tool calls without a result: {set(asked) - answered}"


def interrupt_when(harness: Harness, ready: threading.Event, before: Callable[[], None] = lambda: None):
    """A thread that submits Interrupt once `ready` is set, as a front end's key handler would."""

    def run() -> None:
        if ready.wait(10):
            before()
            harness.session.submit(Interrupt())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for_file(path: Path, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


# --- a normal turn --------------------------------------------------------------------------------------


@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_tool_call_then_answer_emits_events_in_order(make_session: MakeSession, git_repo: Path, wire_api: str):
    h = make_session([Reply(tool_calls=(shell_call("echo hello from $(basename $PWD)"),)),
                      Reply(text="The repo says hello.")], wire_api=wire_api)

    h.session.start()
    result = h.turn("say hello")

    assert result.completed and result.last_message == "The repo says hello."
    shown = [(type(e).__name__, type(getattr(e, "item", None)).__name__)
             for e in h.events if not isinstance(e, TextDelta | OutputDelta)]
    assert shown == [
        ("SessionConfigured", "NoneType"),
        ("ThreadStarted", "NoneType"),
        ("TurnStarted", "NoneType"),
        ("ItemStarted", "CommandExecution"),
        ("ItemCompleted", "CommandExecution"),
        ("ItemCompleted", "AgentMessage"),
        ("TurnCompleted", "NoneType"),
    ]
    started, completed = h.items(CommandExecution)
    assert started.status == "in_progress" and started.exit_code is None
    assert completed.status == "completed" and completed.exit_code == 0
    assert completed.aggregated_output == "hello from repo\n"
    assert completed.cwd == str(git_repo)
    assert h.of_type(ThreadStarted)[0].thread_id == h.session.thread_id
    assert h.of_type(TurnCompleted)[0].usage.input_tokens > 0


def test_history_holds_user_assistant_tool_assistant(make_session: MakeSession):
    h = make_session([Reply(tool_calls=(shell_call("exit 3", call_id="call_a"),)), Reply(text="It failed.")])

    h.turn("run it")

    roles = [m.role for m in h.history]
    assert roles == ["user", "user", "assistant", "tool", "assistant"]  # environment context, prompt, ...
    call_message, tool_message, answer = h.history[2:]
    assert [c.call_id for c in call_message.tool_calls] == ["call_a"]
    assert tool_message.tool_call_id == "call_a"
    assert tool_message.content.startswith("Exit code: 3\nWall time: ")
    assert answer.content == "It failed."
    tool_in_request = [m for m in h.model_messages(1) if m["role"] == "tool"]
    assert tool_in_request == [{"role": "tool", "tool_call_id": "call_a", "content": tool_message.content}]


def test_command_output_is_streamed_as_output_deltas(make_session: MakeSession):
    h = make_session([Reply(tool_calls=(shell_call("echo one; sleep 0.1; echo two"),)), Reply(text="ok")])

    h.turn("go")

    command_id = h.items(CommandExecution)[0].id
    deltas = h.of_type(OutputDelta)
    assert {d.item_id for d in deltas} == {command_id}
    assert "".join(d.chunk for d in deltas) == "one\ntwo\n"


def test_item_ids_are_unique_and_sequential_across_turns(make_session: MakeSession):
    h = make_session([
        Reply(reasoning="Need to look.", text="Looking.", tool_calls=(shell_call("true"),)),
        Reply(text="First done."),
        Reply(reasoning="Easy.", text="Second done."),
    ])

    h.turn("one")
    h.turn("two")

    ids: list[str] = []
    for event in h.events:
        item_id = getattr(event, "item_id", None) or getattr(getattr(event, "item", None), "id", None)
        if item_id and item_id not in ids:
            ids.append(item_id)
    assert all(re.fullmatch(r"item_\d+", i) for i in ids), ids
    assert [int(i.removeprefix("item_")) for i in ids] == list(range(1, len(ids) + 1))
    kinds = {}
    for item in [e.item for e in h.of_type(ItemCompleted)]:
        kinds.setdefault(item.id, set()).add(type(item))
    assert all(len(types) == 1 for types in kinds.values()), "one id was used for two items"
    assert [type(e.item).__name__ for e in h.of_type(ItemCompleted)] == [
        "Reasoning", "AgentMessage", "CommandExecution", "AgentMessage", "Reasoning", "AgentMessage"]
    assert len(ids) == len(h.of_type(ItemCompleted)) == 6


def test_streamed_text_uses_the_id_of_the_item_it_becomes(make_session: MakeSession):
    h = make_session([Reply(reasoning="Thinking it over.", text="A long enough answer to stream in pieces.")])

    h.turn("hi")

    reasoning, = h.items(Reasoning)
    message, = h.items(AgentMessage)
    deltas = h.of_type(TextDelta)
    assert "".join(d.delta for d in deltas if d.item_id == message.id) == message.text
    assert "".join(d.delta for d in deltas if d.item_id == reasoning.id and d.kind == "reasoning") == reasoning.text


# --- what the model is sent ---------------------------------------------------------------------------


def test_first_request_carries_instructions_docs_environment_and_prompt(make_session: MakeSession, git_repo: Path,
                                                                       codex_home: Path):
    (git_repo / "AGENTS.md").write_text("Always run `make lint` before finishing.\n")
    docs = load_project_docs(git_repo, codex_home)
    h = make_session([Reply(text="ok")], docs=docs)

    h.turn("fix the bug")

    messages = h.model_messages(0)
    assert [m["role"] for m in messages] == ["system", "user", "user", "user"]
    system, agents, environment, prompt = (m["content"] for m in messages)
    assert system == base_instructions()
    assert agents == docs.text
    assert agents.startswith("<user_instructions>") and "Always run `make lint` before finishing." in agents
    assert f"<cwd>{git_repo}</cwd>" in environment
    assert f"<sandbox_mode>{FULL_ACCESS}</sandbox_mode>" in environment
    assert environment.startswith("<environment_context>")
    assert prompt == "fix the bug"
    tools = {t["function"]["name"] for t in h.server.requests[-1].body["tools"]}
    assert tools == {"shell", "apply_patch", "update_plan"}


def test_without_docs_the_environment_context_comes_first(make_session: MakeSession):
    h = make_session([Reply(text="ok")])

    h.turn("hi")

    assert [m["content"].split("\n")[0] for m in h.model_messages(0)[1:]] == ["<environment_context>", "hi"]


# --- tool failures keep the turn going -----------------------------------------------------------------


def test_unknown_tool_is_reported_to_the_model_and_the_turn_continues(make_session: MakeSession):
    h = make_session([Reply(tool_calls=(ToolCall("browse_web", {"url": "https://example.com"}, call_id="c1"),)),
                      Reply(text="I cannot browse; here is what I know.")])

    result = h.turn("look it up")

    assert result.completed
    error, = h.items(ErrorItem)
    assert "unknown tool 'browse_web'" in error.message
    tool_output = next(m for m in h.model_messages(1) if m["role"] == "tool")
    assert tool_output["tool_call_id"] == "c1"
    assert tool_output["content"].startswith("error: unknown tool 'browse_web'; the tools are: shell, apply_patch")
    assert isinstance(h.events[-1], TurnCompleted)


def test_invalid_json_arguments_are_reported_to_the_model(make_session: MakeSession):
    h = make_session([Reply(tool_calls=(ToolCall("shell", '{"command": ["ls"', call_id="c1"),)),
                      Reply(text="Sorry.")])

    result = h.turn("list")

    assert result.completed
    tool_output = next(m for m in h.model_messages(1) if m["role"] == "tool")
    assert tool_output["content"].startswith("error: the arguments of shell are not valid JSON")


def test_read_only_sandbox_blocks_a_write_and_the_model_sees_the_failure(make_session: MakeSession, git_repo: Path):
    h = make_session([Reply(tool_calls=(shell_call("touch created.txt", call_id="c1"),)),
                      Reply(text="I could not run it.")], sandbox_mode=None)

    result = h.turn("create a file")

    assert result.completed
    assert not (git_repo / "created.txt").exists()
    started, completed = h.items(CommandExecution)
    assert completed.status == "failed" and completed.sandboxed
    # Landlock's refusal, or (a cwd beneath /tmp, bound back under the session's private /tmp) the mount's
    denial = "Read-only file system" if "Read-only file system" in completed.aggregated_output else "Permission denied"
    assert denial in completed.aggregated_output
    tool_output = next(m for m in h.model_messages(1) if m["role"] == "tool")
    assert denial in tool_output["content"]


def test_approval_decisions_from_the_front_end(make_session: MakeSession, git_repo: Path):
    calls = tuple(shell_call(f"touch {name}.txt", call_id=name) for name in ("once", "again", "denied"))
    h = make_session([Reply(tool_calls=calls), Reply(text="done")], sandbox_mode="workspace-write",
                     approval_policy="untrusted")
    answers = iter(["approve", "approve_session", "deny"])

    def decide(event):
        if isinstance(event, ApprovalRequested):
            h.session.submit(ApprovalDecision(event.request_id, next(answers)))

    h.on_event = decide
    result = h.turn("make files")

    assert result.completed
    assert (git_repo / "once.txt").exists() and (git_repo / "again.txt").exists()
    assert not (git_repo / "denied.txt").exists()
    requests = [e for e in h.events if isinstance(e, ApprovalRequested)]
    assert [r.kind for r in requests] == ["command"] * 3
    assert requests[0].command == "bash -c 'touch once.txt'" and requests[0].cwd == str(git_repo)


def test_deny_and_stop_ends_the_turn_and_answers_every_call(make_session: MakeSession, git_repo: Path):
    calls = (shell_call("touch a.txt", call_id="a"), shell_call("touch b.txt", call_id="b"))
    h = make_session([Reply(tool_calls=calls), Reply(text="next turn")], sandbox_mode="workspace-write",
                     approval_policy="untrusted")
    h.on_event = lambda e: isinstance(e, ApprovalRequested) and h.session.submit(
        ApprovalDecision(e.request_id, "abort"))

    result = h.turn("make files")

    assert not result.completed and "stopped the turn" in result.error
    assert not (git_repo / "a.txt").exists() and not (git_repo / "b.txt").exists()
    tool_results = [m for m in h.history if m.role == "tool"]
    assert [m.tool_call_id for m in tool_results] == ["a", "b"]
    assert h.turn("continue").completed


def test_tool_call_written_as_text_is_run(make_session: MakeSession, git_repo: Path):
    text = '<tool_call>\n{"name": "shell", "arguments": {"command": ["bash", "-c", "touch made.txt"]}}\n</tool_call>'
    h = make_session([Reply(text=text), Reply(text="Made it.")])

    result = h.turn("make a file")

    assert result.completed and result.last_message == "Made it."
    assert (git_repo / "made.txt").exists()
    assert [m.text for m in h.items(AgentMessage)] == ["Made it."]
    assert_every_tool_call_answered(h.history)


# --- interrupts -----------------------------------------------------------------------------------------


def test_interrupt_while_the_model_streams_fails_the_turn_and_the_next_turn_works(make_session: MakeSession):
    streaming = threading.Event()
    h = make_session([Reply(text="word " * 200, delay_ms=30), Reply(text="Back again.")],
                     on_event=lambda e: isinstance(e, TextDelta) and streaming.set())
    interrupter = interrupt_when(h, streaming)

    started = time.monotonic()
    result = h.turn("write an essay")
    interrupter.join(5)

    assert time.monotonic() - started < 3
    assert not result.completed
    failed = h.events[-1]
    assert isinstance(failed, TurnFailed) and "interrupted" in failed.message
    assert not h.items(AgentMessage)

    again = h.turn("never mind, just say hi")

    assert again.completed and again.last_message == "Back again."
    assert_every_tool_call_answered(h.history)
    assert h.model_messages(-1)[-1] == {"role": "user", "content": "never mind, just say hi"}


def test_interrupt_during_a_long_command_kills_it_and_answers_every_call(make_session: MakeSession, git_repo: Path):
    pid_file = git_repo / "sleep.pid"
    command_started = threading.Event()
    h = make_session(
        [Reply(tool_calls=(shell_call(f"sleep 30 & echo $! > {pid_file}; wait", call_id="slow"),
                           shell_call("touch second.txt", call_id="second"))),
         Reply(text="Resumed.")],
        on_event=lambda e: isinstance(e, ItemStarted) and isinstance(e.item, CommandExecution)
        and command_started.set(),
    )
    interrupter = interrupt_when(h, command_started, before=lambda: wait_for_file(pid_file))

    started = time.monotonic()
    result = h.turn("run the slow thing")
    interrupter.join(5)

    assert time.monotonic() - started < 5
    assert not result.completed and "interrupted" in (result.error or "")
    assert isinstance(h.events[-1], TurnFailed)
    command, = [i for i in h.items(CommandExecution) if i.status != "in_progress"]
    assert command.status == "failed"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not process_alive(pid), "the interrupted command's child is still running"
    assert not (git_repo / "second.txt").exists()
    outputs = {m.tool_call_id: m.content for m in h.history if m.role == "tool"}
    assert "Note: command was interrupted by the user" in outputs["slow"]
    assert outputs["second"] == "error: not run, the turn was interrupted by the user"
    assert_every_tool_call_answered(h.history)

    again = h.turn("continue")

    assert again.completed and again.last_message == "Resumed."
    sent = h.model_messages(-1)
    asked = {c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls", [])}
    assert asked == {"slow", "second"}
    assert asked <= {m["tool_call_id"] for m in sent if m["role"] == "tool"}


def test_interrupt_between_turns_does_not_cancel_the_next_turn(make_session: MakeSession):
    h = make_session([Reply(text="Fine.")])

    assert h.session.submit(Interrupt()) is None
    result = h.turn("hello")

    assert result.completed
    assert [type(e) for e in h.events if isinstance(e, TurnStarted | TurnCompleted | TurnFailed)] == [
        TurnStarted, TurnCompleted]


def test_on_failure_offers_an_unsandboxed_retry_after_a_sandbox_denial(make_session: MakeSession, git_repo: Path,
                                                                       tmp_path: Path):
    outside = tmp_path / "outside-target"
    outside.mkdir()
    call = shell_call(f"echo hi > {outside}/written.txt", call_id="w")
    h = make_session([Reply(tool_calls=(call,)), Reply(text="done")], sandbox_mode="workspace-write",
                     approval_policy="on-failure")
    h.session.config = replace(h.session.config, sandbox_workspace_write=replace(
        h.session.config.sandbox_workspace_write, exclude_slash_tmp=True, exclude_tmpdir_env_var=True))
    asked: list[ApprovalRequested] = []

    def approve(event):
        if isinstance(event, ApprovalRequested):
            asked.append(event)
            h.session.submit(ApprovalDecision(event.request_id, "approve"))

    h.on_event = approve
    result = h.turn("write outside")

    assert result.completed
    assert len(asked) == 1 and "without the sandbox" in asked[0].reason
    assert (outside / "written.txt").read_text() == "hi\n"


# --- operations besides turns: everything through submit(op), every answer an event -----------------------


def test_start_announces_the_session_before_anything_else(make_session: MakeSession):
    h = make_session([])

    h.session.start()

    configured, started = h.events[:2]
    assert isinstance(configured, SessionConfigured) and isinstance(started, ThreadStarted)
    assert configured.status.thread_id == started.thread_id and not configured.resumed
    assert configured.status.sandbox == FULL_ACCESS and configured.status.model


def test_get_status_answers_with_the_usage_of_the_thread(make_session: MakeSession):
    h = make_session([Reply(text="hi")])
    h.turn("hello")

    h.session.submit(GetStatus())

    report = h.events[-1]
    assert isinstance(report, StatusReport)
    assert report.status.usage.input_tokens > 0 and report.status.context_used > 0


def test_override_turn_context_changes_the_policies_and_tells_the_model(make_session: MakeSession, git_repo: Path):
    h = make_session([Reply(tool_calls=(shell_call("touch blocked.txt"),)), Reply(text="done")])

    h.session.submit(OverrideTurnContext(approval_policy="never", sandbox_mode="read-only"))

    changed = h.events[-1]
    assert isinstance(changed, TurnContextChanged)
    assert (changed.status.sandbox, changed.status.approval) == ("read-only", "never")
    h.turn("make a file")
    assert not (git_repo / "blocked.txt").exists()  # the new sandbox holds
    environment = [m["content"] for m in h.model_messages(0) if m["role"] == "user"][-2]
    assert "<sandbox_mode>read-only</sandbox_mode>" in environment


def test_a_model_switch_without_a_reload_is_an_operation_failure_not_a_crash(make_session: MakeSession):
    h = make_session([])

    h.session.submit(OverrideTurnContext(model="other"))

    failed = h.events[-1]
    assert isinstance(failed, OperationFailed) and failed.operation == "override_turn_context"


def test_undo_puts_back_the_last_turns_edits_and_says_which(make_session: MakeSession, git_repo: Path):
    (git_repo / "kept.txt").write_text("before\n")
    patch = ("*** Begin Patch\n*** Update File: kept.txt\n@@\n-before\n+after\n"
             "*** Add File: new.txt\n+new\n*** End Patch")
    h = make_session([Reply(tool_calls=(ToolCall("apply_patch", {"input": patch}),)), Reply(text="edited")],
                     recorded=True)
    assert h.turn("edit").completed
    assert (git_repo / "kept.txt").read_text() == "after\n"

    h.session.submit(Undo())

    undone = h.events[-1]
    assert isinstance(undone, UndoCompleted)
    assert [p.name for p in undone.restored] == ["kept.txt"] and [p.name for p in undone.removed] == ["new.txt"]
    assert (git_repo / "kept.txt").read_text() == "before\n" and not (git_repo / "new.txt").exists()


def test_undo_without_an_undo_log_fails_with_a_sentence(make_session: MakeSession):
    h = make_session([])

    h.session.submit(Undo())

    failed = h.events[-1]
    assert isinstance(failed, OperationFailed) and failed.operation == "undo" and "Nothing to undo" in failed.message


def test_compact_replaces_the_history_with_the_summary(make_session: MakeSession):
    h = make_session([Reply(text="first answer"), Reply(text="SUMMARY: the user said hello"), Reply(text="ok")])
    h.turn("hello")

    h.session.submit(Compact())

    compacted = h.events[-1]
    assert isinstance(compacted, ContextCompacted)
    assert compacted.tokens_after > 0
    h.turn("go on")
    sent = [m["content"] for m in h.model_messages(2) if m["role"] == "user"]
    assert any("SUMMARY: the user said hello" in text for text in sent)
    assert "first answer" not in str(h.model_messages(2))


def test_turn_failures_carry_a_typed_reason(make_session: MakeSession):
    h = make_session([HttpError(400, "bad request")])

    h.turn("hello")

    failed = h.events[-1]
    assert isinstance(failed, TurnFailed) and failed.reason == "model_error"


def test_shutdown_closes_the_session_and_says_how_to_resume(make_session: MakeSession):
    h = make_session([])

    h.session.submit(Shutdown())

    done = h.events[-1]
    assert isinstance(done, ShutdownComplete) and done.resume_hint is None  # nothing kept, nothing to resume


def test_a_reply_cut_at_the_output_cap_is_said_to_be_cut(make_session: MakeSession):
    h = make_session([Reply(text="The first half of", finish_reason="length")])

    h.turn("explain")

    warnings = [e.message for e in h.of_type(Warning)]
    assert any("stopped at the output limit" in w and "model_max_output_tokens" in w for w in warnings)
    assert h.server.requests[0].body["max_tokens"] > 0  # every request carries a cap
