"""What the embedded engine puts before the conversation, and the grammar it decodes under, per prompt profile.

Two profiles (chosen by agent.models.quirks):

- **full**: the session's instructions (Codex's base prompt) plus the tools with their JSON schemas, and the
  JSON-schema grammar of agent.models.tool_grammar.
- **compact** (small models, small windows): a short system prompt (agent/prompts/compact_instructions.md), a
  one-line tool section, worked examples as earlier turns of the conversation (agent/prompts/demonstrations.toml:
  request, tool call, tool result, answer), and a hand-written grammar in which a shell call is always a real
  command line. With `first_step_tool_call`, the first reply of a turn must be a call: a small model that
  answers at once invents the repository; one that looks first copies what it saw.

The prefix (system message and demonstrations) is the same bytes for every request of a profile and tool set,
so its KV state can be cached (agent.models.prefix_cache). The request and this turn's tool results are read
for one thing only: the values a command form's slots may copy (agent.models.slot_values).
This module does not tokenize, render chat templates or run the model.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from agent.models import demo_selection, tool_grammar
from agent.models.base import Message, ModelRequest, ToolSpec
from agent.models.quirks import MCP_TOOL_PREFIX, ModelQuirks
from agent.models.slot_values import SlotValues

DEMO_ELAPSED_S = 0.0


@dataclass(frozen=True)
class DemoStep:
    command: str
    output: str
    form: str = ""  # the command's shell form (quirks `shell_forms` syntax)
    tools: tuple[str, ...] = ()  # a step that calls one of these MCP tools (named in the request), not shell


@dataclass(frozen=True)
class Demonstration:
    user: str
    steps: tuple[DemoStep, ...]  # the calls, in order
    answer: str
    also: tuple[str, ...] = ()  # other phrasings of the request, for choosing examples (agent.models.demo_selection)
    prefix: bool = False  # part of the byte-stable prefix of every prompt


@cache
def _prompt_text(name: str) -> str:
    return resources.files("agent.prompts").joinpath(name).read_text(encoding="utf-8")


def stock_instructions() -> str:
    """The session's default instructions (agent/prompts/base_instructions.md)."""
    return _prompt_text("base_instructions.md")


def compact_instructions() -> str:
    return _prompt_text("compact_instructions.md").strip()


@cache
def demonstrations() -> tuple[Demonstration, ...]:
    table = tomllib.loads(_prompt_text("demonstrations.toml"))
    return tuple(Demonstration(d["user"], tuple(DemoStep(step["command"], step["output"], step.get("form", ""))
                                                for step in [d, *d.get("then", ())]),
                               d["answer"], tuple(d.get("also", ())), d.get("prefix", False))
                 for d in table.get("demo", []))


@cache
def _candidates() -> tuple[demo_selection.Candidate, ...]:
    return tuple(demo_selection.Candidate((d.user, *d.also)) for d in demonstrations())


@dataclass(frozen=True)
class _Choice:
    """What a request is nearest to: worked examples, or MCP tools it names (then the turn's first call is to
    one of them, and no example is shown)."""

    demos: tuple[Demonstration, ...] = ()
    tools: tuple[str, ...] = ()


def _name_words(name: str) -> frozenset[str]:
    """An MCP tool's server and tool names as selection words: mcp__time__get_current_time -> time, get, current."""
    words = name.removeprefix(MCP_TOOL_PREFIX).replace("_", " ").replace("-", " ")
    return frozenset(demo_selection.words(words))


@cache
def _examples_vocabulary() -> frozenset[str]:
    return frozenset(w for candidate in _candidates() for phrasing in candidate.phrasings
                     for w in demo_selection.words(phrasing))


def _is_mcp(tool: ToolSpec) -> bool:
    return tool.name.startswith(MCP_TOOL_PREFIX)


TURN_DEMONSTRATIONS = 1  # examples chosen per request (agent.models.demo_selection); more confused SmolLM2-135M


SHELL_OUTPUT_MARK = "\nOutput:\n"


