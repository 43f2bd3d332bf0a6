"""`--output-schema FILE`: the final message must be JSON valid against a JSON Schema.

The turn runs as usual; if its final answer does not already validate, the session asks once
more for the answer as JSON under the schema (a grammar on the embedded engine,
`response_format` / `text.format` on endpoints), and once more after a validation error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.errors import TurnStopped, UserError


class SchemaFileError(UserError):
    exit_code = 2


def load_output_schema(path: Path) -> dict[str, Any]:
    import jsonschema

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SchemaFileError(f"Cannot read --output-schema {path} ({e.strerror}): pass an existing JSON file.") from e
    except json.JSONDecodeError as e:
        raise SchemaFileError(f"--output-schema {path} line {e.lineno}: not valid JSON ({e.msg}).") from e
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise SchemaFileError(f"--output-schema {path} is not a valid JSON Schema: {e.message}.") from e
    return schema


def validation_error(text: str, schema: dict[str, Any]) -> str | None:
    """None when `text` is JSON valid against `schema`, else why not (one line)."""
    import jsonschema

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
    error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"at {where}: {error.message}"


def final_answer_prompt(schema: dict[str, Any]) -> str:
    return (
        "Give your final answer now as one JSON value that matches this JSON Schema, with no other text:\n"
        + json.dumps(schema, indent=1)
    )


def retry_prompt(error: str) -> str:
    return f"That answer does not match the schema ({error}). Answer again with the JSON value only."


def ensure_schema_answer(last_message: str, schema: dict[str, Any], ask: Callable[[str], str]) -> None:
    """Make the turn's final message JSON valid against the schema: unless it already is, `ask` the model with
    a prompt (it returns the reply's text), and once more after a validation error; else the turn fails."""
    error = validation_error(last_message, schema)
    prompt = final_answer_prompt(schema)
    for _attempt in range(2 if error else 0):  # the request, then one retry
        error = validation_error(ask(prompt), schema)
        if error is None:
            return
        prompt = retry_prompt(error)
    if error:
        raise SchemaMismatch(f"the final message does not match the --output-schema ({error})")


class SchemaMismatch(TurnStopped):
    """The turn's answer does not match --output-schema after the retries (turn.failed, reason output_schema)."""

    turn_failure = "output_schema"
