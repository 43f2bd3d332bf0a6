"""The embedded engine: any GGUF model run in-process by llama.cpp (llama-cpp-python).

One `Llama` lives for the whole thread and every request re-renders the conversation with
the model's own chat template; since history only grows, the new prompt shares its prefix
with the previous one and llama.cpp evaluates only the new tokens (llama-cpp-python's
`generate` matches the cached prefix). Token counts come from llama.cpp's own perf
counters, so usage reports what was really evaluated. Tool calls are decoded under a
grammar (agent.models.tool_grammar) and so always parse.

Not here: finding the GGUF file (agent.models.resolve) and deciding what to send (the session).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.config import Config
from agent.models import tool_grammar
from agent.models.base import (
    ContextWindowExceeded,
    Message,
    ModelRequest,
    ModelResponse,
    ModelUnavailable,
    StreamItem,
    TextChunk,
)
from agent.models.resolve import ResolvedModel
from agent.protocol import Usage

DEFAULT_MAX_CONTEXT = 8192
DEFAULT_MAX_OUTPUT = 1024
FALLBACK_TEMPLATE = (  # ChatML, for GGUFs that carry no chat template
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Prompt:
    tokens: list[int]
    stop: list[str]


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int = 0
    flash_attn: bool = False
    chat_format: str | None = None
    temperature: float = 0.2
    repeat_penalty: float = 1.1
    seed: int = 42  # llama-cpp-python treats 0 as "no seed"; passed to every completion for repeatable replies

    @classmethod
    def from_options(cls, options: Any) -> EngineOptions:
        known = {k: options[k] for k in cls.__dataclass_fields__ if k in options}
        return cls(**known)


class EmbeddedClient:
    def __init__(self, config: Config, model: ResolvedModel, on_status: Callable[[str], None] | None = None):
        self.config = config
        self.model = model
        self.options = EngineOptions.from_options(config.provider.options)
        self._lock = threading.Lock()  # one Llama is not thread-safe
        self._raw_calls: dict[str, str] = {}  # call_id -> the exact text generated, for prefix reuse
        self.llm = self._load(on_status or (lambda _message: None))
        self._formatter = self._make_formatter()
        self.last_prompt_eval_tokens = 0

    # --- loading -----------------------------------------------------------------------

    def _load(self, status: Callable[[str], None]) -> Any:
        from llama_cpp import Llama

        from agent.models.grammar_sampler import CheckFirstLlama, probe_supported

        size_mb = self.model.size_bytes / 1e6
        self._check_memory()
        status(f"loading {self.model.name} ({size_mb:.0f} MB) from {self.model.path}")
        started = time.monotonic()
        try:
            llm = (CheckFirstLlama if probe_supported() else Llama)(
                model_path=str(self.model.path),
                n_ctx=self._n_ctx(),
                n_threads=self.options.n_threads or os.cpu_count() or 2,
                n_gpu_layers=self.options.n_gpu_layers,
                flash_attn=self.options.flash_attn,
                seed=self.options.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise ModelUnavailable(
                f"llama.cpp could not load {self.model.path} ({e}): check that it is a complete GGUF file, "
                "or lower n_ctx in [model_providers.embedded]."
            ) from e
        status(f"loaded {self.model.name} in {time.monotonic() - started:.1f}s, context {llm.n_ctx()} tokens")
        return llm

    def _check_memory(self) -> None:
        """Refuse a model that cannot fit in RAM before llama.cpp tries (and the machine starts swapping)."""
        available = available_memory_bytes()
        if self.options.n_gpu_layers or available is None or self.model.size_bytes < available:
            return
        raise ModelUnavailable(
            f"{self.model.path} needs about {self.model.size_bytes / 1e9:.1f} GB of memory but only "
            f"{available / 1e9:.1f} GB is available: pick a smaller quantisation, or offload layers with "
            "n_gpu_layers in [model_providers.embedded]."
        )

    def _n_ctx(self) -> int:
        if self.options.n_ctx:
            return int(self.options.n_ctx)
        trained = _trained_context(self.model.path)
        wanted = self.config.model_context_window or DEFAULT_MAX_CONTEXT
        return min(wanted, trained) if trained else wanted

    def _make_formatter(self) -> Any:
        from llama_cpp import llama_chat_format

        if self.options.chat_format:
            handler = llama_chat_format._CHAT_FORMATS.get(self.options.chat_format)
            if handler is None:
                raise ModelUnavailable(
                    f"chat_format '{self.options.chat_format}' in [model_providers.embedded] is unknown: "
                    f"use one of {', '.join(sorted(llama_chat_format._CHAT_FORMATS))}, or remove it."
                )
            return handler
        template = self.llm.metadata.get("tokenizer.chat_template") or FALLBACK_TEMPLATE
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        bos = self.llm._model.token_get_text(self.llm.token_bos())
        return llama_chat_format.Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)

    # --- ModelClient -------------------------------------------------------------------

    @property
    def context_window(self) -> int:
        return self.llm.n_ctx()

    def describe(self) -> str:
        return f"{self.model.name} (embedded llama.cpp, {self.model.size_bytes / 1e6:.0f} MB, {self.model.path})"

    def count_tokens(self, request: ModelRequest) -> int:
        with self._lock:
            return len(self._prompt(request).tokens)

    def stream(self, request: ModelRequest) -> Iterator[StreamItem]:
        with self._lock:
            yield from self._generate(request)

    def _generate(self, request: ModelRequest) -> Iterator[StreamItem]:
        import llama_cpp

        prompt = self._prompt(request)
        max_new = self._max_new_tokens(request, len(prompt.tokens))
        grammar = _grammar(request)
        llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)
        text, shown = "", 0
        # A tool call may run past max_new (up to the window) so that it always completes and parses;
        # a text reply stops at max_new.
        chunks = self.llm.create_completion(
            prompt.tokens, max_tokens=self.context_window - len(prompt.tokens), temperature=self.options.temperature,
            stop=prompt.stop, grammar=grammar, stream=True, repeat_penalty=self.options.repeat_penalty,
            seed=self.options.seed,
        )
        must_complete = request.output_schema is not None  # JSON cut short would not parse
        for count, chunk in enumerate(chunks, start=1):
            text += chunk["choices"][0]["text"]
            if tool_grammar.could_become_call(text):
                continue
            yield TextChunk(text[shown:])
            shown = len(text)
            if count >= max_new and not must_complete:
                chunks.close()
                break
        yield self._response(text, len(prompt.tokens))

    def _response(self, text: str, prompt_tokens: int) -> ModelResponse:
        import llama_cpp

        perf = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        self.last_prompt_eval_tokens = perf.n_p_eval
        usage = Usage(prompt_tokens, max(prompt_tokens - perf.n_p_eval, 0), perf.n_eval + 1)
        call = tool_grammar.parse_reply(text, f"call_{uuid.uuid4().hex[:12]}")
        if call is None:
            return ModelResponse(text=text.strip(), usage=usage)
        self._raw_calls[call.call_id] = text.strip()
        return ModelResponse(tool_calls=(call,), usage=usage)

    def _max_new_tokens(self, request: ModelRequest, prompt_tokens: int) -> int:
        room = self.context_window - prompt_tokens
        if room < 16:
            raise ContextWindowExceeded(
                f"The conversation ({prompt_tokens} tokens) fills the embedded model's {self.context_window}-token "
                "context: start a new session, or raise n_ctx in [model_providers.embedded]."
            )
        return min(request.max_output_tokens or DEFAULT_MAX_OUTPUT, room)

    # --- prompt ------------------------------------------------------------------------

    def _prompt(self, request: ModelRequest) -> Prompt:
        system = request.instructions
        if request.tools:
            system += "\n\n" + tool_grammar.tools_prompt(request.tools)
        messages = _merge_same_roles([{"role": "system", "content": system},
                                      *(self._chat_message(m) for m in request.messages)])
        rendered = self._formatter(messages=messages)
        add_bos = not getattr(rendered, "added_special", False)
        tokens = self.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
        return Prompt(tokens, stop)

    def _chat_message(self, message: Message) -> dict[str, str]:
        if message.role == "tool":
            return {"role": "user", "content": f"<tool_response>\n{message.content}\n</tool_response>"}
        if message.tool_calls:
            calls = [self._raw_calls.get(c.call_id) or tool_grammar.render_call(c) for c in message.tool_calls]
            content = "\n".join(filter(None, [message.content, *calls]))
            return {"role": "assistant", "content": content}
        return {"role": message.role, "content": message.content}


def _grammar(request: ModelRequest) -> Any:
    """The decoding constraint: a tool call or the final answer (free text, or JSON under --output-schema)."""
    from llama_cpp import LlamaGrammar

    if request.tools:
        rules = tool_grammar.grammar_text(request.tools, call_required=request.tool_choice == "required",
                                          answer_schema=request.output_schema)
    elif request.output_schema is not None:
        rules = tool_grammar.schema_grammar(request.output_schema)
    else:
        return None
    return LlamaGrammar.from_string(rules, verbose=False)


def _merge_same_roles(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Templates expect user and assistant to alternate; join consecutive messages of one role."""
    merged: list[dict[str, str]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {"role": message["role"], "content": merged[-1]["content"] + "\n\n" + message["content"]}
        else:
            merged.append(dict(message))
    return merged


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux); None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _trained_context(path: Any) -> int | None:
    """The context length the GGUF was trained for, read from its metadata (vocab only, no weights)."""
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        with suppress_stdout_stderr(disable=False):  # llama.cpp logs a context warning for vocab-only loads
            probe = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError):
        return None
    for key, value in probe.metadata.items():
        if key.endswith(".context_length") and str(value).isdigit():
            return int(value)
    return None
