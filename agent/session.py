"""The turn loop: send history + tools, stream the reply, run the tool calls, repeat until
the model answers without a tool call.

A `Session` is one thread of turns. Front ends drive it with `submit(op)` and render the
events it emits; anything that ends a turn early (an interrupt, the step limit, a model
or context error) is an exception caught in `run_turn` and reported as `turn.failed`.
Tools, model back ends and policy live behind narrow interfaces in other modules.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from agent import context_budget, structured_output
from agent.audit import AuditLog
from agent.config import Config
from agent.errors import TurnStopped, UserError
from agent.instructions import ProjectDocs, with_developer_instructions
from agent.models.base import (
    ContextWindowExceeded,
    Message,
    ModelClient,
    ModelRequest,
    ModelResponse,
    ReasoningChunk,
    Retrying,
    TextChunk,
    Waiting,
)
from agent.models.text_tool_calls import recover_tool_calls
from agent.notify import NotifyError, TurnComplete, run_notify
from agent.protocol import (
    AgentMessage,
    ApprovalDecision,
    ApprovalRequested,
    Decision,
    ErrorItem,
    Event,
    Interrupt,
    ItemCompleted,
    ModelWaiting,
    Op,
    Reasoning,
    TextDelta,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    UserInput,
    Warning,
)
from agent.redact import Redactor
from agent.safety.approval import SessionApprovals
from agent.session_store import SessionStore
from agent.tools import router
from agent.tools.shell import truncate_middle

CHARS_PER_TOKEN = 4  # a deliberately rough estimate, used only to refuse before a server would
DEFAULT_COMPACT_WINDOW = 32768  # /compact on an endpoint whose window we do not know
PREAMBLE_TAGS = ("<user_instructions>", "<environment_context>")
LOOP_REPEATS = 3
MIN_RATE_SECONDS = 0.05  # tokens_per_second needs a generation at least this long to be a rate
LOOP_NOTICE = ("You have made the same tool call several times in a row with the same result. Stop calling tools "
               "and give your final answer now, based on what you have seen.")
STEP_LIMIT_NOTICE = ("You have used every tool call this turn allows. Stop calling tools and give your final "
                     "answer now: what you did, what is left to do, based on what you have seen.")
INTERRUPTED_OUTPUT = "error: the session ended (killed or closed) before this call finished; it may have run partly"


@dataclass(frozen=True)
class SessionStatus:
    """What /status shows."""

    thread_id: str
    model: str
    provider: str
    endpoint: str
    sandbox: str
    approval: str
    agents_files: tuple[Path, ...]
    usage: Usage
    context_window: int | None
    context_used: int
    rollout: Path | None


@dataclass(frozen=True)
class TurnResult:
    completed: bool
    last_message: str
    usage: Usage
    error: str | None = None


@dataclass
class _TurnState:
    started: float = field(default_factory=time.monotonic)
    usage: Usage = field(default_factory=Usage)
    generation_seconds: float = 0.0
    last_message: str = ""
    calls: list[tuple[tuple[str, str], ...]] = field(default_factory=list)  # each step's calls, for loop detection


def base_instructions() -> str:
    return resources.files("agent.prompts").joinpath("base_instructions.md").read_text(encoding="utf-8")


def environment_context(config: Config) -> str:
    network = "enabled" if config.sandbox_workspace_write.network_access else "restricted"
    return (
        "<environment_context>\n"
        f"  <cwd>{config.cwd}</cwd>\n"
        f"  <approval_policy>{config.approval_policy}</approval_policy>\n"
        f"  <sandbox_mode>{config.sandbox_mode}</sandbox_mode>\n"
        f"  <network_access>{network}</network_access>\n"
        "  <shell>bash</shell>\n"
        "</environment_context>"
    )


class Session:
    def __init__(
        self,
        config: Config,
        client: ModelClient,
        emit: Callable[[Event], None],
        docs: ProjectDocs | None = None,
        thread_id: str | None = None,
        store: SessionStore | None = None,
        history: list[Message] | None = None,
        output_schema: dict | None = None,
        mcp: Any = None,
    ):
        """A new thread, or (with `history` from a rollout and its reopened `store`) a resumed one. `mcp`: the
        started MCP servers (agent.mcp.connections.McpConnections), whose tools join the built-in ones."""
        self.config = config
        self.client = client
        self.docs = docs
        self._emit = emit
        self.store = store
        self.output_schema = output_schema
        self.mcp = mcp
        self.thread_id = store.thread_id if store else thread_id or str(uuid.uuid4())
        self.instructions = with_developer_instructions(base_instructions(), config.developer_instructions)
        self.history: list[Message] = []
        self.usage = Usage()  # the whole thread's
        self.last_prompt_tokens = 0
        self._turns = itertools.count(1)
        self._cancel = threading.Event()
        self._ids = itertools.count(1)
        self.approvals = SessionApprovals()
        self._decisions: dict[str, Decision] = {}
        self._decided = threading.Condition()
        self._turn_input: Message | None = None
        self.redactor = Redactor.from_config(config)
        self.audit = AuditLog.from_config(config, self.redactor, self.thread_id,
                                          warn=lambda text: self.emit(Warning(text))) if config.audit_enabled else None
        if history is not None:
            self.history = with_answered_calls(history)
            self._preamble = _preamble_length(history)
        else:
            if docs and docs.text:
                self._append(Message("user", docs.text))
            self._append(Message("user", environment_context(config)))
            self._preamble = len(self.history)  # messages kept verbatim by compaction

    def _append(self, message: Message) -> None:
        """Add to the history, with secrets redacted: what the model and the rollout see."""
        message = self.redactor.value(message)
        self.history.append(message)
        if self.store:
            self.store.message(message)

    def emit(self, event: Event) -> None:
        # Items are mutated as they progress; front ends get a snapshot, never a live object.
        # Redactor.value returns a deep copy, so it also makes the snapshot.
        snapshot = self.redactor.value(event)
        if self.audit:
            self.audit.record_event(event)
        if self.store:
            self.store.event(snapshot)
        self._emit(snapshot)

    def start(self) -> None:
        self.emit(ThreadStarted(self.thread_id))
        router.warm_up(self.config)

    def submit(self, op: Op) -> TurnResult | None:
        match op:
            case UserInput(text=text):
                return self.run_turn(text)
            case Interrupt():
                self._cancel.set()
                with self._decided:
                    self._decided.notify_all()
            case ApprovalDecision(request_id=request_id, decision=decision):
                if self.audit:
                    self.audit.record_event(op)
                with self._decided:
                    self._decisions[request_id] = decision
                    self._decided.notify_all()
        return None

    def _ask(self, request: ApprovalRequested) -> Decision:
        """Emit the request and wait for a front end's decision; an interrupt counts as "abort"."""
        self.emit(request)
        with self._decided:
            self._decided.wait_for(lambda: request.request_id in self._decisions or self._cancel.is_set())
            return self._decisions.pop(request.request_id, "abort")

    def run_turn(self, text: str, images: tuple[str, ...] = ()) -> TurnResult:
        self._cancel.clear()
        self.emit(TurnStarted())
        if self.store:
            self.store.prompt(self.redactor.text(text))
        if self.audit:
            self.audit.prompt(text)
        self._turn_input = Message("user", text, images=images)
        self._append(self._turn_input)
        turn = _TurnState()
        ctx = router.ToolContext(self.config, self.emit, self._new_item_id, self._cancel, self._ask, self.approvals,
                                 before_edit=self._before_edit_hook(f"turn-{next(self._turns)}"),
                                 mcp=self.mcp, audit=self.audit)
        try:
            for _ in range(self.config.max_turn_steps):
                response = self._sample(turn)
                if not response.tool_calls:
                    return self._complete(turn, ctx)
                self._run_tools(response, ctx)
                if _repeats_itself(response, turn):
                    return self._answer_now(turn, ctx, LOOP_NOTICE)
            # An error item, as Codex reports non-fatal problems, so `exec --json` shows it too.
            self.emit(ItemCompleted(ErrorItem(self._new_item_id(), (
                f"The turn used all {self.config.max_turn_steps} model steps (max_turn_steps in "
                f"{self.config.config_file}); asking the model for its final answer."
            ))))
            return self._answer_now(turn, ctx, STEP_LIMIT_NOTICE)
        except (UserError, TurnStopped) as e:
            return self._fail(turn, ctx, str(e))

    def _answer_now(self, turn: _TurnState, ctx: router.ToolContext, notice: str) -> TurnResult:
        """End a turn that would not end by itself: one more request that must be answered in text (no tools
        on the wire; on the embedded engine the grammar's answer branch), so the turn always ends with a final
        message. A reply that is still a call, is empty or only repeats the notice is no answer: the session
        then writes the final message itself. Nothing of the reply is shown before it is judged, so an echoed
        notice never appears."""
        self._append(Message("user", notice))
        request = replace(self._fit_context(turn), tool_choice="none")
        response = ModelResponse()
        try:
            for item in self.client.stream(request):
                self._check_cancel()
                if isinstance(item, Waiting | Retrying):
                    self._show_transport(item)
                elif isinstance(item, ModelResponse):
                    response = item
        except (UserError, TurnStopped) as e:
            self._audit_request(None, str(e))
            raise
        turn.usage += response.usage
        self._audit_request(response.usage)
        text = _final_answer(response, notice) or self._no_answer_message(notice)
        self._append(Message("assistant", text))
        turn.last_message = text
        self.emit(ItemCompleted(AgentMessage(self._new_item_id(), text)))
        return self._complete(turn, ctx)

    def _no_answer_message(self, notice: str) -> str:
        """The final message when the model gave none after the step limit or the loop guard."""
        if notice == LOOP_NOTICE:
            return (f"I stopped because the model made the same tool call {LOOP_REPEATS} times in a row and then "
                    "gave no final answer; the steps above show what was done.")
        return (f"I stopped after {self.config.max_turn_steps} model steps without a final answer from the model "
                f"(max_turn_steps in {self.config.config_file} sets the limit); the steps above show what was done.")

    def _show_transport(self, item: Waiting | Retrying) -> None:
        """A wait for a silent server (a live status) or a retried reply (a warning, and an audit record)."""
        if isinstance(item, Waiting):
            self.emit(ModelWaiting(item.message or "the model is answering", seconds=item.seconds))
        else:
            self._audit_request(None, item.message, retried=True)
            self.emit(Warning(item.message))

    def _sample(self, turn: _TurnState, structured: bool = False) -> ModelResponse:
        request = self._fit_context(turn, structured)
        ids: dict[str, str] = {}  # item ids, allocated when the text first appears

        def item_id(kind: str) -> str:
            return ids.get(kind) or ids.setdefault(kind, self._new_item_id())

        response, first_token_at = ModelResponse(), None
        try:
            for item in self.client.stream(request):
                self._check_cancel()
                if first_token_at is None and isinstance(item, TextChunk | ReasoningChunk):
                    first_token_at = time.monotonic()
                if isinstance(item, TextChunk):
                    self.emit(TextDelta(item_id("text"), item.text))
                elif isinstance(item, ReasoningChunk):
                    if self.config.shows_reasoning:  # hide_agent_reasoning / show_raw_agent_reasoning
                        self.emit(TextDelta(item_id("reasoning"), item.text, kind="reasoning"))
                elif isinstance(item, Waiting | Retrying):
                    if isinstance(item, Retrying):
                        ids.clear()  # the reply starts over: what streamed so far belongs to no item
                    self._show_transport(item)
                else:
                    response = item
        except (UserError, TurnStopped) as e:  # a failed request is audited too, with the sentence the user sees
            self._audit_request(None, str(e))
            raise
        if response.generation_seconds is not None:  # the back end timed it (a tool call streams no text)
            turn.generation_seconds += response.generation_seconds
        elif first_token_at is not None:
            turn.generation_seconds += time.monotonic() - first_token_at
        turn.usage += response.usage
        self._audit_request(response.usage)
        response = self._with_recovered_calls(response)
        self._append(Message("assistant", response.text, response.tool_calls))
        if response.reasoning and self.config.shows_reasoning:
            self.emit(ItemCompleted(Reasoning(item_id("reasoning"), response.reasoning)))
        if response.text:
            turn.last_message = response.text
            self.emit(ItemCompleted(AgentMessage(item_id("text"), response.text)))
        return response

    def _audit_request(self, usage: Usage | None, error: str | None = None, retried: bool = False) -> None:
        if self.audit:
            self.audit.model_request(self.config.provider.id, self.config.model or "default",
                                     self.config.provider.base_url, usage, error=error, retried=retried)

    def _finish_structured(self, turn: _TurnState) -> None:
        """Make the final message JSON valid against --output-schema: ask for it, retry once, else fail."""
        schema = self.output_schema
        error = structured_output.validation_error(turn.last_message, schema)
        prompt = structured_output.final_answer_prompt(schema)
        for _attempt in range(2 if error else 0):  # the request, then one retry
            self._append(Message("user", prompt))
            response = self._sample(turn, structured=True)
            error = structured_output.validation_error(response.text, schema)
            if error is None:
                return
            prompt = structured_output.retry_prompt(error)
        if error:
            raise TurnStopped(f"the final message does not match the --output-schema ({error})")

    def _with_recovered_calls(self, response: ModelResponse) -> ModelResponse:
        if response.tool_calls or not response.text:
            return response
        calls = recover_tool_calls(response.text, router.tool_names(self.mcp))
        return replace(response, text="", tool_calls=tuple(calls)) if calls else response

    def _run_tools(self, response: ModelResponse, ctx: router.ToolContext) -> None:
        """Run the calls in order; every call gets an output, even when the turn stops midway."""
        stopped: TurnStopped | None = None
        for call in response.tool_calls:
            if stopped is None and self._cancel.is_set():
                stopped = TurnStopped("the turn was interrupted by the user")
            if stopped is not None:
                output = f"error: not run, {stopped}"
            else:
                if self.audit:
                    self.audit.tool_call(call.name, call.arguments)
                try:
                    output = router.dispatch(call, ctx)
                except TurnStopped as e:
                    stopped, output = e, f"error: {e}"
            if self.config.tool_output_token_limit:  # about 4 bytes a token, as Codex counts
                output = truncate_middle(output, self.config.tool_output_token_limit * 4, max_lines=1 << 30)
            self._append(Message("tool", output, tool_call_id=call.call_id))
        if stopped is not None:
            raise stopped
        self._check_cancel()

    def _complete(self, turn: _TurnState, ctx: router.ToolContext) -> TurnResult:
        if self.output_schema is not None:
            self._finish_structured(turn)
        self._close_plan(ctx)
        elapsed = time.monotonic() - turn.started
        # A rate only over a measurable stream: a reply that arrives in one burst says nothing about generation.
        timed = turn.generation_seconds >= MIN_RATE_SECONDS and turn.usage.output_tokens > 1
        speed = turn.usage.output_tokens / turn.generation_seconds if timed else None
        self.usage += turn.usage
        self.emit(TurnCompleted(turn.usage, int(elapsed * 1000), speed))
        self._notify(turn)
        return TurnResult(True, turn.last_message, turn.usage)

    def _notify(self, turn: _TurnState) -> None:
        """Run config `notify` with Codex's agent-turn-complete JSON (agent/notify.py)."""
        prompt = self._turn_input.content if self._turn_input else ""
        notification = TurnComplete(self.thread_id, str(uuid.uuid4()), self.config.cwd, (prompt,),
                                    turn.last_message or None)
        try:
            run_notify(self.config.notify, notification)
        except NotifyError as e:
            self.emit(Warning(str(e)))

    def _fail(self, turn: _TurnState, ctx: router.ToolContext, message: str) -> TurnResult:
        self._close_plan(ctx)
        self.usage += turn.usage
        self.emit(TurnFailed(message, turn.usage))
        return TurnResult(False, turn.last_message, turn.usage, message)

    def _close_plan(self, ctx: router.ToolContext) -> None:
        if ctx.plan_item is not None:
            self.emit(ItemCompleted(ctx.plan_item))

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise TurnStopped("the turn was interrupted by the user")

    # --- context budget ------------------------------------------------------------------

    def _request(self, structured: bool = False) -> ModelRequest:
        if structured:  # the final answer under --output-schema: no tools, JSON only
            return ModelRequest(self.instructions, tuple(self.history), (), self.config.model_max_output_tokens,
                                output_schema=self.output_schema)
        tools = router.tool_specs(self.mcp, lambda text: self.emit(Warning(text)))
        return ModelRequest(self.instructions, tuple(self.history), tools,
                            self.config.model_max_output_tokens, output_schema=self.output_schema)

    def _context_window(self) -> int | None:
        return getattr(self.client, "context_window", None) or self.config.model_context_window

    def _count(self, request: ModelRequest) -> int:
        count = getattr(self.client, "count_tokens", None)
        return count(request) if count else estimate_tokens(request)

    def _fit_context(self, turn: _TurnState, structured: bool = False) -> ModelRequest:
        """The next request, made to fit the window: old tool outputs shortened first, then compaction."""
        request, window = self._request(structured), self._context_window()
        if not window:
            self.last_prompt_tokens = estimate_tokens(request)
            return request
        limit = self._compaction_threshold(window)
        shortened = compacted = False
        full = 0  # the tokens before anything was shortened, for the warning
        while (tokens := self._count(request)) > limit:
            full = full or tokens
            if context_budget.shorten_oldest_tool_output(self.history):
                shortened = True
            elif not compacted and len(self.history) > self._preamble + 1:
                self.emit(Warning(f"Context {context_budget.percent_used(tokens, window)}% full: compacting the "
                                  "conversation into a summary."))
                turn.usage += self._compact(limit)
                compacted = True
            else:
                raise ContextWindowExceeded(
                    f"The conversation (about {tokens} tokens plus the reply) no longer fits the model's "
                    f"{window}-token context window: start a new session, or raise model_context_window "
                    "(n_ctx for the embedded engine) if the model allows more."
                )
            request = self._request(structured)
        if shortened:
            self.emit(Warning(f"Context {context_budget.percent_used(full, window)}% full: shortened the oldest "
                              "command outputs."))
        self.last_prompt_tokens = tokens
        return request

    def _compaction_threshold(self, window: int) -> int:
        hard = window - context_budget.reply_reserve(window, self.config.model_max_output_tokens)
        auto = self.config.model_auto_compact_token_limit or int(window * 0.9)
        return min(hard, auto)

    def compact(self) -> None:
        """/compact: summarise the thread now (between turns)."""
        window = self._context_window() or DEFAULT_COMPACT_WINDOW
        self._cancel.clear()  # an interrupt of the previous turn does not cancel this
        self._turn_input = None
        self.usage += self._compact(self._compaction_threshold(window))
        self.measure_context()

    def measure_context(self) -> int:
        """Count what the next request would send, for the context figure before any request has gone out
        (a resumed thread) or after /compact; may wait for MCP servers still starting, so not on a UI thread."""
        self.last_prompt_tokens = self._count(self._request())
        return self.last_prompt_tokens

    def _compact(self, limit: int) -> Usage:
        """Replace the history with a model-written summary plus the current request."""
        preamble, body = self.history[: self._preamble], self.history[self._preamble :]
        request = context_budget.summary_request(self.instructions, preamble + body)
        while body and self._count(request) > limit:
            body = _drop_oldest_exchange(body)
            request = context_budget.summary_request(self.instructions, preamble + body)
        summary = ModelResponse()
        for item in self.client.stream(request):
            self._check_cancel()
            if isinstance(item, ModelResponse):
                summary = item
        self.history = context_budget.compacted(preamble, summary.text, self._turn_input)
        if self.store:
            self.store.compacted(self.history, summary.text)
        return summary.usage

    # --- services for front ends -----------------------------------------------------------

    def _before_edit_hook(self, turn_id: str) -> router.BeforeEdit | None:
        if self.store is None:
            return None
        return lambda paths: self.store.undo.before_edit(turn_id, paths)

    def undo(self) -> list[Path]:
        """/undo: restore the files the last turn with edits changed; returns them."""
        if self.store is None:
            raise UserError("Nothing to undo: this session keeps no undo log.")
        return self.store.undo.undo_last()

    def reconfigure(self, config: Config, client: ModelClient | None = None) -> None:
        """Switch approval/sandbox presets or the model between turns (/approvals, /model)."""
        self.config = config
        if client is not None:
            self.client = client
        self._append(Message("user", environment_context(config)))

    def status(self) -> SessionStatus:
        window = self._context_window()
        return SessionStatus(
            thread_id=self.thread_id, model=self.client.describe(), provider=self.config.provider.name,
            endpoint=self.config.provider.base_url or "in-process", sandbox=self.config.sandbox_mode,
            approval=self.config.approval_policy, agents_files=tuple(self.docs.files) if self.docs else (),
            usage=self.usage, context_window=window, context_used=self.last_prompt_tokens,
            rollout=self.store.writer.path if self.store and self.store.writer else None,
        )

    def _new_item_id(self) -> str:
        return f"item_{next(self._ids)}"


