"""The TUI uses the core only through the contract: it submits ops to a session and draws the events; it reaches
no attribute of a `Session` (store, status, thread id, …), and imports no session internals."""

from __future__ import annotations

import ast
from pathlib import Path

import agent.tui

TUI = Path(agent.tui.__file__).parent
ALLOWED = {"submit", "start"}  # Session's whole surface for a front end
INTERNALS = ("agent.session_store", "agent.recorder", "agent.exec", "agent.rollout.load_rollout", "openai")


def _is_a_session(node: ast.expr) -> bool:
    """`session`, `old`, `self.session`, `hosted.session` or `self._opening`: the names front ends give a
    Session (`ctx.session` is the MCP SDK's own session with its client, not ours)."""
    if isinstance(node, ast.Name):
        return node.id in ("session", "old")
    return isinstance(node, ast.Attribute) and node.attr in ("session", "_opening") and \
        not ast.unparse(node.value).endswith("ctx")


def _reached(paths: list[Path]) -> list[str]:
    return [f"{path.name}:{node.lineno} .{node.attr}" for path in paths
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and _is_a_session(node.value) and node.attr not in ALLOWED]


def test_the_tui_reaches_no_session_attribute_but_submit_and_start():
    assert _reached(sorted(TUI.rglob("*.py"))) == []


def test_exec_and_the_mcp_server_reach_no_session_attribute_but_submit_and_start():
    assert _reached([TUI.parent / "exec.py", TUI.parent / "mcp" / "server.py"]) == []


def test_the_tui_imports_no_session_internals_and_no_network_client():
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{alias.name}" for alias in node.names] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}:{node.lineno} {name}" for name in names
                      if any(name == bad or name.startswith(bad + ".") for bad in INTERNALS)]
    assert found == []
