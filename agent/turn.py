"""The turn loop: send history + tools, stream the reply, run the tool calls, repeat until the model answers
without a tool call.

One `Turn` per `UserInput`. Anything that ends it early (an interrupt, "deny and stop", a model, context or
schema error) is an exception caught in `run` and reported as `turn.failed` with its typed reason; a turn
that would not end (the loop guard, the step limit) gets one more request with tools off. What is kept of it
goes through the session's `Recorder`; the window through its `ContextBudget`; the schema retry through
agent/structured_output.py; the tools through agent/tools/registry.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from agent import structured_output, turn_end
from agent.config import Config
from agent.errors import TurnStopped, UserError
from agent.images import image_data_url
from agent.models.base import Message, ModelRequest, ModelResponse, ReasoningChunk, Retrying, TextChunk, Waiting
from agent.models.text_tool_calls import recover_tool_calls
from agent.notify import NotifyError, TurnComplete, run_notify
from agent.protocol import (
    AgentMessage,
    ErrorItem,
    ItemCompleted,
    ModelWaiting,
    Reasoning,
    TextDelta,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    Warning,
)
from agent.tools import registry
from agent.tools.context import ToolContext

if TYPE_CHECKING:
    from agent.session import Session

OnText = Callable[[TextChunk | ReasoningChunk | None], None]
MIN_RATE_SECONDS = 0.05  # tokens_per_second needs a generation at least this long to be a rate
INTERRUPTED = "the turn was interrupted by the user"


class Turn:
    def __init__(self, session: Session, text: str, image_paths: tuple[str, ...], number: int):
        self.session = session
        self.input = Message("user", text)
        self.image_paths = image_paths
        self.started = time.monotonic()
        self.usage = Usage()
        self.generation_seconds = 0.0
        self.last_message = ""
        self.calls: list[turn_end.CallSignature] = []  # each step's calls, for the loop guard
        s = session
        self.tools = ToolContext(s.config, s.emit, s.new_item_id, s.cancel, s.ask, s.approvals,
                                 before_edit=s.recorder.before_edit(f"turn-{number}"), mcp=s.mcp,
                                 audit=s.recorder.audit)

    def run(self) -> None:
        s = self.session
        s.emit(TurnStarted())
        s.recorder.prompt(self.input.content)
        try:
            self.input = replace(self.input, images=tuple(image_data_url(Path(p)) for p in self.image_paths))
            s.thread.append(self.input)
            for _ in range(s.config.max_turn_steps):
                response = self._sample()
                if not response.tool_calls:
                    return self._complete()
                self._run_tools(response)
                if turn_end.repeats_itself(self.calls, response):
                    return self._answer_now(turn_end.LOOP_NOTICE)
            s.emit(ItemCompleted(ErrorItem(s.new_item_id(), turn_end.step_limit_message(s.config))))
            return self._answer_now(turn_end.STEP_LIMIT_NOTICE)
        except (UserError, TurnStopped) as e:
            return self._fail(str(e), e.turn_failure)

    # --- requests ---------------------------------------------------------------------------

    def _fitted(self, structured: bool = False) -> ModelRequest:
        s = self.session
        request, usage = s.budget.fit(lambda: s.request(structured), s.client, s.config, s.summarise,
                                      self.input)
        self.usage += usage
        return request

    def _stream(self, request: ModelRequest, on_text: OnText | None = None) -> ModelResponse:
        """Stream a request to its response, showing waits and retries; audited, failed or not. `on_text` gets
        each text or reasoning chunk, and None when a retried reply starts over."""
        s = self.session
        response = ModelResponse()
        try:
            for item in s.client.stream(request):
                s.check_cancel()
                if isinstance(item, Waiting | Retrying):
                    self._show_transport(item)
                    if on_text is not None and isinstance(item, Retrying):
                        on_text(None)  # the reply starts over
                elif isinstance(item, ModelResponse):
                    response = item
                elif on_text is not None:
                    on_text(item)
        except (UserError, TurnStopped) as e:  # a failed request is audited too, with the sentence the user sees
            s.recorder.model_request(s.config, None, str(e))
            raise
        self.usage += response.usage
        s.recorder.model_request(s.config, response.usage)
        for text in response.warnings:  # said once per session by the back end (a cut prompt, no streaming)
            s.emit(Warning(text))
        if response.truncated:
            s.emit(Warning(truncated_reply_warning(s.config)))
        return response

    def _show_transport(self, item: Waiting | Retrying) -> None:
        """A wait for a silent server (a live status) or a retried reply (a warning, and an audit record)."""
        s = self.session
        if isinstance(item, Waiting):
            s.emit(ModelWaiting(item.message or "the model is answering", seconds=item.seconds))
        else:
            s.recorder.model_request(s.config, None, item.message, retried=True)
            s.emit(Warning(item.message))

    def _sample(self, structured: bool = False) -> ModelResponse:
        s = self.session
        ids: dict[str, str] = {}  # item ids, allocated when the text first appears
        first_token_at: list[float] = []

        def item_id(kind: str) -> str:
            return ids.get(kind) or ids.setdefault(kind, s.new_item_id())

        def on_text(chunk: TextChunk | ReasoningChunk | None) -> None:
            if chunk is None:
                ids.clear()  # what streamed so far belongs to no item
                return
            if not first_token_at:
                first_token_at.append(time.monotonic())
            if isinstance(chunk, TextChunk):
                s.emit(TextDelta(item_id("text"), chunk.text))
            elif s.config.shows_reasoning:  # hide_agent_reasoning / show_raw_agent_reasoning
                s.emit(TextDelta(item_id("reasoning"), chunk.text, kind="reasoning"))

        response = self._stream(self._fitted(structured), on_text)
        if response.generation_seconds is not None:  # the back end timed it (a tool call streams no text)
            self.generation_seconds += response.generation_seconds
        elif first_token_at:
            self.generation_seconds += time.monotonic() - first_token_at[0]
        response = self._with_recovered_calls(response)
        s.thread.append(Message("assistant", response.text, response.tool_calls))
        if response.reasoning and s.config.shows_reasoning:
            s.emit(ItemCompleted(Reasoning(item_id("reasoning"), response.reasoning)))
        if response.text:
            self.last_message = response.text
            s.emit(ItemCompleted(AgentMessage(item_id("text"), response.text)))
        return response

    def _with_recovered_calls(self, response: ModelResponse) -> ModelResponse:
        if response.tool_calls or not response.text:
            return response
        calls = recover_tool_calls(response.text, registry.tool_names(self.session.mcp))
        return replace(response, text="", tool_calls=tuple(calls)) if calls else response

    def _answer_now(self, notice: str) -> None:
        """End a turn that would not end by itself: one more request that must be answered in text (no tools
        on the wire; on the embedded engine the grammar's answer branch). A reply that is still a call, is
        empty or only repeats the notice is no answer: the session then writes the final message itself.
        Nothing of the reply is shown before it is judged, so an echoed notice never appears."""
        s = self.session
        s.thread.append(Message("user", notice, notice=True))
        response = self._stream(replace(self._fitted(), tool_choice="none"))
        text = (turn_end.final_answer(response, notice, registry.TOOL_NAMES)
                or turn_end.no_answer_message(notice, s.config))
        s.thread.append(Message("assistant", text))
        self.last_message = text
        s.emit(ItemCompleted(AgentMessage(s.new_item_id(), text)))
        return self._complete()

    # --- tools ---------------------------------------------------------------------------------

    def _run_tools(self, response: ModelResponse) -> None:
        """Run the calls in order; every call gets an output, even when the turn stops midway."""
        s = self.session
        stopped: TurnStopped | None = None
        for call in response.tool_calls:
            if stopped is None and s.cancel.is_set():
                stopped = TurnStopped(INTERRUPTED)
            if stopped is not None:
                output = f"error: not run, {stopped}"
            else:
                s.recorder.tool_call(call.name, call.arguments)
                try:
                    output = registry.dispatch(call, self.tools)
                except TurnStopped as e:
                    stopped, output = e, f"error: {e}"
            s.thread.append(Message("tool", output, tool_call_id=call.call_id))
        if stopped is not None:
            raise stopped
        s.check_cancel()

    # --- the end -------------------------------------------------------------------------------

    def _complete(self) -> None:
        s = self.session
        if s.output_schema is not None:
            structured_output.ensure_schema_answer(self.last_message, s.output_schema, self._ask_structured)
        self._close_plan()
        elapsed = time.monotonic() - self.started
        # A rate only over a measurable stream: a reply that arrives in one burst says nothing about generation.
        timed = self.generation_seconds >= MIN_RATE_SECONDS and self.usage.output_tokens > 1
        speed = self.usage.output_tokens / self.generation_seconds if timed else None
        s.usage += self.usage
        s.emit(TurnCompleted(self.usage, int(elapsed * 1000), speed, self.last_message or None))
        self._notify()

    def _ask_structured(self, prompt: str) -> str:
        self.session.thread.append(Message("user", prompt, notice=True))
        return self._sample(structured=True).text

    def _notify(self) -> None:
        """Run config `notify` with Codex's agent-turn-complete JSON (agent/notify.py)."""
        s = self.session
        notification = TurnComplete(s.thread_id, str(uuid.uuid4()), s.config.cwd, (self.input.content,),
                                    self.last_message or None)
        try:
            run_notify(s.config.notify, notification)
        except NotifyError as e:
            s.emit(Warning(str(e)))

    def _fail(self, message: str, reason: str) -> None:
        self._close_plan()
        self.session.usage += self.usage
        self.session.emit(TurnFailed(message, self.usage, reason))  # type: ignore[arg-type]

    def _close_plan(self) -> None:
        if self.tools.plan_item is not None:
            self.session.emit(ItemCompleted(self.tools.plan_item))


def truncated_reply_warning(config: Config) -> str:
    """A reply that stopped at the output cap is shown as it is, never passed off as whole."""
    where = f"model_max_output_tokens in {config.config_file}"
    return (f"The model's reply stopped at the output limit, so it is cut short; raise {where} if the model "
            "needs longer replies.")