def _final_answer(response: ModelResponse, notice: str) -> str:
    """The reply's text if it answers: not a tool call (native or printed as text), no tool markup, and not
    the notice said back (small models repeat it, often reworded: any five words in a row of it count)."""
    text = response.text.strip()
    if not text or recover_tool_calls(text, router.TOOL_NAMES) or re.search(r"</?tool_(call|response)>", text):
        return ""
    return "" if _word_runs(notice) & _word_runs(text) else text


ECHO_RUN = 5
CONTRACTIONS = {"you've": "you have", "you're": "you are", "don't": "do not", "can't": "cannot", "it's": "it is",
                "i've": "i have", "i'm": "i am", "haven't": "have not", "that's": "that is"}


def _word_runs(text: str) -> set[tuple[str, ...]]:
    """Every run of ECHO_RUN consecutive words, lower-cased, contractions spelt out, punctuation dropped."""
    words: list[str] = []
    for word in re.findall(r"[\w']+", text.lower().replace("\u2019", "'")):
        words += CONTRACTIONS.get(word, word).split()
    return {tuple(words[i:i + ECHO_RUN]) for i in range(len(words) - ECHO_RUN + 1)}


def _repeats_itself(response: ModelResponse, turn: _TurnState) -> bool:
    """True when the model made the very same calls LOOP_REPEATS steps in a row (small models do)."""
    turn.calls.append(tuple((c.name, c.arguments) for c in response.tool_calls))
    recent = turn.calls[-LOOP_REPEATS:]
    return len(recent) == LOOP_REPEATS and len(set(recent)) == 1


