"""Model quirks as data: which prompt profile and decoding aids a model gets on the embedded engine.

The table is `quirks.toml` beside this module: defaults, then rules matched against facts read from the
model's GGUF metadata (parameter count, name) and the context window in use; every matching rule sets its
keys, in order. The same keys in `[model_providers.embedded]` of config.toml override the result, so a
user can give a small model the full prompt, or a large one the compact profile, without code.

This module only decides; agent.models.prompt_profile builds the prompt and agent.models.embedded uses it.
It never looks at the user's request: nothing here depends on what a task says.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from agent.errors import UserError

PROFILES = ("full", "compact")
BITS_PER_PARAMETER = 4.5  # a typical GGUF quantisation, for models whose metadata has no size label
_SIZE_LABEL = re.compile(r"^(?:(\d+)x)?(\d+(?:\.\d+)?)([KMBT])$", re.IGNORECASE)
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


class QuirksError(UserError):
    """A model-quirks key in config.toml has a value the engine cannot use."""


@dataclass(frozen=True)
class ModelFacts:
    """What the rules can match on."""

    name: str
    parameters: int | None
    context: int


MCP_TOOL_PREFIX = "mcp__"  # agent.mcp.naming: Codex's names for MCP tools


@dataclass(frozen=True)
class ModelQuirks:
    prompt_profile: str = "full"
    first_step_tool_call: bool = False
    demonstrations: bool = False
    tools: tuple[str, ...] = ()  # the only tools offered; empty: all of them
    shell_programs: tuple[str, ...] = ()  # compact profile: a shell command starts with one of these; empty: any
    shell_forms: tuple[str, ...] = ()  # compact profile: a shell command is one of these forms (wins over programs)
    repeat_penalty: float | None = None  # the sampling default for this model (config's repeat_penalty wins)
    max_answer_tokens: int | None = None  # a cap on a text answer's length (a small model may repeat itself)
    copy_bias: float = 0.0  # logits added to the token that continues a run copied from a tool result (copy_bias.py)

    @property
    def compact(self) -> bool:
        return self.prompt_profile == "compact"

    def offers(self, tool_name: str) -> bool:
        """Whether the model is offered this tool. `tools` trims the built-in ones; a tool of an MCP server
        the user configured (`mcp__server__tool`) is always offered, unless `tools` names MCP tools itself."""
        if not self.tools or tool_name in self.tools:
            return True
        return tool_name.startswith(MCP_TOOL_PREFIX) and not any(t.startswith(MCP_TOOL_PREFIX) for t in self.tools)


def facts_from_metadata(metadata: Mapping[str, str], size_bytes: int, context: int) -> ModelFacts:
    name = metadata.get("general.name") or metadata.get("general.basename") or ""
    return ModelFacts(name, parameters_from_metadata(metadata, size_bytes), context)


def parameters_from_metadata(metadata: Mapping[str, str], size_bytes: int) -> int | None:
    """The parameter count from `general.size_label` ("135M", "1.7B", "8x7B"), else estimated from the file size."""
    match = _SIZE_LABEL.match(str(metadata.get("general.size_label", "")).strip())
    if match:
        experts = int(match.group(1) or 1)
        return int(experts * float(match.group(2)) * _SCALE[match.group(3).upper()])
    return int(size_bytes * 8 / BITS_PER_PARAMETER) if size_bytes > 0 else None


def load_table() -> dict[str, Any]:
    text = resources.files("agent.models").joinpath("quirks.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def choose(facts: ModelFacts, overrides: Mapping[str, Any], table: dict[str, Any] | None = None) -> ModelQuirks:
    """The quirks for a model: the table's defaults, every matching rule in order, then the config overrides."""
    table = load_table() if table is None else table
    keys = {f.name for f in fields(ModelQuirks)}
    chosen: dict[str, Any] = {k: v for k, v in table.get("defaults", {}).items() if k in keys}
    for rule in table.get("rule", []):
        if _matches(rule, facts):
            chosen.update({k: v for k, v in rule.items() if k in keys})
    chosen.update({k: v for k, v in overrides.items() if k in keys})
    return _validated(chosen)


def _matches(rule: Mapping[str, Any], facts: ModelFacts) -> bool:
    if "max_parameters" in rule and (facts.parameters is None or facts.parameters > rule["max_parameters"]):
        return False
    if "min_parameters" in rule and (facts.parameters is None or facts.parameters < rule["min_parameters"]):
        return False
    if "max_context" in rule and facts.context > rule["max_context"]:
        return False
    return not ("name_matches" in rule and not re.search(rule["name_matches"], facts.name, re.IGNORECASE))


def _validated(values: dict[str, Any]) -> ModelQuirks:
    profile = values.get("prompt_profile", "full")
    if profile not in PROFILES:
        raise QuirksError(f"prompt_profile = {profile!r} in [model_providers.embedded] is unknown: use "
                          f"{' or '.join(repr(p) for p in PROFILES)}.")
    return ModelQuirks(profile, bool(values.get("first_step_tool_call", False)),
                       bool(values.get("demonstrations", False)),
                       _names(values, "tools", '["shell", "apply_patch"]'),
                       _names(values, "shell_programs", '["ls", "cat", "git"]'),
                       _names(values, "shell_forms", '["ls -A", "head -n {n} {path}"]'),
                       _penalty(values.get("repeat_penalty")), _count(values.get("max_answer_tokens")),
                       _bias(values.get("copy_bias", 0.0)))


def _bias(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 30:
        raise QuirksError(f"copy_bias = {value!r} in [model_providers.embedded] must be a number from 0 (off) to "
                          "30, e.g. 5.")
    return float(value)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 16:
        raise QuirksError(f"max_answer_tokens = {value!r} in [model_providers.embedded] must be a whole number of "
                          "at least 16, e.g. 256.")
    return value


def _penalty(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise QuirksError(f"repeat_penalty = {value!r} in [model_providers.embedded] must be a positive number, "
                          "e.g. 1.1.")
    return float(value)


def _names(values: dict[str, Any], key: str, example: str) -> tuple[str, ...]:
    names = values.get(key, ())
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise QuirksError(f"{key} in [model_providers.embedded] must be a list of names, e.g. {key} = {example}.")
    return tuple(names)


# --- endpoints: how tools reach the model (the [endpoint] table) ------------------------------------------

TOOL_CALL_FORMATS = ("native", "text", "auto")


@dataclass(frozen=True)
class EndpointQuirks:
    """For a model behind an endpoint: `tool_call_format`, and which servers `auto` probes for dropped tools."""

    tool_call_format: str = "auto"
    probe_servers: tuple[str, ...] = ()


def endpoint_quirks(model: str, table: dict[str, Any] | None = None) -> EndpointQuirks:
    """The table's [endpoint] defaults, then every [[endpoint.rule]] whose name_matches matches `model`."""
    section = (load_table() if table is None else table).get("endpoint", {})
    chosen = section.get("tool_call_format", "auto")
    for rule in section.get("rule", []):
        if re.search(rule.get("name_matches", "$^"), model, re.IGNORECASE) and "tool_call_format" in rule:
            chosen = rule["tool_call_format"]
    if chosen not in TOOL_CALL_FORMATS:
        raise QuirksError(f"tool_call_format = {chosen!r} in agent/models/quirks.toml is unknown: use "
                          f"{' or '.join(repr(f) for f in TOOL_CALL_FORMATS)}.")
    return EndpointQuirks(chosen, tuple(section.get("probe_servers", ())))