def tool_result_text(output: str, count_lines: bool = False) -> str:
    """How a tool result reaches the model. With `count_lines` (compact profile) a shell result's header also
    says how many lines the output has: a small model copies a number well but cannot count."""
    if count_lines and SHELL_OUTPUT_MARK in output:
        head, body = output.split(SHELL_OUTPUT_MARK, 1)
        lines = len(body.splitlines())
        output = f"{head}\nOutput ({lines} line{'' if lines == 1 else 's'}):\n{body}"
    return f"<tool_response>\n{output}\n</tool_response>"


def demo_shell_output(output: str) -> str:
    """A demonstration's command result in the shell tool's format (agent.tools.process_runner.format_for_model)."""
    from agent.tools.process_runner import ShellResult, format_for_model

    return format_for_model(ShellResult(0, output + ("\n" if output else ""), DEMO_ELAPSED_S))


def shell_call_text(command: str) -> str:
    """A shell call exactly as the compact grammar makes the model write it."""
    body = json.dumps({"name": "shell", "arguments": {"command": ["bash", "-c", command]}}, ensure_ascii=False)
    return f"{tool_grammar.OPEN}\n{body}\n{tool_grammar.CLOSE}"


class PromptProfile:
    def __init__(self, quirks: ModelQuirks):
        self.quirks = quirks

    def tools(self, request: ModelRequest) -> tuple[ToolSpec, ...]:
        return tuple(t for t in request.tools if self.quirks.offers(t.name))

    def system_text(self, request: ModelRequest) -> str:
        tools = self.tools(request)
        if not self.quirks.compact:
            return request.instructions + ("\n\n" + tool_grammar.tools_prompt(tools) if tools else "")
        # The compact prompt stands in for the stock instructions only; other instructions are kept.
        base = compact_instructions() if request.instructions == stock_instructions() else request.instructions
        return base + ("\n\n" + tool_grammar.compact_tools_prompt(tools) if tools else "")

    def prefix_messages(self, request: ModelRequest) -> list[dict[str, str]]:
        """What comes before the conversation: the system message and, for a compact profile with a shell tool,
        the demonstrations, the thread's first request's example last."""
        return self.prefix_levels(request)[-1]

    def prefix_levels(self, request: ModelRequest) -> list[list[dict[str, str]]]:
        """The fixed prefixes the prompt starts with, shortest first, each a KV state worth keeping on disk
        (agent.models.prefix_cache): the system message and the prefix examples (the same in every run), then
        that plus the thread's first request's example (the same in every run of that kind of request; it stays
        the same for the whole thread)."""
        messages = [{"role": "system", "content": self.system_text(request)}]
        if not self._shows_demonstrations(request):
            return [messages]
        for demo in demonstrations():
            if demo.prefix:
                messages += self._demo_messages(demo)
        first = _request_index(request.messages, first=True)
        chosen = self._choice(request, request.messages[first].content if first is not None else "").demos
        extended = messages + [m for demo in chosen for m in self._demo_messages(demo)]
        return [messages, extended] if chosen else [messages]

    def turn_demonstrations(self, request: ModelRequest) -> list[dict[str, str]]:
        """For a later request of the thread, the examples most like it, shown right before it (the first
        request's example is at the end of the prefix instead)."""
        if not self._shows_demonstrations(request):
            return []
        if _request_index(request.messages) == _request_index(request.messages, first=True):
            return []
        return [m for demo in self._nearest(request) for m in self._demo_messages(demo)]

    def with_turn_demonstrations(self, request: ModelRequest,
                                 conversation: list[dict[str, str]]) -> list[dict[str, str]]:
        """`conversation` (request.messages, one chat message each) with turn_demonstrations right before this
        turn's request (not before a notice of the session that came after it)."""
        shown = self.turn_demonstrations(request)
        index = _request_index(request.messages)
        if not shown or index is None:
            return conversation
        return [*conversation[:index], *shown, *conversation[index:]]

    def _nearest(self, request: ModelRequest) -> tuple[Demonstration, ...]:
        return self._turn_choice(request).demos

    def _turn_choice(self, request: ModelRequest) -> _Choice:
        if not self._shows_demonstrations(request):
            return _Choice()
        return self._choice(request, _this_turn(request.messages)[0])

    def _choice(self, request: ModelRequest, text: str) -> _Choice:
        return _nearest_to(text, tuple((t.name, len(t.parameters.get("required") or ())) for t in self.tools(request)
                                       if _is_mcp(t)))

    def _shows_demonstrations(self, request: ModelRequest) -> bool:
        return self.quirks.demonstrations and any(t.name == "shell" for t in self.tools(request))

    def _demo_messages(self, demo: Demonstration) -> list[dict[str, str]]:
        messages = [{"role": "user", "content": demo.user}]
        for step in demo.steps:
            messages += [{"role": "assistant", "content": shell_call_text(step.command)},
                         {"role": "user", "content": self.tool_result(demo_shell_output(step.output))}]
        return [*messages, {"role": "assistant", "content": demo.answer}]

    def forms(self, request: ModelRequest) -> tuple[str, ...]:
        """The shell forms a call may take: while the nearest example still has a step at this point of the
        turn (step k of the turn, step k of the example), that step's form; else every form of the quirks."""
        planned = self._planned_step(request)
        return (planned.form,) if planned is not None else self.quirks.shell_forms

    def _planned_step(self, request: ModelRequest) -> DemoStep | None:
        """With `first_step_tool_call` and command forms: the step of the nearest example this reply follows,
        when it has one and its form is among the quirks' forms."""
        plan, done = self._plan(request)
        step = plan[done] if done < len(plan) else None
        return step if step is not None and step.form in self.quirks.shell_forms else None

    def planned_tools(self, request: ModelRequest) -> tuple[str, ...]:
        """The MCP tools one of which this reply must call: the request names them, and it is the turn's first
        call (with `first_step_tool_call` and command forms, as for the examples' plans)."""
        plan, done = self._plan(request)
        return plan[done].tools if done < len(plan) else ()

    def answer_only(self, request: ModelRequest) -> bool:
        """The reply must be the final answer in text: asked for (the loop guard, the step limit), or the
        nearest example's calls are all made."""
        return request.tool_choice == "none" or self.plan_done(request)

    def turn_results(self, request: ModelRequest) -> list[str]:
        """This turn's tool results, as the model saw them."""
        return _this_turn(request.messages)[1]

    def plan_done(self, request: ModelRequest) -> bool:
        """True when this turn has made every call of the nearest example: what is left is the answer (the
        smallest models otherwise repeat the last call until the loop guard stops them)."""
        plan, done = self._plan(request)
        return bool(plan) and done >= len(plan)

    def _plan(self, request: ModelRequest) -> tuple[tuple[DemoStep, ...], int]:
        """The nearest example's steps (none unless `first_step_tool_call` with command forms, tool choice
        "auto") and how many calls this turn has made."""
        if not (self.quirks.first_step_tool_call and self.quirks.shell_forms and request.tool_choice == "auto"):
            return (), 0
        choice = self._turn_choice(request)
        steps = (DemoStep("", "", tools=choice.tools),) if choice.tools else choice.demos[-1].steps if choice.demos \
            else ()
        return steps, len(_this_turn(request.messages)[1])

    def tool_result(self, output: str) -> str:
        return tool_result_text(output, count_lines=self.quirks.compact)

    def call_required(self, request: ModelRequest) -> bool:
        """The reply must be a call: when asked for, on a turn's first step (`first_step_tool_call`), and while
        the nearest example has a further step (it looked first, then changed the file)."""
        if request.tool_choice == "required":
            return True
        if not (self.quirks.first_step_tool_call and request.tool_choice == "auto"):
            return False
        return _first_step(request.messages) or self._planned_step(request) is not None or \
            bool(self.planned_tools(request))

    def grammar_rules(self, request: ModelRequest) -> str | None:
        """The GBNF the reply is decoded under, or None for free text."""
        tools = self.tools(request)
        if not tools:
            return tool_grammar.schema_grammar(request.output_schema) if request.output_schema is not None else None
        text_only = self.answer_only(request)
        if self.quirks.compact:
            planned = self.planned_tools(request)
            tools = tuple(t for t in tools if t.name in planned) if planned else tools
            return tool_grammar.compact_grammar(tools, call_required=self.call_required(request),
                                                text_only=text_only, answer_schema=request.output_schema,
                                                programs=self.quirks.shell_programs, forms=self.forms(request),
                                                slots=self.slot_rules(request))
        if text_only:
            return tool_grammar.compact_grammar((), text_only=True, answer_schema=request.output_schema,
                                                plain_text=False)
        return tool_grammar.grammar_text(tuple(_without_no_ops(t) for t in tools),
                                         call_required=self.call_required(request),
                                         answer_schema=request.output_schema)

    def slot_rules(self, request: ModelRequest) -> dict[str, str] | None:
        """With command forms: what their slots may hold, copied from this turn (agent.models.slot_values)."""
        if not self.quirks.shell_forms:
            return None
        request_text, results = _this_turn(request.messages)
        return SlotValues.from_conversation(request_text, results).rules()