def with_answered_calls(history: list[Message]) -> list[Message]:
    """A loaded history where every tool call has a result (a killed process leaves some unanswered,
    and APIs reject a call without its result)."""
    repaired: list[Message] = []
    pending: list[str] = []
    for message in history:
        if message.role != "tool" and pending:
            repaired += [Message("tool", INTERRUPTED_OUTPUT, tool_call_id=call_id) for call_id in pending]
            pending = []
        repaired.append(message)
        if message.role == "assistant":
            pending = [c.call_id for c in message.tool_calls]
        elif message.role == "tool" and message.tool_call_id in pending:
            pending.remove(message.tool_call_id)
    repaired += [Message("tool", INTERRUPTED_OUTPUT, tool_call_id=call_id) for call_id in pending]
    return repaired


def _preamble_length(history: list[Message]) -> int:
    """How many leading messages of a loaded history are instructions (AGENTS.md, environment)."""
    count = 0
    for message in history:
        if message.role != "user" or not message.content.startswith(PREAMBLE_TAGS):
            break
        count += 1
    return count


def _drop_oldest_exchange(body: list[Message]) -> list[Message]:
    """Drop the first message and any tool results left without their call (APIs reject those)."""
    rest = body[1:]
    while rest and rest[0].role == "tool":
        rest = rest[1:]
    return rest


def estimate_tokens(request: ModelRequest) -> int:
    tools = json.dumps([t.parameters for t in request.tools])
    body = sum(len(m.content) + sum(len(c.arguments) for c in m.tool_calls) for m in request.messages)
    return (len(request.instructions) + len(tools) + body) // CHARS_PER_TOKEN

