"""Tools for models and servers without native tool support: a prompt-based tool protocol around an endpoint.

`tool_call_format` chooses, per provider or model (our extension of config.toml):
* "native": the API's `tools` field, as before;
* "text": the tools are described in the system prompt with one call format, Hermes/Qwen-style
  `<tool_call>{"name": …, "arguments": {…}}</tool_call>` on one line (a 135M model copies that form; with the
  JSON on a line of its own it drifts into code fences); `tools` is left out of the request, calls are parsed
  from the reply (agent/models/text_tool_calls.py) into `ModelResponse.tool_calls`, and earlier calls and
  results are shown in the history as that same text (results in `<tool_response>` blocks);
* "auto": native, until the server shows it has no tool support (agent/models/tool_support.py): it rejects
  `tools` (a 4xx naming them), or, judged once after the first reply that was offered tools and made no
  native call, it belongs to a family known to drop them and a probe finds that it does. Either way the
  request is sent again as text, and the verdict holds for the session (said once on the status line).

Precedence: `tool_call_format` in [model_providers.<id>], then the top-level key, then the model's row in
agent/models/quirks.toml ([endpoint]), else "auto". The protocol text is appended to the instructions, which
stay byte-identical for the whole thread (a prefix cache keeps working); a reply that must be a call says so
in its last user message instead.

Not here: the embedded engine (its own grammar decodes calls) and the HTTP of the requests (chat.py, responses.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from agent.config import Config
from agent.models import tool_support
from agent.models.base import (
    Message,
    ModelClient,
    ModelRequest,
    ModelRequestFailed,
    ModelResponse,
    Retrying,
    StreamItem,
    TextChunk,
    ToolCall,
    ToolSpec,
)
from agent.models.quirks import endpoint_quirks
from agent.models.text_tool_calls import recover_tool_calls

OPEN_TAG = "<tool_call>"
REQUIRED_NOTE = "(Answer with a <tool_call> block now.)"


# --- the protocol as text ---------------------------------------------------------------------------------


def protocol_text(tools: tuple[ToolSpec, ...]) -> str:
    """The tool section of the system prompt: how to call, then each tool with its JSON Schema."""
    lines = [
        "# Tools",
        "You can call tools. To call one, reply with a line exactly like this, and nothing after it:",
        '<tool_call>{"name": "TOOL_NAME", "arguments": {"ARGUMENT": "VALUE"}}</tool_call>',
        "The arguments are a JSON object that follows the tool's parameters. Several calls are several blocks. "
        "The result of each call comes back in a <tool_response> block. When you can answer, reply in plain "
        "text without any <tool_call> block.",
        "",
        "Available tools:",
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {' '.join(tool.description.split())}")
        lines.append(f"  parameters: {json.dumps(tool.parameters, separators=(',', ':'))}")
    return "\n".join(lines)


def call_text(call: ToolCall) -> str:
    """An earlier call in the protocol's own format (arguments kept as sent when they are not JSON)."""
    try:
        arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        arguments = call.arguments
    return f"{OPEN_TAG}{json.dumps({'name': call.name, 'arguments': arguments})}</tool_call>"


