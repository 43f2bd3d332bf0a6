"""The shell tool: argument parsing (shell_tool), environment policy (command_env), running real processes
(process_runner) and cutting output (truncation)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from agent.config import ShellEnvironmentPolicy
from agent.tools.command_env import CORE_ENV_VARS, build_env
from agent.tools.process_runner import ShellResult, format_for_model, run
from agent.tools.shell_tool import ShellArgumentError, ShellParams, parse_params, resolve_workdir
from agent.tools.truncation import truncate_middle

BASE_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/me",
    "LANG": "C.UTF-8",
    "EDITOR": "vim",
    "OPENAI_API_KEY": "sk-1",
    "GITHUB_TOKEN": "ghp-2",
    "DB_SECRET": "s3",
    "aws_session_token": "t4",
    "AWS_REGION": "eu-west-1",
    "LC_ALL": "C",
}


def process_alive(pid: int) -> bool:
    """True while pid runs; a zombie (killed, not yet reaped by its new parent) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until_gone(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.02)
    return False


def bash(script: str) -> list[str]:
    return ["bash", "-c", script]


# --- parse_params ---------------------------------------------------------------------------------------


def test_argv_list_is_kept_as_given():
    params = parse_params({"command": ["git", "status", "--short"], "workdir": "src", "justification": "why"})

    assert params.command == ("git", "status", "--short")
    assert params.workdir == "src"
    assert params.justification == "why"
    assert params.timeout_ms is None
    assert params.with_escalated_permissions is False


def test_plain_string_command_runs_with_bash_lc():
    params = parse_params({"command": "ls -la | head"})

    assert params.command == ("bash", "-lc", "ls -la | head")
    assert params.display == "bash -lc 'ls -la | head'"


@pytest.mark.parametrize("command", [None, [], "", "   ", ["ls", 3], {"argv": ["ls"]}])
def test_command_that_is_not_a_list_of_strings_is_rejected(command):
    with pytest.raises(ShellArgumentError, match='"command" must be a non-empty list of strings'):
        parse_params({"command": command} if command is not None else {})


@pytest.mark.parametrize(("given", "expected"), [(5000, 5000), (2500.9, 2500), (0, None), (-10, None),
                                                 ("5000", None), (None, None)])
def test_timeout_ms_is_a_positive_number_or_none(given, expected):
    assert parse_params({"command": ["ls"], "timeout_ms": given}).timeout_ms == expected


def test_empty_workdir_means_the_session_cwd():
    assert parse_params({"command": ["ls"], "workdir": ""}).workdir is None


# --- resolve_workdir ------------------------------------------------------------------------------------


def test_workdir_defaults_to_cwd(tmp_path: Path):
    assert resolve_workdir(ShellParams(("ls",)), tmp_path) == tmp_path


def test_relative_workdir_is_resolved_against_cwd(tmp_path: Path):
    (tmp_path / "src" / "pkg").mkdir(parents=True)

    assert resolve_workdir(ShellParams(("ls",), workdir="src/pkg/.."), tmp_path) == (tmp_path / "src").resolve()


