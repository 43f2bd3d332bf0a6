"""A `Session` is one thread of turns, driven only by `submit(op)` and observed only through the events it
emits (agent/protocol.py): the whole contract of every front end (the TUI, `codex exec`, `codex mcp-server`).

`submit` runs `UserInput`, `Compact`, `Undo`, `OverrideTurnContext` and `Shutdown` on the caller's thread
(front ends call it from a worker) and returns when they are done; `Interrupt`, `ApprovalDecision` and
`GetStatus` may come from any thread at any time and return at once. The turn itself is agent/turn.py.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agent.config import Config
from agent.context_budget import ContextBudget, context_window
from agent.errors import TurnStopped, UserError
from agent.instructions import ProjectDocs, with_developer_instructions
from agent.models.base import Message, ModelClient, ModelRequest, ModelResponse
from agent.protocol import (
    ApprovalDecision,
    ApprovalRequested,
    Compact,
    ContextCompacted,
    Decision,
    Event,
    GetStatus,
    Interrupt,
    Op,
    OperationFailed,
    OverrideTurnContext,
    ServiceFlag,
    SessionConfigured,
    SessionStatus,
    Shutdown,
    ShutdownComplete,
    Status,
    StatusReport,
    ThreadStarted,
    TurnContextChanged,
    Undo,
    UndoCompleted,
    Usage,
    UserInput,
    Warning,
)
from agent.recorder import Recorder
from agent.safety.approval import SessionApprovals
from agent.thread import Thread, base_instructions, environment_context
from agent.tools import registry
from agent.turn import INTERRUPTED, Turn

# Loads the config and model client an `OverrideTurnContext` with a model or provider asks for, showing its
# progress lines through the callable (agent/session_open.py makes one that knows the command line's overrides).
Reload = Callable[[OverrideTurnContext, Config, Callable[[str], None]], tuple[Config, ModelClient]]


@dataclass
class SessionSetup:
    """How a session begins (agent/session_open.py fills it in): a new thread (`history` None) or a resumed
    one, what it keeps (`recorder`: none by default), and what it was started with."""

    docs: ProjectDocs | None = None
    thread_id: str | None = None
    recorder: Recorder | None = None
    history: list[Message] | None = None
    initial_events: tuple[Event, ...] = ()
    output_schema: dict | None = None
    mcp: Any = None  # agent.mcp.connections.McpConnections: their tools join the built-in ones
    base_instructions: str | None = None
    service_flags: Mapping[str, str] = field(default_factory=dict)  # recorded, no effect (agent.protocol)
    reload: Reload | None = None


class Session:
    def __init__(self, config: Config, client: ModelClient, emit: Callable[[Event], None],
                 setup: SessionSetup | None = None):
        setup = setup or SessionSetup()
        self.config, self.client, self._emit, self.setup = config, client, emit, setup
        self.thread_id = setup.thread_id or str(uuid.uuid4())
        self.recorder = setup.recorder or Recorder.null(config)
        self.output_schema, self.mcp = setup.output_schema, setup.mcp
        self.instructions = with_developer_instructions(setup.base_instructions or base_instructions(),
                                                        config.developer_instructions)
        if setup.history is None:
            self.thread = Thread.new(self.recorder, config, setup.docs.text if setup.docs else None)
        else:
            self.thread = Thread.resumed(self.recorder, setup.history)
        self.budget = ContextBudget(self.thread, lambda: self.instructions, lambda text: self.emit(Warning(text)))
        self.usage = Usage()  # the whole thread's
        self.cancel = threading.Event()
        self.approvals = SessionApprovals()
        self._turns = itertools.count(1)
        self._ids = itertools.count(1)
        self._decisions: dict[str, Decision] = {}
        self._decided = threading.Condition()

    # --- the contract ---------------------------------------------------------------------------

    def start(self) -> None:
        """Announce the thread; front ends draw it from `SessionConfigured` (before any other event)."""
        if self.setup.history is not None:
            self.budget.measure(self.request(), self.client)  # the resumed thread's context figure
        self.emit(SessionConfigured(self.status(), self.recorder.prompt_history(), self.setup.initial_events,
                                    resumed=self.setup.history is not None))
        self.emit(ThreadStarted(self.thread_id))
        for flag, value in self.setup.service_flags.items():
            self.emit(ServiceFlag(flag, value))  # kept in the rollout
            self.emit(Status(f"{flag} {value} recorded; only OpenAI's service uses it, so it changes nothing here"))
        registry.warm_up(self.config)

    def submit(self, op: Op) -> None:
        match op:
            case UserInput(text=text, images=images):
                self.cancel.clear()
                Turn(self, text, self._visible_images(images), next(self._turns)).run()
            case Interrupt():
                self.cancel.set()
                with self._decided:
                    self._decided.notify_all()
            case ApprovalDecision(request_id=request_id, decision=decision):
                self.recorder.decision(op)
                with self._decided:
                    self._decisions[request_id] = decision
                    self._decided.notify_all()
            case GetStatus():
                self.emit(StatusReport(self.status()))
            case Compact():
                self._operation("compact", self._compact)
            case Undo():
                self._operation("undo", self._undo)
            case OverrideTurnContext():
                self._operation("override_turn_context", lambda: self._override(op))
            case Shutdown():
                hint = self._resume_hint()
                self.recorder.close()
                self._emit(ShutdownComplete(hint))  # after the close: not part of the thread's record

    # --- what the turn uses ------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self._emit(self.recorder.event(event))

    def ask(self, request: ApprovalRequested) -> Decision:
        """Emit the request and wait for a front end's decision; an interrupt counts as "abort"."""
        self.emit(request)
        with self._decided:
            self._decided.wait_for(lambda: request.request_id in self._decisions or self.cancel.is_set())
            return self._decisions.pop(request.request_id, "abort")

    def new_item_id(self) -> str:
        return f"item_{next(self._ids)}"

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise TurnStopped(INTERRUPTED)

    def summarise(self, request: ModelRequest) -> ModelResponse:
        """Stream a compaction request to its response (an interrupt stops it)."""
        summary = ModelResponse()
        for item in self.client.stream(request):
            self.check_cancel()
            if isinstance(item, ModelResponse):
                summary = item
        return summary

    # --- operations besides turns ---------------------------------------------------------------

    def _operation(self, name: str, run: Callable[[], None]) -> None:
        self.cancel.clear()  # an interrupt of the previous turn does not cancel this
        try:
            run()
        except (UserError, TurnStopped) as e:
            self.emit(OperationFailed(name, str(e)))  # type: ignore[arg-type]

    def _compact(self) -> None:
        before = self.budget.last_prompt_tokens
        self.usage += self.budget.compact_now(self.client, self.config, self.summarise)
        after = self.budget.measure(self.request(), self.client)
        self.emit(ContextCompacted(before, after, context_window(self.client, self.config)))

    def _undo(self) -> None:
        paths = self.recorder.undo_last()
        self.emit(UndoCompleted(tuple(p for p in paths if p.exists()), tuple(p for p in paths if not p.exists())))

    def _override(self, op: OverrideTurnContext) -> None:
        """Switch approval/sandbox presets or the model between turns (/approvals, /model)."""
        if op.provider is not None or op.model is not None:
            if self.setup.reload is None:
                raise UserError("This session cannot switch models: start a new one with --model.")
            config, client = self.setup.reload(op, self.config, lambda line: self.emit(Status(line)))
        else:
            config, client = self.config, self.client
        self.config = replace(config, approval_policy=op.approval_policy or config.approval_policy,
                              sandbox_mode=op.sandbox_mode or config.sandbox_mode)
        self.client = client
        self.thread.append(Message("user", environment_context(self.config)))
        self.emit(TurnContextChanged(self.status()))

    def status(self) -> SessionStatus:
        docs = self.setup.docs
        return SessionStatus(
            thread_id=self.thread_id, model=self.client.describe(), provider=self.config.provider.name,
            endpoint=self.config.provider.base_url or "in-process", sandbox=self.config.sandbox_mode,
            approval=self.config.approval_policy, agents_files=tuple(docs.files) if docs else (),
            usage=self.usage, context_window=context_window(self.client, self.config),
            context_used=self.budget.last_prompt_tokens, rollout=self.recorder.rollout_path,
        )

    def request(self, structured: bool = False) -> ModelRequest:
        """What the next request sends (`structured`: the final answer under --output-schema, without tools);
        may wait for MCP servers still starting."""
        tools = () if structured else registry.tool_specs(self.mcp, lambda text: self.emit(Warning(text)))
        return ModelRequest(self.instructions, tuple(self.thread.messages), tools, self.config.model_max_output_tokens,
                            output_schema=self.output_schema)

    def _visible_images(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        """The prompt's images the model can see (a warning, before the turn, for those it cannot)."""
        if paths and self.config.provider.base_url is None:
            self.emit(Warning(f"The embedded engine's model cannot see images, so --image {', '.join(paths)} was "
                              "not sent to it; use an endpoint with a vision model for images."))
            return ()
        return paths

    def _resume_hint(self) -> str | None:
        if self.recorder.rollout_path is None:
            return None
        return f"To continue this session, run codex resume {self.thread_id}"
