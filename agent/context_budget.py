"""Keeping a conversation inside the model's context window.

When history plus the next reply would not fit, the session first shortens the oldest
tool outputs (they are the bulk of a coding session and the least needed later), then
compacts: the model summarises the thread and the summary replaces the older history.
This module holds the pure parts: what to shorten, what to ask, what history results.
"""

from __future__ import annotations

from dataclasses import replace

from agent.models.base import Message, ModelRequest
from agent.tools.shell import truncate_middle

SHORTENED_MAX_BYTES = 800
SHORTENED_MAX_LINES = 16
SHORTENED_MARK = "[output shortened to save context]\n"
DEFAULT_REPLY_RESERVE = 1024

SUMMARY_PROMPT = (
    "The conversation is about to exceed the context window. Write a concise summary of it for yourself, "
    "to continue the task from: the user's goal, what you did (files changed, commands run and their results), "
    "what you learned about the code, and what remains to do. Answer with the summary only, no tool calls."
)
SUMMARY_PREFIX = "Summary of the conversation so far (older messages were compacted to fit the context window):\n"


def percent_used(tokens: int, window: int) -> int:
    """How full the window is, in the one unit every display uses: whole percent of the window, at most 100."""
    return min(100, round(100 * tokens / window)) if window > 0 else 0


def reply_reserve(window: int, max_output_tokens: int | None) -> int:
    """Tokens kept free for the model's reply."""
    return min(max_output_tokens or DEFAULT_REPLY_RESERVE, window // 4)


def shorten_oldest_tool_output(history: list[Message]) -> bool:
    """Shorten the oldest long tool output in place; False when there is none left to shorten."""
    for index, message in enumerate(history):
        if message.role != "tool" or message.content.startswith(SHORTENED_MARK):
            continue
        short = truncate_middle(message.content, SHORTENED_MAX_BYTES, SHORTENED_MAX_LINES)
        if short != message.content:
            history[index] = replace(message, content=SHORTENED_MARK + short)
            return True
    return False


def summary_request(instructions: str, history: list[Message]) -> ModelRequest:
    return ModelRequest(instructions, (*history, Message("user", SUMMARY_PROMPT)))


def compacted(preamble: list[Message], summary: str, last_user: Message | None) -> list[Message]:
    """The history after compaction: instructions and environment, the summary, the current request."""
    history = [*preamble, Message("user", SUMMARY_PREFIX + summary.strip())]
    if last_user is not None:
        history.append(last_user)
    return history
