"""Fixtures for the examples: a throw-away git copy of `examples/lambda-scaffold`, and script steps that
scaffold a handler the way a model following its AGENTS.md would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.scripted_server import Reply, ToolCall

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lambda-scaffold"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA_FILE = EXAMPLE / "scaffold-report.schema.json"
NODE = shutil.which("node")


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """The example copied into a fresh git repository with one commit (no node_modules: tests run offline)."""
    repo = tmp_path / "orders-service"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("node_modules", "dist", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "orders-service")
    return repo


def handler_source(name: str) -> tuple[str, str]:
    """A handler and its test in the team's style (the getOrder fixtures, renamed)."""
    source = (FIXTURES / "getOrder.ts").read_text(encoding="utf-8")
    test = (FIXTURES / "getOrder.test.ts").read_text(encoding="utf-8")
    return source.replace("getOrder", name), test.replace("getOrder", name)


def add_handler_patch(name: str) -> str:
    """An apply_patch input adding src/handlers/<name>.ts and tests/<name>.test.ts."""
    source, test = handler_source(name)
    parts = ["*** Begin Patch\n"]
    for path, text in ((f"src/handlers/{name}.ts", source), (f"tests/{name}.test.ts", test)):
        parts.append(f"*** Add File: {path}\n")
        parts.extend(f"+{line}\n" for line in text.splitlines())
    parts.append("*** End Patch\n")
    return "".join(parts)


def check_command() -> list[str]:
    """The project's check as the agent runs it offline: plain Node, no node_modules needed."""
    if NODE:
        return ["node", "scripts/check.mjs"]
    return ["bash", "-lc", "ls src/handlers tests"]  # no node on this machine: a stand-in that exists


def report(name: str, tests_passed: bool = True) -> dict:
    return {
        "files_created": [f"src/handlers/{name}.ts", f"tests/{name}.test.ts"],
        "handlers": [name],
        "commands_run": [" ".join(check_command())],
        "tests_passed": tests_passed,
        "notes": f"{name} follows listOrders: DocumentClient at module scope, logger, try/catch.",
    }


def scaffold_steps(name: str, run_check: bool = True) -> list[Reply]:
    """A whole scaffold session: add the handler and its test, run the check, answer with the report."""
    steps = [Reply(text="", tool_calls=(ToolCall("apply_patch", {"input": add_handler_patch(name)}),))]
    if run_check:
        steps.append(Reply(text="Now the project's check.",
                           tool_calls=(ToolCall("shell", {"command": check_command()}),)))
    steps.append(Reply(text=json.dumps(report(name))))
    return steps
