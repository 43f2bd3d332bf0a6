"""The embedded engine's tool-call format and the grammar that makes it always parse.

A reply is either plain text (a final message; it may not start with "<") or exactly one
call written as

    <tool_call>
    {"name": "<tool>", "arguments": {...}}
    </tool_call>

The grammar is llama.cpp's JSON-schema → GBNF conversion of a `oneOf` over the declared
tools ({"name": const, "arguments": the tool's schema}), wrapped in the tags, so even a
135M model can only produce a well-formed call to a declared tool with arguments that
validate against its schema. We own this format (rather than a chat handler of
llama-cpp-python) because those handlers never parse calls back out of the text.

The compact profile (small models, agent.models.quirks) gets `compact_grammar` instead: hand-written
rules in which a shell call can only be `["bash", "-c", "<a command line>"]` (not a login shell, whose
profile output would come first in every result) starting with a known program (quirks data) or a
word, so no empty or blank command and no bare `["bash"]` that runs nothing; an apply_patch call can
only hold a patch in the apply_patch format (Begin/End Patch, file operations, hunk lines), each line
a JSON string line without raw control characters; a final answer holds no "<" (no echoed tags).
Other tools keep their schema rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from agent.models.base import ToolCall, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"

CALL_RULES = 'tc-call ::= "<tool_call>\\n" tc-json "\\n</tool_call>"\n'
TEXT_RULES = "tc-text ::= [^<\\x00] [^\\x00]*\n"
PLAIN_TEXT_RULES = "tc-text ::= [^<\\x00]+\n"  # compact profile: no markup at all (small models echo tags)
STRICT_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'


def calls_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """One schema for every call: a `oneOf` over the tools, each tool's own definitions moved to its root."""
    definitions: dict[str, Any] = {}
    variants = [{
        "type": "object",
        "properties": {"name": {"const": t.name}, "arguments": _standalone(t.parameters, f"t{i}-", definitions)},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    } for i, t in enumerate(tools)]
    return {"oneOf": variants, **({"$defs": definitions} if definitions else {})}


def _standalone(schema: Any, prefix: str, definitions: dict[str, Any]) -> Any:
    """A copy of one tool's schema that can stand inside the combined one: its `$defs` / `definitions` go to the
    root's `$defs` under names of its own (two tools may both define `Point`), `#` (the tool itself) becomes one
    of them, and its references follow. A reference that cannot be followed there (another document, which
    llama.cpp's converter would fetch over the network; a pointer into anything but a definition) accepts any
    value: the server still validates the arguments."""
    if not isinstance(schema, dict):
        return schema
    own = {**_mapping(schema.get("definitions")), **_mapping(schema.get("$defs"))}
    names = {f"#/{key}/{name}": f"{prefix}{name}" for key in ("definitions", "$defs") for name in own}
    names["#"] = f"{prefix}root"
    root = _renamed({k: v for k, v in schema.items() if k not in ("$defs", "definitions")}, names)
    definitions.update({f"{prefix}{name}": _renamed(body, names) for name, body in own.items()})
    if _refers_to(root, f"#/$defs/{prefix}root") or any(
            _refers_to(definitions[f"{prefix}{name}"], f"#/$defs/{prefix}root") for name in own):
        definitions[f"{prefix}root"] = root
    return root