def test_absolute_workdir_is_used_as_is(tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()

    assert resolve_workdir(ShellParams(("ls",), workdir=str(other)), tmp_path / "elsewhere") == other


@pytest.mark.parametrize("workdir", ["missing", "file.txt"])
def test_workdir_that_is_not_a_directory_is_rejected(tmp_path: Path, workdir: str):
    (tmp_path / "file.txt").write_text("x")

    with pytest.raises(ShellArgumentError, match=f"workdir '{workdir}' is not a directory"):
        resolve_workdir(ShellParams(("ls",), workdir=workdir), tmp_path)


# --- build_env ------------------------------------------------------------------------------------------


def test_inherit_all_keeps_everything_but_secrets():
    env = build_env(ShellEnvironmentPolicy(), BASE_ENV)

    assert env == {k: BASE_ENV[k] for k in ("PATH", "HOME", "LANG", "EDITOR", "AWS_REGION", "LC_ALL")}


def test_default_excludes_match_names_case_insensitively():
    env = build_env(ShellEnvironmentPolicy(), {"my_api_key": "1", "Session_Token": "2", "x_secret_y": "3", "OK": "4"})

    assert env == {"OK": "4"}


def test_ignore_default_excludes_keeps_secrets():
    env = build_env(ShellEnvironmentPolicy(ignore_default_excludes=True), BASE_ENV)

    assert env == BASE_ENV


def test_inherit_core_keeps_only_core_variables():
    env = build_env(ShellEnvironmentPolicy(inherit="core"), BASE_ENV)

    assert env == {"PATH": "/usr/bin:/bin", "HOME": "/home/me", "LANG": "C.UTF-8"}
    assert set(env) <= set(CORE_ENV_VARS)


def test_inherit_none_starts_empty_and_set_adds_variables():
    env = build_env(ShellEnvironmentPolicy(inherit="none", set={"CI": "1", "PATH": "/opt/bin"}), BASE_ENV)

    assert env == {"CI": "1", "PATH": "/opt/bin"}


def test_set_overrides_inherited_values():
    env = build_env(ShellEnvironmentPolicy(set={"EDITOR": "nano"}), BASE_ENV)

    assert env["EDITOR"] == "nano"
    assert env["PATH"] == "/usr/bin:/bin"


def test_exclude_patterns_remove_matching_names_case_insensitively():
    env = build_env(ShellEnvironmentPolicy(exclude=("aws_*", "EDIT?R")), BASE_ENV)

    assert set(env) == {"PATH", "HOME", "LANG", "LC_ALL"}


def test_include_only_keeps_just_the_matching_names():
    env = build_env(ShellEnvironmentPolicy(include_only=("PATH", "LC_*")), BASE_ENV)

    assert env == {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def test_include_only_does_not_bring_back_excluded_secrets():
    env = build_env(ShellEnvironmentPolicy(include_only=("*TOKEN*", "PATH")), BASE_ENV)

    assert env == {"PATH": "/usr/bin:/bin"}


# --- run --------------------------------------------------------------------------------------------------


def test_exit_code_is_reported(tmp_path: Path):
    result = run(bash("exit 7"), tmp_path, os.environ)

    assert result.exit_code == 7
    assert not result.timed_out and not result.interrupted


def test_stdout_and_stderr_are_combined_in_order(tmp_path: Path):
    result = run(bash("echo out; echo err >&2; echo again"), tmp_path, os.environ)

    assert result.exit_code == 0
    assert result.output == "out\nerr\nagain\n"


def test_runs_in_cwd_with_the_given_env(tmp_path: Path):
    result = run(bash('pwd; echo "$ONLY_HERE"'), tmp_path, {"PATH": os.environ["PATH"], "ONLY_HERE": "yes"})

    assert result.output == f"{tmp_path}\nyes\n"


def test_duration_is_the_wall_time(tmp_path: Path):
    result = run(bash("sleep 0.3"), tmp_path, os.environ)

    assert 0.3 <= result.duration_s < 3


def test_on_output_receives_the_output_as_it_comes(tmp_path: Path):
    chunks: list[str] = []

    result = run(bash("echo first; sleep 0.2; echo second"), tmp_path, os.environ, on_output=chunks.append)

    assert len(chunks) >= 2
    assert "".join(chunks) == result.output == "first\nsecond\n"


def test_timeout_kills_the_whole_process_group(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pid_file}; echo started; wait"

    started = time.monotonic()
    result = run(bash(script), tmp_path, os.environ, timeout_ms=500)

    assert time.monotonic() - started < 5
    assert result.timed_out
    assert result.exit_code != 0
    assert result.output == "started\n"
    assert wait_until_gone(int(pid_file.read_text())), "the background sleep survived the timeout"


def test_cancel_from_another_thread_stops_the_command_quickly(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()

    started = time.monotonic()
    result = run(bash(f"sleep 30 & echo $! > {pid_file}; wait"), tmp_path, os.environ, cancel=cancel)
    timer.join()

    assert time.monotonic() - started < 3
    assert result.interrupted and not result.timed_out
    assert wait_until_gone(int(pid_file.read_text()))


def test_missing_executable_gives_exit_127_and_says_so(tmp_path: Path):
    result = run(["definitely-not-a-command-xyz", "--help"], tmp_path, os.environ)

    assert result.exit_code == 127
    assert "failed to start definitely-not-a-command-xyz" in result.output


# --- truncate_middle and format_for_model ----------------------------------------------------------------


def test_short_output_is_unchanged():
    text = "line\n" * 10

    assert truncate_middle(text) == text


def test_many_lines_keep_head_and_tail_within_the_line_budget_and_count_the_cut():
    lines = [f"line {i}\n" for i in range(1000)]

    result = truncate_middle("".join(lines), max_bytes=1_000_000, max_lines=100)

    head, marker, tail = result.partition("\n[... ")
    assert head.splitlines() == [f"line {i}" for i in range(50)]
    assert tail.splitlines()[1:] == [f"line {i}" for i in range(950, 1000)]
    assert marker and tail.startswith("900 lines cut from the middle; 1000 lines in total ...]")


def test_long_lines_keep_head_and_tail_within_the_byte_budget():
    lines = [f"{i:04d} " + "x" * 95 + "\n" for i in range(300)]  # 100 bytes each, 30 kB in all

    result = truncate_middle("".join(lines), max_bytes=2000, max_lines=1000)

    kept = [line for line in result.splitlines() if line[:4].isdigit()]
    assert len(result.encode()) <= 2000 + 100
    assert kept[0].startswith("0000 ") and kept[-1].startswith("0299 ")
    assert f"{300 - len(kept)} lines cut from the middle; 300 lines in total" in result


def test_one_giant_line_keeps_both_ends_and_says_how_much_was_cut():
    text = "START" + "x" * 100_000 + "END"

    result = truncate_middle(text, max_bytes=4000, max_lines=100)

    assert len(result.encode()) <= 4000 + 120
    assert result.startswith("START") and result.endswith("END")
    assert f"characters cut from the middle of a {len(text)}-character line" in result


def test_giant_line_of_multibyte_characters_stays_within_the_byte_budget():
    text = "é" * 50_000 + "🙂" * 50_000

    result = truncate_middle(text, max_bytes=4000)

    assert len(result.encode()) <= 4000 + 120
    assert result.startswith("é") and result.endswith("🙂")


def test_model_output_starts_with_exit_code_and_wall_time():
    text = format_for_model(ShellResult(exit_code=2, output="boom\n", duration_s=1.26))

    assert text == "Exit code: 2\nWall time: 1.3 seconds\nOutput:\nboom\n"


def test_model_output_notes_a_timeout_and_an_interrupt():
    timed_out = format_for_model(ShellResult(-9, "", 10.0, timed_out=True))
    interrupted = format_for_model(ShellResult(-9, "", 0.5, interrupted=True))

    assert timed_out.splitlines()[2] == "Note: command timed out and was killed"
    assert interrupted.splitlines()[2] == "Note: command was interrupted by the user"


def test_model_output_is_truncated_in_the_middle():
    output = "".join(f"line {i}\n" for i in range(5000))

    text = format_for_model(ShellResult(0, output, 0.1))

    assert "line 0\n" in text and "line 4999\n" in text
    assert "lines cut from the middle; 5000 lines in total" in text


def test_background_process_holding_the_pipe_does_not_block_until_timeout(tmp_path: Path):
    started = time.monotonic()
    result = run(["bash", "-c", "sleep 30 & echo started"], tmp_path, dict(os.environ), timeout_ms=20_000)

    assert result.exit_code == 0
    assert "started" in result.output
    assert time.monotonic() - started < 5
    assert not result.timed_out


def test_set_variables_are_filtered_by_include_only_like_codex():
    policy = ShellEnvironmentPolicy(inherit="none", set={"KEEP_ME": "1", "DROP_ME": "2"}, include_only=("keep_*",))
    assert build_env(policy, {}) == {"KEEP_ME": "1"}
