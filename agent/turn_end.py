"""Ending a turn that would not end by itself: the loop guard, the step limit, and judging the forced answer.

Small models repeat the same call, or call tools until the step limit. The loop then asks once more for a
final answer with tools off (agent/turn.py), and this module says when to (`repeats_itself`), what to tell the
model (the notices), whether the reply is an answer (`final_answer`: not a call, no tool markup, not the notice
said back) and what the user reads when it is not (`no_answer_message`).
"""

from __future__ import annotations

import re

from agent.config import Config
from agent.models.base import ModelResponse
from agent.models.text_tool_calls import recover_tool_calls

LOOP_REPEATS = 3
LOOP_NOTICE = ("You have made the same tool call several times in a row with the same result. Stop calling tools "
               "and give your final answer now, based on what you have seen.")
STEP_LIMIT_NOTICE = ("You have used every tool call this turn allows. Stop calling tools and give your final "
                     "answer now: what you did, what is left to do, based on what you have seen.")
ECHO_RUN = 5
CONTRACTIONS = {"you've": "you have", "you're": "you are", "don't": "do not", "can't": "cannot", "it's": "it is",
                "i've": "i have", "i'm": "i am", "haven't": "have not", "that's": "that is"}

CallSignature = tuple[tuple[str, str], ...]


def repeats_itself(calls: list[CallSignature], response: ModelResponse) -> bool:
    """Record this step's calls; True when the model made the very same calls LOOP_REPEATS steps in a row."""
    calls.append(tuple((c.name, c.arguments) for c in response.tool_calls))
    recent = calls[-LOOP_REPEATS:]
    return len(recent) == LOOP_REPEATS and len(set(recent)) == 1


def step_limit_message(config: Config) -> str:
    """The error item that says the turn used all its steps (visible in `exec --json`, as Codex reports
    non-fatal problems)."""
    return (f"The turn used all {config.max_turn_steps} model steps (max_turn_steps in {config.config_file}); "
            "asking the model for its final answer.")


def final_answer(response: ModelResponse, notice: str, tool_names: tuple[str, ...]) -> str:
    """The reply's text if it answers: not a tool call (native or printed as text), no tool markup, and not
    the notice said back (small models repeat it, often reworded: any five words in a row of it count)."""
    text = response.text.strip()
    if not text or recover_tool_calls(text, tool_names) or re.search(r"</?tool_(call|response)>", text):
        return ""
    return "" if _word_runs(notice) & _word_runs(text) else text


def no_answer_message(notice: str, config: Config) -> str:
    """The final message when the model gave none after the step limit or the loop guard."""
    if notice == LOOP_NOTICE:
        return (f"I stopped because the model made the same tool call {LOOP_REPEATS} times in a row and then "
                "gave no final answer; the steps above show what was done.")
    return (f"I stopped after {config.max_turn_steps} model steps without a final answer from the model "
            f"(max_turn_steps in {config.config_file} sets the limit); the steps above show what was done.")


def _word_runs(text: str) -> set[tuple[str, ...]]:
    """Every run of ECHO_RUN consecutive words, lower-cased, contractions spelt out, punctuation dropped."""
    words: list[str] = []
    for word in re.findall(r"[\w']+", text.lower().replace("\u2019", "'")):
        words += CONTRACTIONS.get(word, word).split()
    return {tuple(words[i:i + ECHO_RUN]) for i in range(len(words) - ECHO_RUN + 1)}
