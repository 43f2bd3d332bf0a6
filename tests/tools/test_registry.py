"""The tool registry: built-in tools are records declared beside their code, and `dispatch` parses a call,
runs its tool for real (processes, files) and returns the output the model gets, already cut to
`tool_output_token_limit`."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.models.base import ToolCall
from agent.protocol import ApprovalRequested, Decision, ErrorItem, Event, FileChangeItem, ItemCompleted
from agent.tools import apply_patch_tool, plan_tool, registry, shell_tool
from agent.tools.context import ToolContext

MakeContext = Callable[..., ToolContext]


@pytest.fixture
def make_context(git_repo: Path, codex_home: Path) -> MakeContext:
    def make(*settings: str, ask: Callable[[ApprovalRequested], Decision] = lambda request: "deny",
             events: list[Event] | None = None) -> ToolContext:
        overrides = Overrides(cwd=git_repo, sandbox_mode="danger-full-access", approval_policy="never",
                              config_overrides=settings)
        config = load_config(overrides, dict(os.environ, CODEX_HOME=str(codex_home)))
        ids = iter(range(1, 1000))
        sink = events if events is not None else []
        return ToolContext(config, sink.append, lambda: f"item_{next(ids)}", threading.Event(), ask)

    return make


def test_each_builtin_tool_is_declared_in_the_module_named_for_it() -> None:
    assert registry.BUILTIN_TOOLS == (shell_tool.SHELL, apply_patch_tool.APPLY_PATCH, plan_tool.UPDATE_PLAN)
    assert registry.TOOL_NAMES == ("shell", "apply_patch", "update_plan")
    assert registry.TOOL_SPECS == (shell_tool.SPEC, apply_patch_tool.SPEC, plan_tool.SPEC)
    assert registry.tool_specs() == registry.TOOL_SPECS and registry.tool_names() == registry.TOOL_NAMES


def test_dispatch_cuts_the_output_to_tool_output_token_limit(make_context: MakeContext) -> None:
    command = ["python3", "-c", "print('\\n'.join(str(n) for n in range(3000)))"]
    call = ToolCall("call_1", "shell", json.dumps({"command": command}))
    limited = registry.dispatch(call, make_context("tool_output_token_limit=100"))
    assert len(limited.encode()) < 100 * 4 + 200  # the budget plus the cut marker
    assert limited.startswith("Exit code: 0") and "lines cut from the middle" in limited and "2999" in limited
    unlimited = registry.dispatch(call, make_context())
    assert len(unlimited.encode()) > 1000  # only the shell tool's own cut: 256 lines


def test_an_error_output_is_cut_to_the_limit_too(make_context: MakeContext) -> None:
    events: list[Event] = []
    output = registry.dispatch(ToolCall("call_1", "no_such_tool_" + "x" * 2000, "{}"),
                               make_context("tool_output_token_limit=50", events=events))
    assert output.startswith("error: unknown tool") and len(output.encode()) < 50 * 4 + 200
    assert [type(e.item) for e in events if isinstance(e, ItemCompleted)] == [ErrorItem]


def test_a_raw_patch_as_the_arguments_reaches_the_apply_patch_tool(make_context: MakeContext, git_repo: Path) -> None:
    events: list[Event] = []
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"
    output = registry.dispatch(ToolCall("call_1", "apply_patch", "  " + patch), make_context(events=events))
    assert output.startswith("Success.") and (git_repo / "hello.txt").read_text() == "hello\n"
    assert [e.item.status for e in events if isinstance(e, ItemCompleted) and isinstance(e.item, FileChangeItem)] \
        == ["completed"]


def test_raw_text_is_not_a_freeform_call_of_another_tool(make_context: MakeContext) -> None:
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"
    output = registry.dispatch(ToolCall("call_1", "update_plan", patch), make_context())
    assert output.startswith("error: the arguments of update_plan are not valid JSON")
