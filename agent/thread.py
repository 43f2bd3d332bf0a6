"""A thread's history: the messages the model is sent, in order, and how a thread begins.

A new thread begins with its preamble (AGENTS.md, then the environment context, each its own user message);
a resumed one is repaired so every tool call has a result. Compaction keeps the preamble verbatim. Every
message goes through the session's `Recorder`, so what is kept is what the model saw (secrets redacted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

from agent.config import Config
from agent.models.base import Message
from agent.recorder import Recorder

PREAMBLE_TAGS = ("<user_instructions>", "<environment_context>")
INTERRUPTED_OUTPUT = "error: the session ended (killed or closed) before this call finished; it may have run partly"


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


@dataclass
class Thread:
    """The messages of one thread; `preamble` leading ones are instructions, kept by compaction."""

    recorder: Recorder
    messages: list[Message] = field(default_factory=list)
    preamble: int = 0

    @classmethod
    def new(cls, recorder: Recorder, config: Config, agents_text: str | None) -> Thread:
        thread = cls(recorder)
        if agents_text:
            thread.append(Message("user", agents_text))
        thread.append(Message("user", environment_context(config)))
        thread.preamble = len(thread.messages)
        return thread

    @classmethod
    def resumed(cls, recorder: Recorder, history: list[Message]) -> Thread:
        return cls(recorder, with_answered_calls(history), preamble_length(history))

    def append(self, message: Message) -> None:
        """Add a message, redacted and recorded: what the model and the rollout see."""
        self.messages.append(self.recorder.message(message))

    def replace(self, messages: list[Message], summary: str) -> None:
        """After compaction: the new history, recorded with the summary it came from."""
        self.messages = messages
        self.recorder.compacted(messages, summary)


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


def preamble_length(history: list[Message]) -> int:
    """How many leading messages of a loaded history are instructions (AGENTS.md, environment)."""
    count = 0
    for message in history:
        if message.role != "user" or not message.content.startswith(PREAMBLE_TAGS):
            break
        count += 1
    return count
