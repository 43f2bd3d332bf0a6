"""The one interface every model back end implements, and the neutral data it speaks.

The session keeps history as `Message`s; each back end (chat, responses, embedded) turns
them into its own wire format and streams back `TextChunk`/`ReasoningChunk`s followed by
exactly one `ModelResponse`. Back ends never run tools or decide policy.
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
    tool_choice: Literal["auto", "required"] = "auto"  # "required": the reply must be a tool call
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


StreamItem = TextChunk | ReasoningChunk | ModelResponse


class ModelClient(Protocol):
    """A model back end. `stream` yields chunks, then one final `ModelResponse`."""

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]: ...

    def describe(self) -> str:
        """One line for status displays: provider, model and where it runs."""
        ...


class ModelUnavailable(UserError):
    """The model cannot be reached or loaded; the message says what to start or fix."""


class ContextWindowExceeded(UserError):
    """The request does not fit the model's context window."""


class ModelRequestFailed(UserError):
    """The server answered with an error the session cannot recover from."""
