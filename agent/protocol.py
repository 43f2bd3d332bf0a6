"""The contract between the core and its front ends: operations in, events out.

Front ends (the TUI, `codex exec`, tests) send `Op`s to a `Session` and render the
`Event`s it emits; they never reach into the session's state. `event_to_json` gives the
`codex exec --json` form (../shared/spec/exec-json.md); fields we add beyond the spec are
extensions only (extra fields such as `duration_ms`), never changed meanings.

This module holds data only: no I/O, no policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

# --- policy names: spelled once, here -------------------------------------------------

ApprovalPolicy = Literal["untrusted", "on-failure", "on-request", "never"]
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = get_args(ApprovalPolicy)
SANDBOX_MODES: tuple[SandboxMode, ...] = get_args(SandboxMode)

# --- items: the things a turn produces -------------------------------------------------


@dataclass
class AgentMessage:
    id: str
    text: str = ""
    type: Literal["agent_message"] = "agent_message"


@dataclass
class Reasoning:
    id: str
    text: str = ""
    type: Literal["reasoning"] = "reasoning"


CommandStatus = Literal["in_progress", "completed", "failed", "declined"]


@dataclass
class CommandExecution:
    id: str
    command: str
    cwd: str = ""
    aggregated_output: str = ""
    exit_code: int | None = None
    status: CommandStatus = "in_progress"
    duration_ms: int | None = None
    sandboxed: bool | None = None
    reason: str | None = None  # why it was declined
    type: Literal["command_execution"] = "command_execution"


@dataclass
class PathChange:
    path: str
    kind: Literal["add", "delete", "update"]


@dataclass
class FileChangeItem:
    id: str
    changes: list[PathChange] = field(default_factory=list)
    status: Literal["in_progress", "completed", "failed", "declined"] = "in_progress"
    error: str | None = None
    diff: str | None = None  # the unified diff, for front ends; not part of `exec --json`
    type: Literal["file_change"] = "file_change"


@dataclass
class TodoEntry:
    text: str
    completed: bool
    status: str = "pending"


@dataclass
class TodoList:
    id: str
    items: list[TodoEntry] = field(default_factory=list)
    explanation: str | None = None
    type: Literal["todo_list"] = "todo_list"


@dataclass
class ErrorItem:
    id: str
    message: str
    type: Literal["error"] = "error"


@dataclass
class McpToolCallResult:
    """What an MCP tool returned: its content blocks as MCP sends them, and its structured content."""

    content: list[Any] = field(default_factory=list)
    structured_content: Any = None


@dataclass
class McpToolCallError:
    message: str


@dataclass
class McpToolCall:
    """A call to a tool of an MCP server (`[mcp_servers.<server>]`); Codex's `mcp_tool_call` item. A call that
    was declined or failed before the server answered has status "failed" and an `error`."""

    id: str
    server: str
    tool: str
    arguments: Any = None
    result: McpToolCallResult | None = None
    error: McpToolCallError | None = None
    status: Literal["in_progress", "completed", "failed"] = "in_progress"
    duration_ms: int | None = None
    type: Literal["mcp_tool_call"] = "mcp_tool_call"


Item = AgentMessage | Reasoning | CommandExecution | FileChangeItem | TodoList | ErrorItem | McpToolCall

# --- events: what the core tells front ends ---------------------------------------------


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    cache_write_input_tokens: int = 0  # input written to a prompt cache (Codex 0.163); 0 where nobody reports it

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_output_tokens + other.reasoning_output_tokens,
            self.cache_write_input_tokens + other.cache_write_input_tokens,
        )


@dataclass(frozen=True)
class ThreadStarted:
    thread_id: str
    type: str = "thread.started"


@dataclass(frozen=True)
class TurnStarted:
    type: str = "turn.started"


@dataclass(frozen=True)
class ItemStarted:
    item: Item
    type: str = "item.started"


@dataclass(frozen=True)
class ItemUpdated:
    item: Item
    type: str = "item.updated"


@dataclass(frozen=True)
class ItemCompleted:
    item: Item
    type: str = "item.completed"


@dataclass(frozen=True)
class TextDelta:
    """Streamed text of an agent message or reasoning item (for live rendering; not in --json)."""

    item_id: str
    delta: str
    kind: Literal["agent_message", "reasoning"] = "agent_message"
    type: str = "item.delta"


@dataclass(frozen=True)
class OutputDelta:
    """A chunk of a running command's output (for live rendering; not in --json)."""

    item_id: str
    chunk: str
    type: str = "command.output_delta"


@dataclass(frozen=True)
class TurnCompleted:
    usage: Usage
    duration_ms: int = 0
    tokens_per_second: float | None = None
    last_agent_message: str | None = None  # the turn's final message (Codex's TaskComplete); not in --json
    type: str = "turn.completed"


