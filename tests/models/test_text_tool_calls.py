"""recover_tool_calls: tool calls that local models print as text instead of native tool_calls."""

from __future__ import annotations

import json

from agent.models.text_tool_calls import recover_tool_calls

TOOLS = ("shell", "apply_patch", "update_plan")
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"


def only_call(text: str):
    calls = recover_tool_calls(text, TOOLS)
    assert len(calls) == 1, calls
    return calls[0]


def test_bare_json_object_is_a_call():
    call = only_call('{"name": "shell", "arguments": {"command": ["ls", "-la"]}}')

    assert call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["ls", "-la"]}
    assert call.call_id.startswith("call_")


def test_json_after_prose_is_a_call():
    text = 'Let me list the files first.\n{"name": "shell", "arguments": {"command": ["ls"]}}'

    call = only_call(text)

    assert call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["ls"]}


def test_fenced_json_block_is_a_call():
    text = 'I will run the tests.\n```json\n{"name": "shell", "arguments": {"command": ["pytest", "-q"]}}\n```\n'

    call = only_call(text)

    assert json.loads(call.arguments) == {"command": ["pytest", "-q"]}


def test_tool_call_tag_is_a_call():
    text = '<tool_call>\n{"name": "shell", "arguments": {"command": ["pwd"]}}\n</tool_call>'

    call = only_call(text)

    assert call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["pwd"]}


def test_several_tool_call_tags_give_calls_in_order_with_distinct_ids():
    text = (
        '<tool_call>{"name": "shell", "arguments": {"command": ["ls"]}}</tool_call>\n'
        '<tool_call>{"name": "update_plan", "arguments": {"plan": []}}</tool_call>'
    )

    calls = recover_tool_calls(text, TOOLS)

    assert [c.name for c in calls] == ["shell", "update_plan"]
    assert json.loads(calls[1].arguments) == {"plan": []}
    assert calls[0].call_id != calls[1].call_id


def test_tool_call_tag_without_closing_tag_is_still_a_call():
    text = '<tool_call>\n{"name": "shell", "arguments": {"command": ["git", "status"]}}\n'

    call = only_call(text)

    assert json.loads(call.arguments) == {"command": ["git", "status"]}


def test_function_wrapper_is_unwrapped():
    text = '{"type": "function", "function": {"name": "shell", "arguments": {"command": ["ls"]}}}'

    call = only_call(text)

    assert call.name == "shell"
    assert json.loads(call.arguments) == {"command": ["ls"]}


def test_parameters_key_is_read_as_arguments():
    call = only_call('{"name": "shell", "parameters": {"command": ["ls"]}}')

    assert json.loads(call.arguments) == {"command": ["ls"]}


def test_args_key_is_read_as_arguments():
    call = only_call('{"name": "shell", "args": {"command": ["ls"]}}')

    assert json.loads(call.arguments) == {"command": ["ls"]}


def test_arguments_given_as_a_json_string_are_kept_verbatim():
    encoded = json.dumps({"command": ["echo", "hi"]})
    text = json.dumps({"name": "shell", "arguments": encoded})

    call = only_call(text)

    assert call.arguments == encoded


def test_apply_patch_with_the_raw_patch_as_arguments_is_wrapped_as_input():
    text = json.dumps({"name": "apply_patch", "arguments": PATCH})

    call = only_call(text)

    assert call.name == "apply_patch"
    assert json.loads(call.arguments) == {"input": PATCH}


def test_object_naming_an_undeclared_tool_is_ignored():
    text = 'Here you go: {"name": "browser", "arguments": {"url": "https://example.com"}}'

    assert recover_tool_calls(text, TOOLS) == []


def test_undeclared_tool_is_ignored_even_when_declared_elsewhere():
    text = '{"name": "shell", "arguments": {"command": ["ls"]}}'

    assert recover_tool_calls(text, ("apply_patch",)) == []


def test_plain_prose_answer_has_no_calls():
    assert recover_tool_calls("The tests pass; I changed two files.", TOOLS) == []


def test_answer_showing_json_that_is_not_a_call_has_no_calls():
    text = (
        "Your package.json should look like this:\n"
        '```json\n{"name": "my-app", "version": "1.0.0", "scripts": {"test": "pytest"}}\n```\n'
        'and the list [1, 2, {"a": 3}] is fine too.'
    )

    assert recover_tool_calls(text, TOOLS) == []


def test_code_answer_with_braces_has_no_calls():
    text = (
        "```python\n"
        "def handler(event):\n"
        "    return {'status': 200, 'body': f\"{event['id']}\"}\n"
        "```\n"
    )

    assert recover_tool_calls(text, TOOLS) == []


def test_tag_with_invalid_json_yields_a_call_carrying_the_raw_text_and_the_name():
    body = '{"name": "shell", "arguments": {"command": ["ls"]'
    text = f"<tool_call>\n{body}\n</tool_call>"

    call = only_call(text)

    assert call.name == "shell"
    assert call.arguments == body


def test_tag_with_invalid_json_and_no_name_is_called_unknown():
    call = only_call("<tool_call>run ls please</tool_call>")

    assert call.name == "unknown"
    assert call.arguments == "run ls please"


def test_object_naming_a_tool_without_arguments_is_ordinary_json():
    answer = 'The config looks like this:\n```json\n{"name": "shell", "version": 2}\n```'
    assert recover_tool_calls(answer, TOOLS) == []