def history_as_text(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """The history with calls written into the assistant's text and tool results as user messages; consecutive
    user messages are merged, since some chat templates insist that roles alternate."""
    out: list[Message] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            parts = [message.content.strip()] if message.content.strip() else []
            out.append(Message("assistant", "\n".join([*parts, *map(call_text, message.tool_calls)])))
        elif message.role == "tool":
            _add_user(out, Message("user", f"<tool_response>\n{message.content}\n</tool_response>"))
        elif message.role == "user":
            _add_user(out, message)
        else:
            out.append(message)
    return tuple(out)


def _add_user(out: list[Message], message: Message) -> None:
    if out and out[-1].role == "user":
        last = out.pop()
        message = Message("user", f"{last.content}\n\n{message.content}", images=(*last.images, *message.images))
    out.append(message)


def text_request(request: ModelRequest) -> ModelRequest:
    """The request as the text protocol sends it: no `tools` on the wire, the protocol in the instructions."""
    instructions = request.instructions
    if request.tools:
        instructions = f"{instructions}\n\n{protocol_text(request.tools)}"
    messages = history_as_text(request.messages)
    if request.tools and request.tool_choice == "required":
        messages = _with_note(messages, REQUIRED_NOTE)
    return replace(request, instructions=instructions, messages=messages, tools=(), tool_choice="auto")


def _with_note(messages: tuple[Message, ...], note: str) -> tuple[Message, ...]:
    if messages and messages[-1].role == "user":
        last = messages[-1]
        return (*messages[:-1], replace(last, content=f"{last.content}\n\n{note}"))
    return (*messages, Message("user", note))


class CallHider:
    """Passes streamed text through until a `<tool_call>` block starts; what follows is the call, not prose
    to show. A possible start of the tag at the end of a chunk is held back until the next chunk decides."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self._pending = ""
        self._in_call = False

    def feed(self, text: str) -> str:
        if self._in_call:
            return ""
        text = self._pending + text
        at = text.find(OPEN_TAG)
        if at != -1:
            self._in_call, self._pending = True, ""
            return self._show(text[:at])
        keep = next((n for n in range(min(len(OPEN_TAG) - 1, len(text)), 0, -1) if OPEN_TAG.startswith(text[-n:])),
                    0)
        self._pending = text[len(text) - keep:] if keep else ""
        return self._show(text[: len(text) - keep])

    def flush(self) -> str:
        """What was held back, once the reply turned out to hold no call."""
        held, self._pending = self._pending, ""
        return "" if self._in_call else self._show(held)

    def _show(self, text: str) -> str:
        self.shown.append(text)
        return text


def parsed_reply(response: ModelResponse, tool_names: list[str], shown: str) -> ModelResponse:
    """The reply with the calls its text holds as `tool_calls`; the text is then only what came before them."""
    calls = recover_tool_calls(response.text, tool_names) if tool_names else []
    if not calls:
        return response
    text = shown.strip() if OPEN_TAG in response.text else ""
    return replace(response, text=text, tool_calls=(*response.tool_calls, *calls))


# --- the client wrapper -----------------------------------------------------------------------------------


StatusSink = Callable[[str], None]


@dataclass
class ToolFormatClient:
    """Wraps an endpoint back end and sends tools in the chosen format (see the module docstring)."""

    inner: ModelClient
    config: Config
    model: str
    setting: str  # "native" | "text" | "auto"
    on_status: StatusSink
    verdict: tool_support.Verdict | None = None  # "auto": what the server showed, for the rest of the session

    def describe(self) -> str:
        return self.inner.describe()

    def __getattr__(self, name: str) -> Any:  # context_window, server_info, ... of the endpoint client
        if name in ("inner", "verdict") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def format(self) -> str:
        """The format in force now: the setting, or for "auto" the verdict so far (native until shown otherwise)."""
        if self.setting != "auto":
            return self.setting
        return self.verdict.format if self.verdict else "native"

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]:
        if self.format == "text":
            yield from self._text_stream(request)
            return
        judging = self.setting == "auto" and bool(request.tools) and self.verdict is None
        try:
            reply = yield from self._native(request)
        except ModelRequestFailed as error:
            if self.setting != "auto" or not request.tools or not tool_support.rejects_tools(error):
                raise
            self._decide(tool_support.Verdict("text", f"the server rejected `tools` ({error})", rejected=True))
            yield Retrying(f"{self._where()} does not take tools; sending the request again with them as text")
            yield from self._text_stream(request)
            return
        if judging and self._judged(reply).format == "text":
            yield Retrying(f"{self._where()} dropped the tools; sending the request again with them as text")
            yield from self._text_stream(request)
            return
        yield reply

    def _native(self, request: ModelRequest) -> Generator[StreamItem, None, ModelResponse]:
        """The endpoint's own stream, all but its final reply, which is returned."""
        reply = None
        for item in self.inner.stream(request):
            if isinstance(item, ModelResponse):
                reply = item
            else:
                yield item
        if reply is None:
            raise AssertionError("a back end's stream ends with its ModelResponse")
        return reply

    def _judged(self, reply: ModelResponse) -> tool_support.Verdict:
        """The verdict after the first reply that was offered tools. Asking costs nothing for most servers: a
        native call proves tool support; otherwise the server family comes from the discovery the endpoint
        client did anyway, or, for a server that reports no usage (llama_cpp.server streams none), from its
        model listing; only a family known to drop tools is probed (two one-token requests)."""
        if reply.tool_calls:
            return self._decide(tool_support.Verdict("native", "the model made a native call"), quiet=True)
        kind = getattr(getattr(self.inner, "server_info", None), "kind", "") or ""
        client = None
        if not kind and reply.usage.input_tokens == 0:
            from agent.models.endpoint import make_openai_client

            client = make_openai_client(self.config)
            _, kind = tool_support.listed(client)
        if kind not in endpoint_quirks(self.model).probe_servers:
            reason = f"{kind or 'this server'} is not known to drop tools"
            return self._decide(tool_support.Verdict("native", reason), quiet=True)
        if client is None:
            from agent.models.endpoint import make_openai_client

            client = make_openai_client(self.config)
        return self._decide(tool_support.probe(client, self.config.provider.wire_api, self.model))

    def _text_stream(self, request: ModelRequest) -> Iterator[StreamItem]:
        names = [t.name for t in request.tools] if request.tool_choice != "none" else []
        hider = CallHider()
        for item in self.inner.stream(text_request(request)):
            if isinstance(item, TextChunk):
                shown = hider.feed(item.text)
                if shown:
                    yield TextChunk(shown)
            elif isinstance(item, ModelResponse):
                reply = parsed_reply(item, names, "".join(hider.shown))
                if not reply.tool_calls and (rest := hider.flush()):
                    yield TextChunk(rest)
                yield reply
            else:
                if isinstance(item, Retrying):
                    hider = CallHider()
                yield item

    def _where(self) -> str:
        return f"{self.config.provider.name} at {self.config.provider.base_url}"

    def _decide(self, verdict: tool_support.Verdict, quiet: bool = False) -> tool_support.Verdict:
        self.verdict = verdict
        if verdict.format == "text" or not quiet:
            self.on_status(tool_format_status(self.config, verdict))
        return verdict


def tool_format_status(config: Config, verdict: tool_support.Verdict) -> str:
    """The one status line for an `auto` verdict, with the setting that skips the check."""
    provider = config.provider
    how = "the text tool protocol" if verdict.format == "text" else "native tools"
    return (f"{provider.name} at {provider.base_url}: using {how} because {verdict.reason}; set "
            f'tool_call_format = "{verdict.format}" in [model_providers.{provider.id}] to skip this check.')


def configured_format(config: Config, model: str) -> str:
    """tool_call_format for this provider and model: the provider's key, the top-level key, the quirks table."""
    own = config.provider.options.get("tool_call_format")
    if isinstance(own, str):
        return own
    return config.tool_call_format or endpoint_quirks(model).tool_call_format


def with_tool_format(client: ModelClient, config: Config, on_status: StatusSink) -> ModelClient:
    """The endpoint client wrapped for its tool_call_format (the client itself when that is "native")."""
    model = getattr(client, "model", None) or config.model or ""
    setting = configured_format(config, model)
    return client if setting == "native" else ToolFormatClient(client, config, model, setting, on_status)