# Why a turn ended without completing: the user interrupted it; the model or its server failed (a request, a
# stream, a model that cannot be loaded); the conversation no longer fits the window; the final message does not
# match --output-schema; anything else a user can fix (a config or file error, named in the message).
TurnFailureReason = Literal["interrupted", "model_error", "context_window", "output_schema", "error"]


@dataclass(frozen=True)
class TurnFailed:
    message: str
    usage: Usage = Usage()
    reason: TurnFailureReason = "error"  # not in --json, whose turn.failed has only the message
    type: str = "turn.failed"


@dataclass(frozen=True)
class Warning:
    """Something the user should know that does not stop the turn (a config warning, a refused command)."""

    message: str
    type: str = "warning"


@dataclass(frozen=True)
class Status:
    """Progress outside the model's reply, e.g. "loading SmolLM2 (98 MB)"; for display only."""

    message: str
    type: str = "status"


@dataclass(frozen=True)
class ApprovalRequested:
    """The turn waits until a front end answers with `ApprovalDecision(request_id, …)`.

    Not part of `exec --json` (Codex has no such event there); the command or file change item
    that follows carries the outcome (status "declined" with a `reason`).
    """

    request_id: str
    kind: Literal["command", "patch"]
    reason: str
    command: str | None = None
    cwd: str | None = None
    justification: str | None = None
    danger_flags: tuple[str, ...] = ()
    diff: str | None = None
    paths: tuple[str, ...] = ()
    type: str = "approval.requested"


@dataclass(frozen=True)
class Error:
    """A fatal error outside a turn (the session cannot continue)."""

    message: str
    type: str = "error"


Event = (
    ThreadStarted
    | TurnStarted
    | ItemStarted
    | ItemUpdated
    | ItemCompleted
    | TextDelta
    | OutputDelta
    | TurnCompleted
    | TurnFailed
    | Warning
    | Status
    | ApprovalRequested
    | Error
)

@dataclass(frozen=True)
class UserPrompt:
    """A prompt the user sent earlier in the thread: only in a resumed thread's `initial_events` (Codex's
    `UserMessage` event; the rollout stores prompts apart from the events)."""

    text: str
    type: str = "user_message"


@dataclass(frozen=True)
class SessionStatus:
    """What /status shows: the answer to `GetStatus`."""

    thread_id: str
    model: str
    provider: str
    endpoint: str
    sandbox: SandboxMode
    approval: ApprovalPolicy
    agents_files: tuple[Path, ...]
    usage: Usage
    context_window: int | None
    context_used: int
    rollout: Path | None


@dataclass(frozen=True)
class SessionConfigured:
    """Emitted once by `Session.start`, before anything else of the thread is shown: what a front end needs to
    draw it. `initial_events` are a resumed thread's stored events (to redraw its transcript), `prompt_history`
    the user's earlier prompts (the composer's Up key), `status` as `GetStatus` would answer."""

    status: SessionStatus
    prompt_history: tuple[str, ...] = ()
    initial_events: tuple[Event, ...] = ()
    resumed: bool = False
    type: str = "session.configured"


@dataclass(frozen=True)
class StatusReport:
    status: SessionStatus
    type: str = "session.status"


@dataclass(frozen=True)
class TurnContextChanged:
    """`OverrideTurnContext` took effect: the turns from now on use this model and these policies."""

    status: SessionStatus
    type: str = "turn_context.changed"


@dataclass(frozen=True)
class ContextCompacted:
    """`Compact` replaced the history with a summary; the context used before and after, in tokens."""

    tokens_before: int
    tokens_after: int
    context_window: int | None
    type: str = "context.compacted"


@dataclass(frozen=True)
class UndoCompleted:
    """`Undo` put back the files the last turn with edits changed: `restored` to their earlier content, `removed`
    (files that turn added) deleted again."""

    restored: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    type: str = "undo.completed"


@dataclass(frozen=True)
class OperationFailed:
    """An operation other than a turn could not be done (nothing to undo, a model that does not load, a
    compaction the server refused); the session goes on. One sentence, with the fix."""

    operation: Literal["compact", "undo", "override_turn_context", "status"]
    message: str
    type: str = "operation.failed"


@dataclass(frozen=True)
class ShutdownComplete:
    """`Shutdown` is done: the rollout is closed; `resume_hint` says how to continue the thread (None when the
    session kept nothing to resume from)."""

    resume_hint: str | None = None
    type: str = "shutdown.complete"


Event = (
    Event
    | UserPrompt
    | SessionConfigured
    | StatusReport
    | TurnContextChanged
    | ContextCompacted
    | UndoCompleted
    | OperationFailed
    | ShutdownComplete
)

# Events that exist for front ends only; `exec --json` leaves them out to keep Codex's schema.
DISPLAY_ONLY = (TextDelta, OutputDelta, Warning, Status, ApprovalRequested, UserPrompt, SessionConfigured, StatusReport,
                TurnContextChanged, ContextCompacted, UndoCompleted, OperationFailed, ShutdownComplete)

