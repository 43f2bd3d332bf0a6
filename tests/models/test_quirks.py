"""Model quirks as data: the profile a model gets from its GGUF facts, and config overrides."""

from __future__ import annotations

import pytest

from agent.models.quirks import ModelFacts, ModelQuirks, QuirksError, choose, parameters_from_metadata


def test_parameter_count_comes_from_the_size_label_or_the_file_size():
    assert parameters_from_metadata({"general.size_label": "135M"}, 0) == 135_000_000
    assert parameters_from_metadata({"general.size_label": "1.7B"}, 0) == 1_700_000_000
    assert parameters_from_metadata({"general.size_label": "8x7B"}, 0) == 56_000_000_000
    assert parameters_from_metadata({}, 4_500_000_000) == 8_000_000_000
    assert parameters_from_metadata({}, 0) is None


def test_a_small_model_gets_the_compact_profile_with_a_first_tool_call():
    quirks = choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {})
    assert quirks.compact and quirks.first_step_tool_call and quirks.demonstrations
    assert quirks.offers("shell") and not quirks.offers("update_plan")
    assert "ls" in quirks.shell_programs


def test_a_large_model_keeps_the_full_profile_and_every_tool():
    quirks = choose(ModelFacts("Qwen2.5 7B", 7_000_000_000, 32768), {})
    assert not quirks.compact and not quirks.first_step_tool_call
    assert quirks.offers("update_plan") and not quirks.shell_programs


def test_a_small_window_gets_the_compact_prompt_even_for_a_large_model():
    quirks = choose(ModelFacts("Qwen2.5 7B", 7_000_000_000, 2048), {})
    assert quirks.compact and not quirks.first_step_tool_call


def test_config_keys_override_the_table():
    quirks = choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192),
                    {"prompt_profile": "full", "first_step_tool_call": False, "n_ctx": 4096})
    assert not quirks.compact and not quirks.first_step_tool_call


def test_an_unknown_profile_is_one_sentence_naming_the_key():
    with pytest.raises(QuirksError, match=r"prompt_profile = 'tiny' in \[model_providers.embedded\]"):
        choose(ModelFacts("m", 1, 1), {"prompt_profile": "tiny"})
    with pytest.raises(QuirksError, match="tools in"):
        choose(ModelFacts("m", 1, 1), {"tools": "shell"})


def test_the_smallest_models_get_command_forms_and_a_lower_repeat_penalty():
    tiny = choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {})
    small = choose(ModelFacts("Qwen2.5 0.5B", 500_000_000, 32768), {})
    assert "head -n {n} {path}" in tiny.shell_forms and tiny.repeat_penalty == 1.0
    assert small.repeat_penalty == 1.05
    assert not small.shell_forms and small.shell_programs and small.compact
    assert choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {"repeat_penalty": 1.3}).repeat_penalty == 1.3


def test_a_trimmed_tool_list_still_offers_the_users_mcp_tools():
    tiny = ModelQuirks(tools=("shell", "apply_patch"))
    assert tiny.offers("shell") and not tiny.offers("update_plan")
    assert tiny.offers("mcp__docs__search")  # configured by the user: never trimmed away silently
    only_time = ModelQuirks(tools=("mcp__time__now",))
    assert only_time.offers("mcp__time__now") and not only_time.offers("mcp__docs__search")