DATA_KEYWORDS = ("const", "enum", "default", "examples")
ANY_VALUE = {"type": ["object", "array", "string", "number", "boolean", "null"]}  # llama.cpp reads {} as an object
SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _renamed(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_renamed(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        return {"$ref": f"#/$defs/{names[ref]}"} if ref in names else dict(ANY_VALUE)
    renamed: dict[str, Any] = {}
    for key, value in node.items():
        if key in DATA_KEYWORDS:  # values, not schemas: a "$ref" there is data
            renamed[key] = value
        elif key in SCHEMA_MAPS and isinstance(value, dict):  # its keys are names (a property called "default")
            renamed[key] = {name: _renamed(schema, names) for name, schema in value.items()}
        else:
            renamed[key] = _renamed(value, names)
    return renamed


def _refers_to(node: Any, ref: str) -> bool:
    if isinstance(node, list):
        return any(_refers_to(item, ref) for item in node)
    return isinstance(node, dict) and (node.get("$ref") == ref or any(_refers_to(v, ref) for v in node.values()))


def grammar_text(tools: Sequence[ToolSpec], call_required: bool = False,
                 answer_schema: dict[str, Any] | None = None) -> str:
    """GBNF accepting one call to one of `tools`, or (unless `call_required`) a final message:
    free text, or with `answer_schema` one JSON value valid against it."""
    renamed = _schema_call_rules(tools).rstrip("\n")
    if call_required:
        return f"{renamed}\nroot ::= tc-call\n{CALL_RULES}"
    if answer_schema is not None:
        answer = prefix_rules(schema_grammar(answer_schema), "ans-")
        return f"{renamed}\n{answer}\nroot ::= tc-call | ans-root\n{CALL_RULES}"
    return f"{renamed}\nroot ::= tc-call | tc-text\n{CALL_RULES}{TEXT_RULES}"


# The compact profile's rules, in GBNF (llama.cpp's grammar format). Every literal produces exactly the
# text json.dumps writes for the same call, so demonstrations and generated calls look the same.
COMPACT_RULES = r"""
c-shell ::= "\"shell\", \"arguments\": {\"command\": [\"bash\", \"-c\", \"" c-cmd "\"]}"
c-patch ::= "\"apply_patch\", \"arguments\": {\"input\": \"*** Begin Patch" c-nl c-op{1,4} "*** End Patch\"}"
c-op ::= c-add | c-delete | c-update
c-add ::= "*** Add File: " c-path c-nl c-plus{1,40}
c-plus ::= "+" c-char{0,200} c-nl
c-delete ::= "*** Delete File: " c-path c-nl
c-update ::= "*** Update File: " c-path c-nl ("*** Move to: " c-path c-nl)? c-hunk{0,4}
c-hunk ::= "@@" (" " c-char{1,200})? c-nl c-line{1,20}
c-line ::= [ +-] c-char{0,200} c-nl
c-path ::= [a-zA-Z0-9_.] [a-zA-Z0-9_./-]{0,120}
c-nl ::= "\\n"
c-char ::= [^"\\\x00-\x1F] | "\\" ["\\/bfrt] | "\\u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F]
c-cmd-char ::= [^"\\<\x00-\x1F] | "\\" ["\\/bfrt]
"""
MAX_COMMAND_CHARS = 300  # a command line longer than this is a model repeating itself (patches are bounded too)
COMPACT_BODIES = {"shell": "c-shell", "apply_patch": "c-patch"}


def command_rule(programs: Sequence[str] = ()) -> str:
    """The shell command line: one of `programs` (a name ending in "/", such as "./", is a path prefix) then its
    arguments, or (no programs) any line that starts a word; one line, bounded, without "<" (which is also how
    chat-template markup such as "<|im_end|>" would begin)."""
    rest = f"c-cmd-char{{0,{MAX_COMMAND_CHARS}}}"
    if not programs:
        return f"c-cmd ::= [a-zA-Z_./~(] {rest}\n"
    names = " | ".join(json.dumps(p) + (" c-path" if p.endswith("/") else "") for p in programs)
    return f'c-cmd ::= ({names}) (" " {rest})?\n'


# Slots of a command form (quirks data `shell_forms`, e.g. "head -n {n} {path}") and the GBNF each stands for.
FORM_SLOTS = {
    "path": "c-path",
    "path_pair": 'c-path " " c-path',  # "{path} {path}" in a form: two names (agent.models.slot_values)
    "n": "[0-9] [0-9]? [0-9]?",
    "word": "[a-zA-Z0-9_] [a-zA-Z0-9_.-]{0,59}",
    "text": "\"'\" [^'\"\\\\<\\x00-\\x1F]{0,200} \"'\"",
    "sed": "\"'s/\" [^/'\"\\\\<\\x00-\\x1F]{1,100} \"/\" [^/'\"\\\\<\\x00-\\x1F]{0,100} \"/g'\"",
}


def forms_rule(forms: Sequence[str], slots: Mapping[str, str] | None = None) -> str:
    """The shell command line as one of a few command forms: literal text with {slot}s, each slot's GBNF from
    `slots` (values copied from the conversation, agent.models.slot_values) or else FORM_SLOTS."""
    slot_rules = {**FORM_SLOTS, **(slots or {})}
    alternatives = []
    for form in forms:
        parts = []
        for index, piece in enumerate(form.replace("{path} {path}", "{path_pair}").replace("}", "{").split("{")):
            if index % 2:
                if piece not in FORM_SLOTS:
                    raise ValueError(f"unknown slot {{{piece}}} in shell form {form!r}; slots: {', '.join(FORM_SLOTS)}")
                parts.append(slot_rules[piece])
            elif piece:
                parts.append(json.dumps(piece))
        alternatives.append(" ".join(parts))
    return "c-cmd ::= " + " | ".join(f"({a})" for a in alternatives) + "\n"


def compact_grammar(tools: Sequence[ToolSpec], call_required: bool = False, text_only: bool = False,
                    answer_schema: dict[str, Any] | None = None, programs: Sequence[str] = (),
                    plain_text: bool = True, forms: Sequence[str] = (), slots: Mapping[str, str] | None = None) -> str:
    """GBNF for the compact profile: one call (shell and apply_patch by COMPACT_RULES, any other tool by its
    schema), or a final message (text without "<" when `plain_text`, or JSON under `answer_schema`).
    `text_only`: the answer branch only (after the loop guard or the step limit)."""
    answer_rules, answer = PLAIN_TEXT_RULES if plain_text else TEXT_RULES, "tc-text"
    if answer_schema is not None:
        answer_rules, answer = prefix_rules(schema_grammar(answer_schema), "ans-") + "\n", "ans-root"
    if text_only:
        return f"root ::= {answer}\n{answer_rules}"
    bodies = [COMPACT_BODIES[t.name] for t in tools if t.name in COMPACT_BODIES]
    others = [t for t in tools if t.name not in COMPACT_BODIES]
    alternatives = ['"<tool_call>\\n{\\"name\\": " (' + " | ".join(bodies) + ') "}\\n</tool_call>"'] if bodies else []
    rules = COMPACT_RULES + (forms_rule(forms, slots) if forms else command_rule(programs))
    if others:
        alternatives.append("tc-call")
        rules += _schema_call_rules(others) + CALL_RULES
    root = "root ::= c-call" if call_required else f"root ::= c-call | {answer}"
    grammar = f"{root}\nc-call ::= {' | '.join(alternatives)}\n{rules}"
    return grammar if call_required else grammar + answer_rules


def _schema_call_rules(tools: Sequence[ToolSpec]) -> str:
    """The `tc-json` rules: llama.cpp's conversion of `calls_schema`. A tool whose schema the converter refuses
    (a `pattern` with a lookahead, a keyword it does not know how to combine) takes any JSON object as its
    arguments instead, so one odd tool of an MCP server never breaks every request."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        converted = json_schema_to_gbnf(json.dumps(calls_schema(tools)))
    except Exception:  # the converter raises AssertionError, ValueError, KeyError, ... for what it cannot take
        converted = json_schema_to_gbnf(json.dumps(calls_schema([t if _converts(t) else _loose(t) for t in tools])))
    return "\n".join(
        "tc-json ::=" + line[len("root ::=") :] if line.startswith("root ::=") else line
        for line in converted.splitlines()
    ) + "\n"


def _converts(tool: ToolSpec) -> bool:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        json_schema_to_gbnf(json.dumps(calls_schema([tool])))
    except Exception:
        return False
    return True


def _loose(tool: ToolSpec) -> ToolSpec:
    return ToolSpec(tool.name, tool.description, {"type": "object"})


def prefix_rules(gbnf: str, prefix: str) -> str:
    """Rename every rule of a GBNF grammar (definitions and references) so two converted grammars can be
    combined without clashes; string literals and character classes are left alone."""
    return "\n".join(_prefix_line(line, prefix) for line in gbnf.splitlines() if line.strip())


def _prefix_line(line: str, prefix: str) -> str:
    out, i = [], 0
    while i < len(line):
        char = line[i]
        if char in "\"[":
            end = _literal_end(line, i)
            out.append(line[i:end])
            i = end
        elif char.isalpha():
            end = i
            while end < len(line) and (line[end].isalnum() or line[end] == "-"):
                end += 1
            out.append(prefix + line[i:end])
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _literal_end(line: str, start: int) -> int:
    closing = '"' if line[start] == '"' else "]"
    i = start + 1
    while i < len(line) and line[i] != closing:
        i += 2 if line[i] == "\\" else 1
    return i + 1


def schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF for one JSON value valid against `schema`; a schema llama.cpp cannot convert is an error,
    not a silent fall-back to unconstrained JSON."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from agent.models.base import ModelRequestFailed

    try:
        converted = json_schema_to_gbnf(json.dumps(schema))
    except Exception as e:  # the converter raises bare exceptions of several kinds
        raise ModelRequestFailed(
            f"llama.cpp cannot turn the --output-schema into a grammar ({e}): simplify the schema "
            "(e.g. avoid unsupported keywords) or use an endpoint provider."
        ) from e
    return strict_strings(converted)


def strict_strings(gbnf: str) -> str:
    """The grammar with JSON strings that hold no raw control characters.

    llama-cpp-python's converter lets a string character be anything but a quote or a backslash, so a
    model can put a raw newline inside a string, which strict JSON parsers (ours, jq, a CI script) reject.
    Tool calls keep the loose rule (a patch is many lines; we parse those leniently); a final answer
    under --output-schema is read by other programs and gets this one.
    """
    return "\n".join(STRICT_CHAR_RULE if line.startswith("char ::=") else line for line in gbnf.splitlines())


def tools_prompt(tools: Sequence[ToolSpec]) -> str:
    """The system-prompt section that teaches the model the call format and the tools."""
    lines = [
        "# Tools",
        "To use a tool, reply with only a tool call, exactly like this:",
        OPEN,
        '{"name": "shell", "arguments": {"command": ["bash", "-lc", "ls"]}}',
        CLOSE,
        "You get the tool's result in the next message. Call one tool per reply.",
        "A reply without a tool call is your final answer to the user and ends your turn.",
        "",
        "Available tools (arguments as JSON schema):",
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {tool.description}")
        lines.append(f"  arguments: {json.dumps(tool.parameters, separators=(',', ':'))}")
    return "\n".join(lines)


def compact_tools_prompt(tools: Sequence[ToolSpec]) -> str:
    """The compact profile's tool section: the call format once, one line per tool, no schemas."""
    lines = [
        "# Tools",
        "To use a tool, reply with one tool call and nothing else:",
        OPEN,
        '{"name": "shell", "arguments": {"command": ["bash", "-c", "<one bash command line>"]}}',
        CLOSE,
    ]
    for tool in tools:
        lines.append(f"- {tool.name}: {COMPACT_DESCRIPTIONS.get(tool.name) or _first_sentence(tool.description)}")
    lines.append("The tool's result comes in the next message. Then reply with your answer in plain text.")
    return "\n".join(lines)


COMPACT_DESCRIPTIONS = {
    "shell": "runs the command line in the repository and returns its exit code and output; it can read, "
             "search, count, create, append to, move and delete files, run programs and git.",
    "apply_patch": 'edits files, e.g. {"input": "*** Begin Patch\\n*** Update File: notes.md\\n@@\\n-old line'
                   '\\n+new line\\n*** End Patch"}.',
}


def _first_sentence(text: str) -> str:
    head = text.split("\n", 1)[0]
    return head.split(". ", 1)[0].rstrip(".") + "."


def could_become_call(text: str) -> bool:
    """True while a streamed reply may still turn out to be a tool call (so it is not shown yet)."""
    stripped = text.lstrip()
    return OPEN.startswith(stripped) or stripped.startswith(OPEN)


def parse_reply(text: str, call_id: str) -> ToolCall | None:
    """The call in a reply produced under the grammar, or None for a final message."""
    stripped = text.strip()
    if not stripped.startswith(OPEN):
        return None
    body = stripped[len(OPEN) :].removesuffix(CLOSE).strip()
    # The grammar lets strings hold raw newlines (as a patch does); strict=False accepts them.
    try:
        obj = json.loads(body, strict=False)
    except json.JSONDecodeError:  # cut off at the end of the window: the tool router reports the bad JSON
        name = body.split('"name": "', 1)[-1].split('"', 1)[0] if '"name": "' in body else "shell"
        return ToolCall(call_id, name, body)
    return ToolCall(call_id, obj["name"], json.dumps(obj["arguments"], ensure_ascii=False))


def render_call(call: ToolCall) -> str:
    """How an earlier call appears in the prompt: the same text the model produced."""
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError:
        arguments = call.arguments
    body = json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"