# --- operations: what front ends tell the core ------------------------------------------


@dataclass(frozen=True)
class UserInput:
    """Run a turn on this prompt; `images` are paths of local image files (`--image`, Codex's `local_image`
    input), sent as `data:` URLs, or dropped with a warning where the model cannot see them."""

    text: str
    images: tuple[str, ...] = ()
    type: str = "user_input"


@dataclass(frozen=True)
class Interrupt:
    type: str = "interrupt"


Decision = Literal["approve", "approve_session", "deny", "abort"]


@dataclass(frozen=True)
class ApprovalDecision:
    """The answer to an `ApprovalRequested`: approve once, approve for the session, deny, or deny and stop."""

    request_id: str
    decision: Decision
    type: str = "approval_decision"


@dataclass(frozen=True)
class Compact:
    """Summarise the thread now (/compact); answered by `ContextCompacted` or `OperationFailed`."""

    type: str = "compact"


@dataclass(frozen=True)
class Undo:
    """Put back the files the last turn with edits changed (/undo); answered by `UndoCompleted` or
    `OperationFailed`."""

    type: str = "undo"


@dataclass(frozen=True)
class OverrideTurnContext:
    """Change the policies or the model for the turns that follow (/approvals, /model); None keeps a setting.
    `provider` is a `[model_providers]` id; a new model is loaded before `TurnContextChanged` is emitted."""

    approval_policy: ApprovalPolicy | None = None
    sandbox_mode: SandboxMode | None = None
    provider: str | None = None
    model: str | None = None
    type: str = "override_turn_context"


@dataclass(frozen=True)
class GetStatus:
    """Ask for a `StatusReport`."""

    type: str = "get_status"


@dataclass(frozen=True)
class Shutdown:
    """End the session: close its rollout; answered by `ShutdownComplete`."""

    type: str = "shutdown"


Op = UserInput | Interrupt | ApprovalDecision | Compact | Undo | OverrideTurnContext | GetStatus | Shutdown

# --- JSON form ---------------------------------------------------------------------------


def item_to_json(item: Item) -> dict[str, Any]:
    data = asdict(item)
    data = {"id": data.pop("id"), "type": data.pop("type"), **data}
    if isinstance(item, TodoList):
        data["items"] = [{"text": e.text, "completed": e.completed} for e in item.items]
    data.pop("diff", None)
    if isinstance(item, FileChangeItem) and item.status == "declined":
        data["status"], data["declined"] = "failed", True  # Codex's (and the SDK's) status is completed | failed
    kept = ("result", "error") if isinstance(item, McpToolCall) else ("exit_code",)  # null in Codex's form too
    return {k: v for k, v in data.items() if v is not None or k in kept}


def usage_to_json(usage: Usage) -> dict[str, int]:
    """`turn.completed.usage` with Codex 0.163's fields in its order."""
    return {"input_tokens": usage.input_tokens, "cached_input_tokens": usage.cached_input_tokens,
            "cache_write_input_tokens": usage.cache_write_input_tokens, "output_tokens": usage.output_tokens,
            "reasoning_output_tokens": usage.reasoning_output_tokens}


def _plain(value: Any) -> Any:
    """JSON's types only: paths as strings, tuples as lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def event_to_json(event: Event) -> dict[str, Any]:
    """The `codex exec --json` line for an event (../shared/spec/exec-json.md)."""
    match event:
        case ItemStarted(item=item) | ItemUpdated(item=item) | ItemCompleted(item=item):
            return {"type": event.type, "item": item_to_json(item)}
        case TurnCompleted(usage=usage):
            body: dict[str, Any] = {"type": event.type, "usage": usage_to_json(usage)}
            body["duration_ms"] = event.duration_ms
            if event.tokens_per_second is not None:
                body["tokens_per_second"] = round(event.tokens_per_second, 2)
            return body
        case TurnFailed(message=message):
            return {"type": event.type, "error": {"message": message}}
        case SessionConfigured() | StatusReport() | TurnContextChanged():
            return {"type": event.type}  # about the process, not the thread: neither in --json nor stored
        case _:
            return {"type": event.type} | _plain(asdict(event))


@dataclass(frozen=True)
class ModelWaiting(Status):
    """Nothing has come from the model for `seconds` (a server or the embedded engine evaluating a long prompt);
    `seconds == 0` says the wait is over. A `Status`, so it is display only and front ends that know only
    `Status` show its message; exec redraws it in place."""

    seconds: int = 0
    type: str = "model.waiting"


@dataclass(frozen=True)
class ServiceFlag:
    """A `codex exec` flag that only OpenAI's service uses (`--thread-source`, `--cyber-access-program`, which the
    Codex SDK passes): accepted, kept in the session's rollout, no effect here. Not in `exec --json`, where Codex
    has no such event."""

    flag: str
    value: str
    type: str = "service_flag"


DISPLAY_ONLY = (*DISPLAY_ONLY, ServiceFlag)
