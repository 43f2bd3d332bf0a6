"""Grammar-constrained sampling that checks the sampled token first, as llama.cpp's own tools do.

llama-cpp-python puts the grammar into the sampler chain, so llama.cpp matches every entry of the
vocabulary (49,152 for SmolLM2) against the grammar for every generated token: about 10 ms per token
on a 2-core machine, more than the model's decode step itself (benchmarks/embedded.py). llama.cpp's
`common_sampler` (used by llama-cli and llama-server) instead samples without the grammar, checks only
that token against it, and runs the grammar over the whole vocabulary only when the token is rejected.
The result is the same distribution (a rejected token is resampled from the grammar-filtered logits),
at about 1 ms per token. llama-cpp-python does not expose that sampler, hence this module.

`CheckFirstLlama` is a `llama_cpp.Llama` whose `_init_sampler` returns a `CheckFirstSampler` when a
grammar is given; `Llama.generate` (and so `create_completion`) then uses it unchanged, prefix reuse
of the KV cache included. It relies on two llama-cpp-python internals (`Llama._init_sampler` and the
`sample(ctx, idx)` protocol of its sampler); `probe_supported` checks them once at load time, and
without them the engine keeps llama-cpp-python's own grammar sampling.
"""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


def probe_supported() -> bool:
    """True if this llama-cpp-python has the internals CheckFirstLlama overrides and calls."""
    return (
        hasattr(Llama, "_init_sampler")
        and hasattr(llama_cpp, "llama_sampler_init_grammar")
        and TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)
    )


class CheckFirstSampler:
    """Duck-types llama-cpp-python's LlamaSampler for Llama.generate: sample() returns an accepted token."""

    def __init__(self, chain: Any, llm: Llama, grammar: LlamaGrammar):
        self._chain = chain  # llama-cpp-python's sampler chain built without the grammar
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        self._n_vocab = llm.n_vocab()
        self._ids = np.arange(self._n_vocab, dtype=np.int32)
        self._candidates = np.zeros(self._n_vocab, dtype=TOKEN_DATA)
        self._single = np.zeros(1, dtype=TOKEN_DATA)
        self._view_address: int | None = None
        self._view = np.zeros(0, dtype=np.float32)
        self.rejected = 0  # tokens the grammar refused, for benchmarks and tests

    def sample(self, ctx: Any, idx: int = -1) -> int:
        logits = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        token = self._choose(self._fill(logits), self._chain.sampler)
        if not self._grammar_accepts(token):
            self.rejected += 1
            full = self._fill(logits)
            llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(full))  # rejected tokens get -inf
            token = self._choose(full, self._chain.sampler)
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)

    def reset(self) -> None:
        llama_cpp.llama_sampler_reset(self._grammar)
        llama_cpp.llama_sampler_reset(self._chain.sampler)

    def close(self) -> None:
        if self._grammar is not None:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
        self._chain.close()

    def __del__(self) -> None:
        self.close()

    def _fill(self, logits: Any) -> Any:
        """All tokens with their logits, as the token-data array llama.cpp's samplers work on. `p` is left as it
        is: every sampler that reads it computes it first (softmax), so resetting it only cost time."""
        self._candidates["id"] = self._ids  # samplers sort the buffer in place
        self._candidates["logit"] = self._logits_view(logits)
        return token_array(self._candidates)

    def _logits_view(self, logits: Any) -> np.ndarray:
        """A numpy view of llama.cpp's logits row, made once per distinct buffer address."""
        address = ctypes.cast(logits, ctypes.c_void_p).value
        if address != self._view_address:
            self._view_address = address
            self._view = np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        return self._view

    def _grammar_accepts(self, token: int) -> bool:
        self._single[0] = (token, 1.0, 0.0)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(token_array(self._single)))
        return not np.isneginf(self._single[0]["logit"])

    @staticmethod
    def _choose(array: Any, chain: Any) -> int:
        """Run the chain (which ends in a selecting sampler) over array; the selected token."""
        llama_cpp.llama_sampler_apply(chain, ctypes.byref(array))
        return int(array.data[array.selected].id)


def token_array(buffer: np.ndarray) -> Any:
    data = buffer.ctypes.data_as(llama_cpp.llama_token_data_p)
    return llama_cpp.llama_token_data_array(data=data, size=len(buffer), selected=-1, sorted=False)


class CheckFirstLlama(Llama):
    """A Llama whose grammar-constrained generation samples with CheckFirstSampler."""

    def _init_sampler(self, *args: Any, grammar: LlamaGrammar | None = None, **kwargs: Any) -> Any:
        chain = super()._init_sampler(*args, **kwargs)
        return chain if grammar is None else CheckFirstSampler(chain, self, grammar)
