"""The command line as a newcomer meets it: help at every level, one error style, the documented exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.audit import AuditLog
from agent.redact import Redactor
from tests.conftest import RunCodex, codex_command

BAD_INPUT = {
    "unknown flag": ["--bogus"],
    "unknown exec flag": ["exec", "--bogus", "hi"],
    "exec resume without a session": ["exec", "resume"],
    "exec resume with a bad id": ["exec", "resume", "no-such-id", "hi"],
    "exec resume --last with no session": ["exec", "resume", "--last", "hi"],
    "a model file that is not there": ["exec", "--oss", "-m", "/no/such/model.gguf", "hi"],
    "a profile that is not there": ["exec", "-p", "nope", "hi"],
    "a working directory that is not there": ["exec", "-C", "/no/such/dir", "hi"],
    "a bad sandbox mode": ["exec", "-s", "sideways", "hi"],
    "--add-dir /": ["exec", "--add-dir", "/", "hi"],
    "sandbox without a command": ["sandbox"],
    "sandbox with a bad mode": ["sandbox", "-s", "nope", "--", "true"],
    "audit without an action": ["audit"],
    "audit with a bad action": ["audit", "bogus"],
    "models with a flag it does not take": ["models", "-s", "read-only"],
    "undo with a flag it does not take": ["undo", "--full-auto"],
    "mcp with a bad action": ["mcp", "bogus"],
    "TUI resume with a bad id": ["resume", "no-such-id"],
    "TUI resume --last with no session": ["resume", "--last"],
    "mcp-server with a bad flag": ["mcp-server", "--bogus"],
}


@pytest.mark.parametrize("args", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_error_line_and_exit_2(args: list[str], git_repo: Path, run_codex: RunCodex):
    run = run_codex(args, git_repo)
    assert run.returncode == 2, (run.stdout, run.stderr)
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr and "codex: error" not in run.stderr
    assert "loading" not in run.stderr.lower()  # nothing was loaded before the arguments were known to be valid


def test_an_unknown_exec_flag_shows_the_usage_of_exec(git_repo: Path, run_codex: RunCodex):
    run = run_codex(["exec", "--bogus", "hi"], git_repo)
    assert run.stderr.startswith("usage: codex exec ") and "--output-schema" in run.stderr


def test_top_level_help_lists_every_command_and_no_internal_name(run_codex: RunCodex, tmp_path: Path):
    run = run_codex(["--help"], tmp_path)
    assert run.returncode == 0
    assert "SUPPRESS" not in run.stdout and "exec-resume" not in run.stdout
    assert "codex [OPTIONS] [PROMPT]" in run.stdout  # the TUI form
    for command in ("exec", "resume", "undo", "sandbox", "audit", "models", "mcp", "mcp-server"):
        assert f"\n    {command} " in run.stdout, command


def test_exec_help_documents_resume_and_every_flag(run_codex: RunCodex, tmp_path: Path):
    run = run_codex(["exec", "--help"], tmp_path)
    assert "codex exec resume [--last | SESSION_ID] [PROMPT]" in " ".join(run.stdout.split())
    assert "--color" in run.stdout and "color the progress" in run.stdout
    resume = run_codex(["exec", "resume", "--help"], tmp_path)
    assert resume.stdout.startswith("usage: codex exec resume")


@pytest.mark.parametrize(("command", "absent"), [("models", "--sandbox"), ("undo", "--model"),
                                                 ("sandbox", "--model")])
def test_subcommand_help_says_what_it_does_and_lists_only_its_flags(command: str, absent: str, run_codex: RunCodex,
                                                                    tmp_path: Path):
    run = run_codex([command, "--help"], tmp_path)
    assert run.returncode == 0
    description = run.stdout.split("\n\n")[1]
    assert description.strip().endswith(".") and absent not in run.stdout


def test_exec_accepts_flags_before_resume_as_the_codex_sdk_passes_them(git_repo: Path, run_codex: RunCodex):
    run = run_codex(["exec", "--json", "-c", "model_context_window=4096", "resume", "no-such-id", "hi"], git_repo)
    assert run.returncode == 2 and "no session id starts with 'no-such-id'" in run.stdout  # a resume, in JSON


def test_writing_into_a_closed_pipe_ends_quietly(codex_home: Path, tmp_path: Path):
    log = AuditLog(codex_home, Redactor.from_config(None), session_id="s")
    for index in range(400):
        log.command(["echo", "x" * 200, str(index)], str(tmp_path), 0, "completed", True)
    reader = subprocess.Popen([*codex_command(), "audit", "show"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**__import__("os").environ, "CODEX_HOME": str(codex_home)})
    assert reader.stdout is not None and reader.stdout.readline()
    reader.stdout.close()  # what `| head -1` does
    _, stderr = reader.communicate(timeout=30)
    assert reader.returncode in (0, 141) and b"Traceback" not in stderr and b"Error" not in stderr, stderr
