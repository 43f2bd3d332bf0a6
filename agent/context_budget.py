"""Keeping a conversation inside the model's context window.

When history plus the next reply would not fit, the session first shortens the oldest
tool outputs (they are the bulk of a coding session and the least needed later), then
compacts: the model summarises the thread and the summary replaces the older history.
The pure parts (what to shorten, what to ask, what history results) are functions; `ContextBudget` applies
them to a thread before each request and for /compact, and remembers how full the last request was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agent.config import Config
from agent.models.base import ContextWindowExceeded, Message, ModelClient, ModelRequest, ModelResponse
from agent.models.server_info import estimate_prompt_tokens as estimate_tokens
from agent.models.server_info import output_cap
from agent.protocol import Usage
from agent.thread import Thread
from agent.tools.truncation import truncate_middle

SHORTENED_MAX_BYTES = 800
SHORTENED_MAX_LINES = 16
SHORTENED_MARK = "[output shortened to save context]\n"

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
    """Tokens kept free for the model's reply: the output cap every request carries, at most a quarter of the
    window."""
    return min(output_cap(max_output_tokens, window), window // 4)


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
    return ModelRequest(instructions, (*history, Message("user", SUMMARY_PROMPT, notice=True)))


def compacted(preamble: list[Message], summary: str, last_user: Message | None) -> list[Message]:
    """The history after compaction: instructions and environment, the summary, the current request."""
    history = [*preamble, Message("user", SUMMARY_PREFIX + summary.strip(), notice=True)]
    if last_user is not None:
        history.append(last_user)
    return history


DEFAULT_COMPACT_WINDOW = 32768  # /compact on an endpoint whose window we do not know

Summarise = Callable[[ModelRequest], ModelResponse]  # streams a summary request (cancellable) to its response
Warn = Callable[[str], None]


def context_window(client: ModelClient, config: Config) -> int | None:
    """The model's window: what the back end knows (a loaded model, a server's report), else the config's."""
    return getattr(client, "context_window", None) or config.model_context_window


def count_tokens(client: ModelClient, request: ModelRequest) -> int:
    count = getattr(client, "count_tokens", None)
    return count(request) if count else estimate_tokens(request)


def compaction_threshold(window: int, config: Config) -> int:
    hard = window - reply_reserve(window, config.model_max_output_tokens)
    auto = config.model_auto_compact_token_limit or int(window * 0.9)
    return min(hard, auto)


class ContextBudget:
    """Makes each request fit the window: old tool outputs shortened first, then the thread compacted."""

    def __init__(self, thread: Thread, instructions: Callable[[], str], warn: Warn):
        self.thread = thread
        self.instructions = instructions
        self.warn = warn
        self.last_prompt_tokens = 0  # what the last request sent (or would send), for the context figure

    def fit(self, build: Callable[[], ModelRequest], client: ModelClient, config: Config, summarise: Summarise,
            turn_input: Message | None) -> tuple[ModelRequest, Usage]:
        """The request `build` makes, made to fit; and the usage of a compaction it needed."""
        request, window, usage = build(), context_window(client, config), Usage()
        if not window:
            self.last_prompt_tokens = estimate_tokens(request)
            return request, usage
        limit = compaction_threshold(window, config)
        shortened = compacted = False
        full = 0  # the tokens before anything was shortened, for the warning
        while (tokens := count_tokens(client, request)) > limit:
            full = full or tokens
            if shorten_oldest_tool_output(self.thread.messages):
                shortened = True
            elif not compacted and len(self.thread.messages) > self.thread.preamble + 1:
                self.warn(f"Context {percent_used(tokens, window)}% full: compacting the conversation into a "
                          "summary.")
                usage += self.compact(limit, client, summarise, turn_input)
                compacted = True
            else:
                raise ContextWindowExceeded(
                    f"The conversation (about {tokens} tokens plus the reply) no longer fits the model's "
                    f"{window}-token context window: start a new session, or raise model_context_window "
                    "(n_ctx for the embedded engine) if the model allows more."
                )
            request = build()
        if shortened:
            self.warn(f"Context {percent_used(full, window)}% full: shortened the oldest command outputs.")
        self.last_prompt_tokens = tokens
        return request, usage

    def compact(self, limit: int, client: ModelClient, summarise: Summarise, turn_input: Message | None) -> Usage:
        """Replace the history with a model-written summary plus the current request (if a turn is running)."""
        thread = self.thread
        preamble, body = thread.messages[: thread.preamble], thread.messages[thread.preamble :]
        request = summary_request(self.instructions(), preamble + body)
        while body and count_tokens(client, request) > limit:
            body = _drop_oldest_exchange(body)
            request = summary_request(self.instructions(), preamble + body)
        summary = summarise(request)
        thread.replace(compacted(preamble, summary.text, turn_input), summary.text)
        return summary.usage

    def compact_now(self, client: ModelClient, config: Config, summarise: Summarise) -> Usage:
        """/compact between turns, on the window the model has (or a default where it is unknown)."""
        window = context_window(client, config) or DEFAULT_COMPACT_WINDOW
        return self.compact(compaction_threshold(window, config), client, summarise, None)

    def measure(self, request: ModelRequest, client: ModelClient) -> int:
        self.last_prompt_tokens = count_tokens(client, request)
        return self.last_prompt_tokens


def _drop_oldest_exchange(body: list[Message]) -> list[Message]:
    """Drop the first message and any tool results left without their call (APIs reject those)."""
    rest = body[1:]
    while rest and rest[0].role == "tool":
        rest = rest[1:]
    return rest
