"""The embedded engine: any GGUF model run in-process by llama.cpp (llama-cpp-python).

One `Llama` lives for the whole thread and every request re-renders the conversation with
the model's own chat template; since history only grows, the new prompt shares its prefix
with the previous one and llama.cpp evaluates only the new tokens. The engine evaluates the
prompt itself, in chunks, so that it can report progress (a `Waiting` item once it takes more
than a second) and, at the end of the fixed prefix (system prompt, tools, demonstrations),
save or restore that prefix's KV state on disk (agent.models.prefix_cache): a second run
evaluates only what follows the prefix. Usage counts what was really evaluated and generated.
Only the template's own markup becomes special tokens: a message's content (a tool result, a file, pasted text)
holding `<|im_start|>` stays text (agent.models.prompt_tokens), and a prompt without such text keeps the tokens of
its whole rendering, so the KV cache and the saved prefix still match.
Tool calls are decoded under a grammar (agent.models.tool_grammar) and so always parse; how
the prompt and grammar are shaped for a model (full or compact profile) comes from
agent.models.quirks and agent.models.prompt_profile.

Threads: decode and prompt evaluation run on half the cores by default (n_threads / n_threads_batch
override it). llama.cpp's threads wait for each other after every operation, so all-core work collapses
when any other process holds a core (decode 70 to under 4 tok/s measured on 2 cores), while half-core
work keeps most of its rate (benchmarks/embedded.py, section 5). The prefix cache makes the slower
single-thread prompt evaluation of a quiet machine a once-per-machine cost.

Not here: finding the GGUF file (agent.models.resolve) and deciding what to send (the session).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from agent.config import Config
from agent.errors import ConfigError
from agent.models import quirks as model_quirks
from agent.models import tool_grammar
from agent.models.base import (
    ContextWindowExceeded,
    Message,
    ModelRequest,
    ModelResponse,
    ModelUnavailable,
    StreamItem,
    TextChunk,
    Waiting,
)
from agent.models.prefix_cache import PrefixCache, identity
from agent.models.prompt_profile import PromptProfile
from agent.models.prompt_tokens import ChatTokens, Vocabulary, chat_tokens
from agent.models.resolve import ResolvedModel
from agent.protocol import Usage

DEFAULT_MAX_CONTEXT = 8192
DEFAULT_MAX_OUTPUT = 1024
FALLBACK_TEMPLATE = (  # ChatML, for GGUFs that carry no chat template
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


PROGRESS_AFTER_S = 1.0  # report prompt evaluation once it has taken this long
EVAL_CHUNK = 128  # at most this many prompt tokens per llama_decode call
EVAL_CHUNK_MIN = 16
EVAL_CHUNK_SECONDS = 0.1  # each call takes about this long, so an interrupt is seen well within 0.5 s
MIN_CACHED_PREFIX = 64  # a shorter fixed prefix is not worth a file


@dataclass(frozen=True)
class Prompt:
    tokens: list[int]
    stop: list[str]
    prefix_lens: tuple[int, ...] = ()  # lengths of the fixed prefixes it starts with, shortest first (KV cached)


def default_threads(cpus: int | None = None) -> tuple[int, int]:
    """(decode threads, prompt threads): half the cores for both, so that a process holding a core does not stall
    them (measured on 2 busy cores: decode 92 vs 14 tok/s, prompt 160-240 vs 42-69 tok/s for 1 vs 2 threads)."""
    half = max(1, (cpus or os.cpu_count() or 2) // 2)
    return half, half


@dataclass(frozen=True)
class EngineOptions:
    n_ctx: int | None = None
    n_threads: int | None = None  # decode; default: half the cores (default_threads)
    n_threads_batch: int | None = None  # prompt evaluation; default: half the cores
    prefix_cache: bool = True  # keep the fixed prompt prefix's KV state under CODEX_HOME/cache/prompt-prefix
    prefix_cache_entries: int = 8
    prefix_cache_mb: int = 512
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
        self._vocabulary = Vocabulary.of(self.llm._model)  # which tokens only the template's markup may hold
        self._formatter, self._prefix_formatter = self._make_formatter(), self._make_prefix_formatter()
        facts = model_quirks.facts_from_metadata(self.llm.metadata, self.model.size_bytes, self.llm.n_ctx())
        self.quirks = model_quirks.choose(facts, config.provider.options)
        if self.quirks.repeat_penalty is not None:  # the table's value for this model, or the config's own
            self.options = replace(self.options, repeat_penalty=self.quirks.repeat_penalty)
        self.profile = PromptProfile(self.quirks)
        self.prefix_cache = self._make_prefix_cache()
        self.last_prompt_eval_tokens = 0
        self.last_prefix_restored = False  # the last request restored the prefix's KV state from disk
        self.last_first_token_s: float | None = None  # the last request's time to its first generated token
        self.progress_after_s = PROGRESS_AFTER_S

    # --- loading -----------------------------------------------------------------------

    def _load(self, status: Callable[[str], None]) -> Any:
        from llama_cpp import Llama

        from agent.models.grammar_sampler import CheckFirstLlama, probe_supported

        size_mb = self.model.size_bytes / 1e6
        self._check_memory()
        status(f"loading {self.model.name} ({size_mb:.0f} MB) from {self.model.path}")
        started = time.monotonic()
        decode_threads, prompt_threads = default_threads()
        try:
            llm = (CheckFirstLlama if probe_supported() else Llama)(
                model_path=str(self.model.path),
                n_ctx=self._n_ctx(),
                n_threads=self.options.n_threads or decode_threads,
                n_threads_batch=self.options.n_threads_batch or self.options.n_threads or prompt_threads,
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
        return planned_context(self.options, self.config.model_context_window, _trained_context(self.model.path))

    def _make_formatter(self) -> Any:
        from llama_cpp import llama_chat_format

        if self.options.chat_format:
            formats = _named_chat_formats(llama_chat_format)
            if self.options.chat_format not in formats:
                raise ConfigError(
                    f"chat_format '{self.options.chat_format}' in [model_providers.embedded] is unknown: "
                    f"use one of {', '.join(sorted(formats))}, or remove it."
                )
            return formats[self.options.chat_format]
        return self._jinja_formatter(add_generation_prompt=True)

    def _make_prefix_formatter(self) -> Any:
        """Renders the fixed prefix alone (no generation prompt), to know where it ends; None with a named
        chat_format, whose handlers cannot render a partial conversation."""
        return None if self.options.chat_format else self._jinja_formatter(add_generation_prompt=False)

    def _jinja_formatter(self, add_generation_prompt: bool) -> Any:
        from llama_cpp import llama_chat_format

        template = self.llm.metadata.get("tokenizer.chat_template") or FALLBACK_TEMPLATE
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        bos = self.llm._model.token_get_text(self.llm.token_bos())
        return llama_chat_format.Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos,
                                                     add_generation_prompt=add_generation_prompt)

    def _make_prefix_cache(self) -> PrefixCache | None:
        if not self.options.prefix_cache:
            return None
        settings = {"n_ctx": self.llm.n_ctx(), "n_gpu_layers": self.options.n_gpu_layers,
                    "flash_attn": self.options.flash_attn, "n_batch": self.llm.n_batch}
        try:
            key = identity(self.model.path, settings)
        except OSError:
            return None
        return PrefixCache(self.config.codex_home / "cache" / "prompt-prefix", key,
                           max_entries=max(1, int(self.options.prefix_cache_entries)),
                           max_bytes=max(1, int(self.options.prefix_cache_mb)) * 1024 * 1024)

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

        started = time.monotonic()
        prompt = self._prompt(request)
        max_new = self._max_new_tokens(request, len(prompt.tokens))
        grammar = self._grammar(request)
        llama_cpp.llama_perf_context_reset(self.llm._ctx.ctx)
        evaluation = PromptEvaluation()
        yield from self._evaluate_prompt(prompt, evaluation)
        text, shown, first_at = "", 0, None
        # A tool call may run past max_new (up to the window) so that it always completes and parses;
        # a text reply stops at max_new.
        chunks = self.llm.create_completion(
            prompt.tokens, max_tokens=self.context_window - len(prompt.tokens), temperature=self.options.temperature,
            stop=prompt.stop, grammar=grammar, stream=True, repeat_penalty=self.options.repeat_penalty,
            seed=self.options.seed, logits_processor=self._copy_bias(request, len(prompt.tokens)),
        )
        must_complete = request.output_schema is not None  # JSON cut short would not parse
        for count, chunk in enumerate(chunks, start=1):
            first_at = first_at or time.monotonic()
            text += chunk["choices"][0]["text"]
            if tool_grammar.could_become_call(text):
                continue
            yield TextChunk(text[shown:])
            shown = len(text)
            if count >= max_new and not must_complete:
                chunks.close()
                break
        seconds = time.monotonic() - first_at if first_at is not None else None
        self.last_first_token_s = first_at - started if first_at is not None else None
        yield self._response(text, len(prompt.tokens), evaluation, seconds)

    def _evaluate_prompt(self, prompt: Prompt, evaluation: PromptEvaluation) -> Iterator[Waiting]:
        """Evaluate all but the prompt's last token (create_completion evaluates that one, for its logits),
        reusing what the KV cache already holds, restoring or saving the fixed prefix, and reporting progress."""
        llm, tokens = self.llm, prompt.tokens
        target = len(tokens) - 1
        keep = _common_prefix(llm._input_ids, tokens, target)
        levels = [n for n in prompt.prefix_lens if n >= MIN_CACHED_PREFIX] if self.prefix_cache is not None else []
        self.last_prefix_restored = False
        for length in reversed(levels):  # the longest saved prefix
            if keep >= length:
                break
            if self._restore_prefix(tokens[:length]):
                keep, self.last_prefix_restored = length, True
                break
        save_points = [n for n in levels if n > keep]
        if keep < llm.n_tokens and not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0  # this model's cache cannot drop a suffix: start over
            llm.reset()
        llm.n_tokens = keep
        started, position, chunk = time.monotonic(), keep, EVAL_CHUNK_MIN
        while position < target:
            end = min(target, position + chunk, *(n for n in save_points if n > position))
            began = time.monotonic()
            llm.eval(tokens[position:end])
            chunk = _next_chunk(end - position, time.monotonic() - began)
            evaluation.add(end - position)
            position = end
            if position in save_points:
                self._save_prefix(tuple(tokens[:position]))
            waited = time.monotonic() - started
            if waited >= self.progress_after_s:
                yield Waiting(max(int(waited), 1), f"evaluating the prompt: {position}/{len(tokens)} tokens")
            else:  # nothing to show yet, but the session checks for an interrupt at every item
                yield Waiting(0, "")
        if time.monotonic() - started >= self.progress_after_s:
            yield Waiting(0, "")

    def _restore_prefix(self, tokens: list[int]) -> bool:
        import llama_cpp

        state = self.prefix_cache.load(tuple(tokens)) if self.prefix_cache else None
        if state is None:
            return False
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(self.llm._ctx.ctx, buffer, len(state), 0) != len(state):
            self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            self.llm.n_tokens = 0
            return False
        self.llm.input_ids[: len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)
        return True

    def _save_prefix(self, tokens: tuple[int, ...]) -> None:
        import llama_cpp

        ctx = self.llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if 0 < written <= size and self.prefix_cache is not None:
            self.prefix_cache.save(tokens, ctypes.string_at(buffer, written))

    def _response(self, text: str, prompt_tokens: int, evaluation: PromptEvaluation,
                  generation_seconds: float | None) -> ModelResponse:
        import llama_cpp

        perf = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        evaluated = evaluation.tokens + 1  # and the last prompt token, evaluated by create_completion
        # llama.cpp counts single-token decodes as n_eval: the last prompt token (1) and each generated token
        # but the last (which is never decoded); so n_eval is the number generated, less chunks of one token.
        output = max(perf.n_eval - evaluation.single_token_chunks, 1)
        self.last_prompt_eval_tokens = evaluated
        usage = Usage(prompt_tokens, max(prompt_tokens - evaluated, 0), output)
        call = tool_grammar.parse_reply(text, f"call_{uuid.uuid4().hex[:12]}")
        if call is None:
            return ModelResponse(text=text.strip(), usage=usage, generation_seconds=generation_seconds)
        self._raw_calls[call.call_id] = text.strip()
        return ModelResponse(tool_calls=(call,), usage=usage, generation_seconds=generation_seconds)

    def _copy_bias(self, request: ModelRequest, prompt_length: int) -> Any:
        """For a text answer after tool results, with quirks `copy_bias`: the processor that keeps copies on track."""
        results = self.profile.turn_results(request)
        if not (self.quirks.copy_bias and results and self.profile.answer_only(request)):
            return None
        from llama_cpp import LogitsProcessorList

        from agent.models.copy_bias import CopyBias

        sources = [self.llm.tokenize(r.encode("utf-8"), add_bos=False, special=False) for r in results]
        return LogitsProcessorList([CopyBias(sources, prompt_length, self.quirks.copy_bias)])

    def _max_new_tokens(self, request: ModelRequest, prompt_tokens: int) -> int:
        room = self.context_window - prompt_tokens
        if room < 16:
            raise ContextWindowExceeded(
                f"The conversation ({prompt_tokens} tokens) fills the embedded model's {self.context_window}-token "
                "context: start a new session, or raise n_ctx in [model_providers.embedded]."
            )
        return min(request.max_output_tokens or DEFAULT_MAX_OUTPUT, self.quirks.max_answer_tokens or room, room)

    # --- prompt ------------------------------------------------------------------------

    def _prompt(self, request: ModelRequest) -> Prompt:
        levels = self.profile.prefix_levels(request)
        prefix = levels[-1]
        conversation = [self._chat_message(m) for m in request.messages]
        conversation = self.profile.with_turn_demonstrations(request, conversation)
        prompt = self._render([*prefix, *conversation])
        tokens = prompt.tokens
        lengths = (self._prefix_length(level, tokens) for level in levels)
        return Prompt(tokens, prompt.stop, tuple(sorted({n for n in lengths if n})))

    def _render(self, messages: list[dict[str, str]]) -> ChatTokens:
        """The chat template's rendering, tokenized so that only its markup holds special tokens (a content's
        `<|im_start|>` stays text: agent.models.prompt_tokens); each message stays its own (the environment
        context is not glued to the user's request) unless the template insists that roles alternate."""
        from jinja2 import TemplateError

        try:
            return chat_tokens(self._formatter, messages, self._vocabulary)
        except TemplateError:
            return chat_tokens(self._formatter, _merge_same_roles(messages), self._vocabulary)

    def _prefix_length(self, prefix: list[dict[str, str]], tokens: list[int]) -> int:
        """How many leading prompt tokens are the fixed prefix, checked token by token (0 if unknown)."""
        if self._prefix_formatter is None:
            return 0
        try:
            prefix_tokens = chat_tokens(self._prefix_formatter, prefix, self._vocabulary).tokens
        except Exception:  # a template that cannot render the prefix alone: no prefix cache
            return 0
        length = len(prefix_tokens)
        return length if length < len(tokens) and tokens[:length] == prefix_tokens else 0

    def _grammar(self, request: ModelRequest) -> Any:
        """The decoding constraint: a tool call or the final answer (free text, or JSON under --output-schema)."""
        from llama_cpp import LlamaGrammar

        rules = self.profile.grammar_rules(request)
        return None if rules is None else LlamaGrammar.from_string(rules, verbose=False)

    def _chat_message(self, message: Message) -> dict[str, str]:
        if message.role == "tool":
            return {"role": "user", "content": self.profile.tool_result(message.content)}
        if message.tool_calls:
            calls = [self._raw_calls.get(c.call_id) or tool_grammar.render_call(c) for c in message.tool_calls]
            content = "\n".join(filter(None, [message.content, *calls]))
            return {"role": "assistant", "content": content}
        return {"role": message.role, "content": message.content}


@dataclass
class PromptEvaluation:
    """What the engine evaluated of one prompt before generation started."""

    tokens: int = 0
    single_token_chunks: int = 0  # llama.cpp counts these as n_eval, not n_p_eval

    def add(self, count: int) -> None:
        self.tokens += count
        self.single_token_chunks += count == 1


def _next_chunk(done: int, seconds: float) -> int:
    """The next llama_decode call's size: as many tokens as take about EVAL_CHUNK_SECONDS at the speed just seen
    (a large model, or a machine busy with other work, evaluates far fewer tokens a second)."""
    if seconds <= 0:
        return EVAL_CHUNK
    return max(EVAL_CHUNK_MIN, min(EVAL_CHUNK, int(done * EVAL_CHUNK_SECONDS / seconds)))


def _common_prefix(cached: Any, tokens: list[int], limit: int) -> int:
    """How many leading tokens (at most limit) the KV cache already holds."""
    count = 0
    for a, b in zip(cached[:limit], tokens[:limit], strict=False):
        if a != b:
            break
        count += 1
    return count


def _named_chat_formats(module: Any) -> dict[str, Any]:
    """llama-cpp-python's named chat formats that render text (`chatml`, `llama-2`, …): each registered handler
    name whose `format_<name>` function exists (`-` read as `_` or as nothing). The function-calling handlers
    render no plain prompt and are not among them. (The `_CHAT_FORMATS` table of older versions is gone.)"""
    registered = module.LlamaChatCompletionHandlerRegistry()._chat_handlers
    formats: dict[str, Any] = {}
    for name in registered:
        for attribute in (f"format_{name.replace('-', '_')}", f"format_{name.replace('-', '')}"):
            if callable(getattr(module, attribute, None)):
                formats[name] = getattr(module, attribute)
                break
    return formats


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


def planned_context(options: EngineOptions, configured: int | None, trained: int | None) -> int:
    """The n_ctx the engine loads a model with: n_ctx in [model_providers.embedded], else model_context_window
    (DEFAULT_MAX_CONTEXT without one), never beyond the length the model was trained for."""
    if options.n_ctx:
        return int(options.n_ctx)
    wanted = configured or DEFAULT_MAX_CONTEXT
    return min(wanted, trained) if trained else wanted


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
