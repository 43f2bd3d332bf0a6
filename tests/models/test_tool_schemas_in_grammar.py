"""MCP tools' schemas as the embedded engine's call grammar takes them (agent/models/tool_grammar.calls_schema):
each tool's `$defs` stand on their own even when two tools define the same name, `#` recursion works, a remote
`$ref` is never fetched, and a schema llama.cpp's converter refuses costs only that tool's precision. Checked by
llama.cpp's own grammar engine on candidate replies (no model run)."""

from __future__ import annotations

import json

import pytest

from agent.models import tool_grammar
from agent.models.base import ToolSpec
from tests.models.test_compact_grammar import accepts, vocab  # noqa: F401 - the fixture

POINT = {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
         "required": ["x", "y"], "additionalProperties": False}
LABEL = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
         "additionalProperties": False}


def tool(name: str, schema: dict) -> ToolSpec:
    return ToolSpec(name, f"Tool {name}.", schema)


def call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def model_parameter(name: str, definition: dict) -> ToolSpec:
    """As FastMCP writes a pydantic-model parameter: `$defs` and a `$ref` to it."""
    return tool(name, {"type": "object", "$defs": {"Point": definition},
                       "properties": {"a": {"$ref": "#/$defs/Point"}}, "required": ["a"]})


@pytest.mark.parametrize("build", [tool_grammar.grammar_text, tool_grammar.compact_grammar])
def test_two_tools_that_both_define_point_each_keep_their_own(vocab, build):  # noqa: F811
    rules = build([model_parameter("distance", POINT), model_parameter("label", LABEL)])
    assert accepts(vocab, rules, call("distance", {"a": {"x": 1, "y": 2}}))
    assert accepts(vocab, rules, call("label", {"a": {"text": "hi"}}))
    assert not accepts(vocab, rules, call("distance", {"a": {"text": "hi"}})), "label's Point is not distance's"


def test_a_tool_that_refers_to_itself_nests(vocab):  # noqa: F811
    tree = tool("tree", {"type": "object", "properties": {"name": {"type": "string"}, "child": {"$ref": "#"}},
                         "required": ["name"], "additionalProperties": False})
    rules = tool_grammar.grammar_text([tree])
    assert accepts(vocab, rules, call("tree", {"name": "a", "child": {"name": "b", "child": {"name": "c"}}}))
    assert not accepts(vocab, rules, call("tree", {"name": "a", "child": {"size": 1}}))


def test_a_remote_ref_is_never_fetched_and_accepts_any_value(vocab, monkeypatch):  # noqa: F811
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("the grammar build fetched a schema over the network")

    monkeypatch.setattr(requests, "get", no_network)
    remote = tool("remote", {"type": "object", "properties": {"a": {"$ref": "https://example.invalid/s.json"}},
                             "required": ["a"]})
    rules = tool_grammar.grammar_text([remote])
    assert accepts(vocab, rules, call("remote", {"a": [1, "two"]}))


def test_a_schema_the_converter_refuses_takes_any_object_and_the_others_keep_theirs(vocab):  # noqa: F811
    lookahead = tool("guarded", {"type": "object", "properties": {
        "a": {"type": "string", "pattern": "^(?!rm)[a-z]+$"}}, "required": ["a"]})
    rules = tool_grammar.grammar_text([lookahead, tool("label", LABEL)])
    assert accepts(vocab, rules, call("guarded", {"anything": 1}))
    assert accepts(vocab, rules, call("label", {"text": "hi"}))
    assert not accepts(vocab, rules, call("label", {"size": 1}))


def test_a_property_named_like_a_keyword_is_still_a_schema(vocab):  # noqa: F811
    odd = tool("odd", {"type": "object", "$defs": {"P": POINT},
                       "properties": {"default": {"$ref": "#/$defs/P"}}, "required": ["default"]})
    rules = tool_grammar.grammar_text([odd])
    assert accepts(vocab, rules, call("odd", {"default": {"x": 1, "y": 2}}))
    assert not accepts(vocab, rules, call("odd", {"default": {"x": "no"}}))


def test_the_tools_own_schema_is_not_changed(vocab):  # noqa: F811
    spec = model_parameter("distance", POINT)
    before = json.dumps(spec.parameters, sort_keys=True)
    tool_grammar.grammar_text([spec])
    assert json.dumps(spec.parameters, sort_keys=True) == before