@lru_cache(maxsize=64)  # asked several times per request (forms, plan, grammar, prompt)
def _nearest_to(text: str, offered: tuple[tuple[str, int], ...] = ()) -> _Choice:
    """The MCP tools of `offered` (name, how many arguments it requires) whose names share the most words with
    the request, counting only words no worked example has (a request about "time" goes to the time server; one
    about reading a file stays with the example that reads one, which works), of those the ones that require
    the fewest arguments (a small model fills few well); else the examples nearest to the request."""
    request = set(demo_selection.words(text))
    shared = {(name, required): len(request & (_name_words(name) - _examples_vocabulary()))
              for name, required in offered}
    named = sorted((-count, required, name) for (name, required), count in shared.items() if count)
    if named:
        return _Choice(tools=tuple(name for count, required, name in named if (count, required) == named[0][:2]))
    pool = demonstrations()
    return _Choice(demos=tuple(pool[i] for i in demo_selection.nearest(text, _candidates(), TURN_DEMONSTRATIONS)))


def _request_index(messages: tuple[Message, ...], first: bool = False) -> int | None:
    """Where this turn's request is (or, with `first`, the thread's first request: the last user message before
    any reply). The session's own notices (the loop guard's, the --output-schema ask) are not requests."""
    replied = next((i for i, m in enumerate(messages) if m.role != "user"), len(messages))
    end = replied if first else len(messages)
    for index in range(end - 1, -1, -1):
        if messages[index].role == "user" and not messages[index].notice:
            return index
    return None


def _this_turn(messages: tuple[Message, ...]) -> tuple[str, list[str]]:
    """The request that began this turn and the tool results that came after it."""
    index = _request_index(messages)
    start = -1 if index is None else index
    return ("" if index is None else messages[index].content,
            [m.content for m in messages[start + 1:] if m.role == "tool"])


def _without_no_ops(tool: ToolSpec) -> ToolSpec:
    """For the grammar only (the schema on the wire is the spec's): a shell argv of at least one non-empty word."""
    command = tool.parameters.get("properties", {}).get("command")
    if tool.name != "shell" or not isinstance(command, dict) or command.get("type") != "array":
        return tool
    strict = {**command, "minItems": 1, "items": {**command.get("items", {}), "minLength": 1}}
    properties = {**tool.parameters["properties"], "command": strict}
    return ToolSpec(tool.name, tool.description, {**tool.parameters, "properties": properties})


def _first_step(messages: tuple[Message, ...]) -> bool:
    """True when the reply is the turn's first: the last message is the user's, not a tool result."""
    return bool(messages) and messages[-1].role == "user"
