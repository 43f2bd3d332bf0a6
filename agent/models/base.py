"""The one interface every model back end implements, and the neutral data it speaks.

The session keeps history as `Message`s; each back end (chat, responses, embedded) turns
them into its own wire format and streams back `TextChunk`/`ReasoningChunk`s followed by
exactly one `ModelResponse`. They may also yield `Waiting` while nothing comes (a server or the
engine evaluating the prompt) and `Retrying` when a reply starts over after a transport failure
(what streamed before it is not part of the reply).
Back ends never run tools or decide policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agent.errors import UserError
from agent.protocol import Usage


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # the raw JSON text the model produced; may be invalid


@dataclass(frozen=True)
class Message:
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    images: tuple[str, ...] = ()  # data: URLs of images attached to a user message (`codex exec --image`)
    notice: bool = False  # a user-role message the session wrote itself (the loop guard's), not a request


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ModelRequest:
    instructions: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_output_tokens: int | None = None
    # "required": the reply must be a tool call; "none": it must be text (endpoints get no tools at all, the
    # embedded engine keeps them in its prompt, so the cached prefix holds, and decodes the answer branch only)
    tool_choice: Literal["auto", "required", "none"] = "auto"
    output_schema: dict[str, Any] | None = None  # the reply must be JSON valid against this schema


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class ReasoningChunk:
    text: str


@dataclass(frozen=True)
class ModelResponse:
    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    generation_seconds: float | None = None  # first to last generated token, when the back end knows it
    # the reply stopped at the output cap (chat finish_reason "length", responses incomplete max_output_tokens,
    # Ollama done_reason "length"): what arrived is only its start
    truncated: bool = False
    warnings: tuple[str, ...] = ()  # one sentence each, for the user (e.g. the server cut the prompt); each once


@dataclass(frozen=True)
class Waiting:
    """The server has sent nothing for `seconds` (servers send nothing while they read a long prompt);
    `seconds == 0` says the wait is over. `message` is the status line to show."""

    seconds: int
    message: str


@dataclass(frozen=True)
class Retrying:
    """The reply failed in transport and is requested again; text streamed before this is not part of it.
    `message` says what failed and which attempt comes next."""

    message: str


StreamItem = TextChunk | ReasoningChunk | Waiting | Retrying | ModelResponse


class ModelClient(Protocol):
    """A model back end. `stream` yields chunks, then one final `ModelResponse`."""

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]: ...

    def describe(self) -> str:
        """One line for status displays: provider, model and where it runs."""
        ...


class ModelUnavailable(UserError):
    """The model cannot be reached or loaded; the message says what to start or fix."""

    turn_failure = "model_error"


class ContextWindowExceeded(UserError):
    """The request does not fit the model's context window."""

    turn_failure = "context_window"


class ModelRequestFailed(UserError):
    """The server answered with an error the session cannot recover from."""

    turn_failure = "model_error"
