"""The audit log, through real files under a temporary CODEX_HOME: records, the hash chain, tampering,
month files, concurrent writers, redaction, and `codex audit verify|show`."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import random
import stat
import string
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.audit import (
    GENESIS,
    AuditLog,
    AuditRecord,
    audit_files,
    format_table,
    parse_since,
    read_head,
    run_audit_command,
    show,
    verify,
)
from agent.errors import UserError
from agent.protocol import (
    ApprovalDecision,
    ApprovalRequested,
    CommandExecution,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    PathChange,
    Usage,
    UserInput,
)
from agent.redact import Redactor

_RNG = random.Random(7)


def fake_openai_key() -> str:
    """A key of OpenAI's shape, built at run time so the repository holds no realistic secret literal."""
    return "sk" + "-proj-" + "".join(_RNG.choice(string.ascii_letters + string.digits) for _ in range(46)) + "Z9"


class Clock:
    """A settable clock; each reading advances one second."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "codex-home"
    path.mkdir()
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))


def make_log(home: Path, clock: Clock | None = None, include_content: bool = False, secrets: tuple[str, ...] = (),
             session: str = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b") -> AuditLog:
    return AuditLog(home, Redactor(secrets), include_content=include_content, session_id=session, clock=clock)


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def only_file(home: Path) -> Path:
    files = audit_files(home / "audit")
    assert len(files) == 1, files
    return files[0]


def write_some(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.command(["echo", str(i)], "/work", 0, "completed", True)


def rewrite(path: Path, edit) -> None:
    lines = path.read_bytes().split(b"\n")[:-1]
    path.write_bytes(b"".join(line + b"\n" for line in edit(lines)))


# ---------------------------------------------------------------------------------------------------
# Records


def test_every_line_has_the_envelope_and_chains_to_the_line_before(home: Path, clock: Clock) -> None:
    log = make_log(home, clock)
    log.prompt("hello")
    log.command(["ls"], "/work", 0, "completed", False)
    path = only_file(home)
    assert path == home / "audit" / "audit-2026-11.jsonl"
    raw = path.read_bytes().split(b"\n")
    first, second = json.loads(raw[0]), json.loads(raw[1])
    assert list(first)[:6] == ["ts", "seq", "session", "user", "host", "kind"] and list(first)[-1] == "prev"
    assert first["ts"] == "2026-11-03T09:00:01.000000Z"
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["session"] == "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert first["user"] == getpass.getuser() and first["host"]
    assert first["prev"] == GENESIS
    assert second["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_prompt_without_content_records_only_length_and_hash(home: Path) -> None:
    make_log(home).prompt("refactor the parser please")
    (record,) = lines_of(only_file(home))
    assert record["kind"] == "prompt"
    assert record["chars"] == len("refactor the parser please")
    assert record["sha256"] == hashlib.sha256(b"refactor the parser please").hexdigest()
    assert "text" not in record
    assert b"refactor the parser" not in only_file(home).read_bytes()


def test_prompt_with_content_is_written_redacted(home: Path) -> None:
    key = fake_openai_key()
    make_log(home, include_content=True).prompt(f"use the key {key} to call the API")
    (record,) = lines_of(only_file(home))
    assert record["text"] == "use the key [REDACTED:openai] to call the API"
    assert record["sha256"] == hashlib.sha256(record["text"].encode()).hexdigest()
    assert record["chars"] == len(f"use the key {key} to call the API")


def test_model_request_records_provider_model_host_and_tokens_but_no_body(home: Path) -> None:
    log = make_log(home)
    log.model_request("corp", "qwen2.5-coder:7b", "https://llm.corp.example:8443/v1?api-version=1",
                      {"input_tokens": 120, "cached_input_tokens": 100, "output_tokens": 7,
                       "reasoning_output_tokens": 0}, body={"messages": [{"content": "secret plans"}]})
    log.model_request("ollama", "m", "http://localhost:11434/v1", {"prompt_tokens": 5, "completion_tokens": 2})
    log.model_request("embedded", "smollm2", None, Usage(input_tokens=3, output_tokens=1))
    first, second, third = lines_of(only_file(home))
    assert {k: first[k] for k in ("kind", "provider", "model", "endpoint_host", "input_tokens",
                                  "cached_input_tokens", "output_tokens", "reasoning_output_tokens")} == {
        "kind": "model_request", "provider": "corp", "model": "qwen2.5-coder:7b", "endpoint_host": "llm.corp.example",
        "input_tokens": 120, "cached_input_tokens": 100, "output_tokens": 7, "reasoning_output_tokens": 0}
    assert "body" not in first and b"secret plans" not in only_file(home).read_bytes()
    assert (second["endpoint_host"], second["input_tokens"], second["output_tokens"]) == ("localhost", 5, 2)
    assert second["cached_input_tokens"] is None
    assert (third["endpoint_host"], third["input_tokens"], third["output_tokens"]) == (None, 3, 1)


def test_a_failed_model_request_records_the_error_sentence_redacted(home: Path) -> None:
    key = fake_openai_key()
    log = make_log(home, secrets=(key,))
    log.model_request("ollama", "m", "http://localhost:11434/v1", {"input_tokens": 5, "output_tokens": 2})
    log.model_request("ollama", "m", "http://localhost:11434/v1", None,
                      error=f"Ollama at http://localhost:11434/v1 answered 500: bad key {key}.")
    log.model_request("ollama", "m", "http://localhost:11434/v1", None, error="answered 503; retrying", retried=True)
    ok, failed, retried = lines_of(only_file(home))
    assert (ok["status"], ok["error"]) == ("completed", None)
    assert (retried["status"], retried["error"]) == ("retried", "answered 503; retrying")
    assert (failed["status"], failed["input_tokens"], failed["output_tokens"]) == ("failed", None, None)
    assert failed["error"] == "Ollama at http://localhost:11434/v1 answered 500: bad key [REDACTED]."
    summaries = [r.summary() for r in show(home, None)]
    assert summaries[1] == "ollama m @localhost failed: Ollama at http://localhost:11434/v1 answered 500: bad key " \
                           "[REDACTED]."


def test_model_request_body_with_content_is_redacted(home: Path) -> None:
    key = fake_openai_key()
    make_log(home, include_content=True).model_request(
        "openai", "gpt", "https://api.openai.com/v1", None,
        body={"messages": [{"role": "user", "content": f"my key is {key}"}], "api_key": "literal-" + key[-10:]})
    (record,) = lines_of(only_file(home))
    assert record["body"]["messages"][0]["content"] == "my key is [REDACTED:openai]"
    assert record["body"]["api_key"] == "[REDACTED:secret]"


def test_tool_call_arguments_are_redacted_and_long_ones_cut_without_content(home: Path) -> None:
    key = fake_openai_key()
    log = make_log(home)
    log.tool_call("shell", json.dumps({"command": ["bash", "-lc", f"OPENAI_API_KEY={key} ./run.sh"]}))
    log.tool_call("apply_patch", json.dumps({"input": "x" * 5000}))
    make_log(home, include_content=True).tool_call("apply_patch", json.dumps({"input": "y" * 5000}))
    short, cut, full = lines_of(only_file(home))
    assert json.loads(short["arguments"]) == {"command": ["bash", "-lc", "OPENAI_API_KEY=[REDACTED:openai] ./run.sh"]}
    assert (short["name"], short["arguments_truncated"]) == ("shell", False)
    assert len(cut["arguments"]) == 2000 and cut["arguments_truncated"] is True and cut["arguments_chars"] > 5000
    assert full["arguments_truncated"] is False and "y" * 5000 in full["arguments"]


def test_approval_file_change_and_command_records(home: Path, clock: Clock) -> None:
    log = make_log(home, clock)
    log.approval("rm -rf build", "approve_session", "command")
    log.file_changed(home / "a.py", None, "ab" * 32)
    log.file_changed(home / "b.py", "cd" * 32, "ef" * 32)
    log.file_changed(home / "c.py", "cd" * 32, None)
    log.command("bash -lc 'make test'", "/work/repo", 2, "failed", True)
    log.command(["git", "push"], "/work/repo", None, "declined", None)
    approval, added, updated, deleted, failed, declined = lines_of(only_file(home))
    assert approval | {"ts": 0, "host": 0, "session": 0} == {
        "ts": 0, "seq": 1, "session": 0, "user": getpass.getuser(), "host": 0, "kind": "approval",
        "request_kind": "command", "what": "rm -rf build", "decision": "approve_session", "prev": GENESIS}
    assert (added["path"], added["change"], added["sha256_before"], added["sha256_after"]) == (
        str(home / "a.py"), "add", None, "ab" * 32)
    assert (updated["change"], deleted["change"], deleted["sha256_after"]) == ("update", "delete", None)
    assert {k: failed[k] for k in ("argv", "cwd", "exit_code", "status", "sandboxed")} == {
        "argv": ["bash", "-lc", "make test"], "cwd": "/work/repo", "exit_code": 2, "status": "failed",
        "sandboxed": True}
    assert (declined["argv"], declined["exit_code"], declined["status"]) == (["git", "push"], None, "declined")


def test_record_event_maps_protocol_events(home: Path) -> None:
    log = make_log(home)
    target = home / "work" / "notes.txt"
    target.parent.mkdir()
    target.write_text("old\n")
    before = hashlib.sha256(b"old\n").hexdigest()
    log.record_event(UserInput("tidy up"))
    log.record_event(ApprovalRequested(request_id="c1", kind="command", reason="writes", command="make clean"))
    log.record_event(ApprovalDecision("c1", "deny"))
    log.record_event(ApprovalDecision("unknown", "approve"))  # no matching request: nothing to record
    item = FileChangeItem("p1", changes=[PathChange(str(target), "update"), PathChange(str(home / "new"), "add")])
    log.record_event(ItemStarted(item))  # hashes the files as they are before the edit
    target.write_text("new\n")
    (home / "new").write_text("n")
    item.status = "completed"
    log.record_event(ItemCompleted(item))
    failed = FileChangeItem("p2", changes=[PathChange(str(target), "update")], status="failed")
    log.record_event(ItemStarted(failed))
    log.record_event(ItemCompleted(failed))  # nothing changed: no record
    log.record_event(ItemCompleted(CommandExecution("c2", "bash -lc 'ls -la'", cwd="/w", exit_code=0,
                                                    status="completed", sandboxed=True)))
    prompt, approval, updated, added, command = lines_of(only_file(home))
    assert prompt["kind"] == "prompt" and prompt["chars"] == 7
    assert (approval["what"], approval["decision"], approval["request_kind"]) == ("make clean", "deny", "command")
    assert (updated["path"], updated["change"], updated["sha256_before"], updated["sha256_after"]) == (
        str(target), "update", before, hashlib.sha256(b"new\n").hexdigest())
    assert (added["change"], added["sha256_before"]) == ("add", None)
    assert (command["argv"], command["exit_code"], command["sandboxed"]) == (["bash", "-lc", "ls -la"], 0, True)


def test_before_files_hashes_current_contents(home: Path) -> None:
    log = make_log(home)
    (home / "x").write_bytes(b"data")
    hashes = log.before_files([home / "x", home / "missing"])
    assert hashes == {str(home / "x"): hashlib.sha256(b"data").hexdigest(), str(home / "missing"): None}


def test_a_planted_api_key_never_reaches_the_audit_file(home: Path, tmp_path: Path) -> None:
    from agent.config import Overrides, load_config

    key = fake_openai_key()  # recognisable by its shape, and the value of openai's env_key
    opaque = "".join(_RNG.choice(string.ascii_letters) for _ in range(40))  # recognisable only as an env_key value
    (home / "config.toml").write_text('[model_providers.corp]\nbase_url = "https://llm.corp.example/v1"\n'
                                      'env_key = "CORP_LLM"\n')
    env = {"OPENAI_API_KEY": key, "CORP_LLM": opaque}
    config = load_config(Overrides(), env={"CODEX_HOME": str(home), "HOME": str(tmp_path), **env})
    log = AuditLog(home, Redactor.from_config(config, env=env), include_content=True, session_id="s")
    for text in (key, opaque):
        log.prompt(f"deploy with {text} now")
        log.model_request("corp", "gpt", f"https://{text}@api.openai.com/v1?key={text}", {"input_tokens": 1},
                          body={"messages": [{"content": text}], "headers": {"Authorization": f"Bearer {text}"}})
        log.tool_call("shell", json.dumps({"command": ["curl", "-H", f"x-api-key: {text}"]}))
        log.approval(f"curl -d {text}", "approve", "command")
        log.file_changed(home / f"{text}.txt", None, None)
        log.command(["echo", text], f"/tmp/{text}", 0, "completed", False)
    written = b"".join(p.read_bytes() for p in (home / "audit").iterdir())  # the lines and the head
    assert sum(len(lines_of(p)) for p in audit_files(home / "audit")) == 12
    assert key.encode() not in written and opaque.encode() not in written
    assert verify(home / "audit").ok


# ---------------------------------------------------------------------------------------------------
# The chain and tampering


def test_an_untouched_log_verifies(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 5)
    result = verify(only_file(home))
    assert result.ok and result.lines == 5 and result.first_broken_line is None
    assert result.head == hashlib.sha256(only_file(home).read_bytes().split(b"\n")[4]).hexdigest()


def test_an_edited_line_is_detected_at_the_line_after_it(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 6)
    path = only_file(home)
    rewrite(path, lambda lines: [line.replace(b'"exit_code":0', b'"exit_code":1') if i == 2 else line
                                 for i, line in enumerate(lines)])
    result = verify(path)
    assert not result.ok and result.first_broken_line == 4
    assert result.reason == "line 4: prev hash does not match line 3 (line 3 was changed?)"


def test_a_deleted_line_is_detected(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 6)
    path = only_file(home)
    rewrite(path, lambda lines: lines[:2] + lines[3:])
    result = verify(path)
    assert not result.ok and result.first_broken_line == 3
    assert "seq jumps from 2 to 4: a line was deleted?" in result.reason


def test_two_swapped_lines_are_detected(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 6)
    path = only_file(home)
    rewrite(path, lambda lines: [*lines[:2], lines[3], lines[2], *lines[4:]])
    result = verify(path)
    assert not result.ok and result.first_broken_line == 3
    assert "out of order" in result.reason


def test_a_truncated_file_is_detected(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 4)
    path = only_file(home)
    path.write_bytes(path.read_bytes()[:-30])
    result = verify(path)
    assert not result.ok and result.first_broken_line == 4
    assert result.reason.startswith("line 4 is not valid JSON")


def test_an_invalid_line_in_the_middle_is_named(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 5)
    path = only_file(home)
    rewrite(path, lambda lines: [b"garbage" if i == 2 else line for i, line in enumerate(lines)])
    result = verify(path)
    assert (result.ok, result.first_broken_line, result.reason) == (False, 3, "line 3 is not valid JSON")


def test_a_rewritten_seq_is_detected(home: Path, clock: Clock) -> None:
    write_some(make_log(home, clock), 3)
    path = only_file(home)
    rewrite(path, lambda lines: [*lines[:2], lines[2].replace(b'"seq":3', b'"seq":9')])
    result = verify(path)
    assert (result.first_broken_line, result.reason) == (3, "line 3: seq jumps from 2 to 9 after line 2")


def test_a_torn_line_of_a_killed_writer_is_reported_once_and_the_next_record_chains_past_it(home: Path,
                                                                                            clock: Clock) -> None:
    log = make_log(home, clock)
    write_some(log, 3)
    path = only_file(home)
    with open(path, "ab") as f:  # a writer killed mid-line: part of its line, no newline, no head update
        f.write(b'{"ts":"2026-11-03T09:00:09.000000Z","seq":4,"ses')
    log.prompt("after the crash")
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[4])["seq"] == 4 and json.loads(lines[4])["prev"] == hashlib.sha256(lines[2]).hexdigest()
    result = verify(home / "audit")
    assert [(p.line, p.text) for p in result.problems] == [(4, "line 4 is not valid JSON")]


def test_a_killed_writers_head_temp_file_is_replaced_and_a_planted_symlink_there_never_written_through(
        home: Path, tmp_path: Path) -> None:
    log = make_log(home)
    write_some(log, 1)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (home / "audit" / ".head.json.tmp").symlink_to(victim)  # left by a kill -9, or planted
    log.prompt("after")
    assert victim.read_text() == "precious"
    assert read_head(home / "audit").seq == 2 and verify(home / "audit").ok
    assert not (home / "audit" / ".head.json.tmp").is_symlink() and not (home / "audit" / ".head.json.tmp").exists()


def test_the_chain_continues_across_a_month_boundary(home: Path) -> None:
    clock = Clock(datetime(2026, 10, 31, 23, 59, 57, tzinfo=UTC))
    write_some(make_log(home, clock), 5)  # 23:59:58, 23:59:59, then three in November
    october, november = audit_files(home / "audit")
    assert (october.name, november.name) == ("audit-2026-10.jsonl", "audit-2026-11.jsonl")
    assert len(lines_of(october)) == 2 and len(lines_of(november)) == 3
    first_of_november = lines_of(november)[0]
    assert first_of_november["prev"] == hashlib.sha256(october.read_bytes().split(b"\n")[1]).hexdigest()
    assert first_of_november["seq"] == 3
    assert verify(home / "audit").ok and verify(home / "audit").lines == 5
    assert verify(november).ok  # one file alone: its first prev is taken as given

    rewrite(october, lambda lines: [lines[0], lines[1].replace(b'"echo"', b'"ECHO"')])
    result = verify(home / "audit")
    assert (result.broken_file, result.first_broken_line) == (november, 1)
    assert "the last line of audit-2026-10.jsonl (line 2)" in result.reason


def test_a_clock_that_goes_back_across_a_month_keeps_appending_to_the_newest_file(home: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC))
    log = make_log(home, clock)
    log.prompt("november")
    clock.now = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    log.prompt("october again")
    assert [p.name for p in audit_files(home / "audit")] == ["audit-2026-11.jsonl"]
    assert verify(home / "audit").ok


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from agent.audit import AuditLog
    from agent.redact import Redactor
    log = AuditLog(Path(sys.argv[1]), Redactor(), session_id=sys.argv[2])
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    for i in range(int(sys.argv[3])):
        log.command(["echo", sys.argv[2], str(i)], "/", 0, "completed", False)
""")


def test_two_processes_appending_at_once_keep_one_valid_chain(home: Path) -> None:
    n = 60
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(home), name, str(n)], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE) for name in ("one", "two")]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n"
    for writer in writers:  # release both at once
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        writer.stdin.close()
        assert writer.wait(timeout=60) == 0
    records = lines_of(only_file(home))
    assert [r["seq"] for r in records] == list(range(1, 2 * n + 1))
    assert {r["session"] for r in records} == {"one", "two"}
    result = verify(home / "audit")
    assert result.ok and result.lines == 2 * n
    head = read_head(home / "audit")
    assert head is not None and (head.lines, head.seq) == (2 * n, 2 * n) and result.head == head.hash


# ---------------------------------------------------------------------------------------------------
# Reading back and `codex audit`


def _mixed_log(home: Path) -> None:
    clock = Clock(datetime(2026, 10, 20, 12, 0, tzinfo=UTC))
    log = make_log(home, clock)
    log.prompt("old prompt")
    clock.now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    log.command(["pytest", "-q"], "/work/repo", 1, "failed", True)
    log.approval("git push", "deny", "command")
    log.model_request("ollama", "qwen", "http://localhost:11434/v1", {"input_tokens": 10, "output_tokens": 2})


def test_show_filters_by_time_and_kind(home: Path) -> None:
    _mixed_log(home)
    assert [r.kind for r in show(home, None)] == ["prompt", "command", "approval", "model_request"]
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert [r.kind for r in show(home, since)] == ["command", "approval", "model_request"]
    assert [r.kind for r in show(home, since, kinds=["command"])] == ["command"]
    assert [r.kind for r in show(home, None, until=since)] == ["prompt"]
    record = show(home, since)[0]
    assert isinstance(record, AuditRecord) and record.fields["argv"] == ["pytest", "-q"] and record.seq == 2


def test_format_table_has_one_readable_row_per_record(home: Path) -> None:
    _mixed_log(home)
    table = format_table(show(home, None)).splitlines()
    assert table[0].split() == ["TIME", "(UTC)", "USER", "SESSION", "KIND", "SUMMARY"]
    assert len(table) == 5
    assert "2026-11-02 08:00:01" in table[2] and "0199a1b2" in table[2] and "command" in table[2]
    assert "exit 1: pytest -q (in /work/repo)" in table[2]
    assert "deny command: git push" in table[3]
    assert "ollama qwen @localhost in=10 out=2" in table[4]


def test_audit_verify_prints_ok_with_the_head_or_one_line_per_problem(home: Path, clock: Clock, capsys) -> None:
    assert run_audit_command(home, ["verify"]) == 0
    assert capsys.readouterr().out == "OK: 0 lines (nothing recorded yet)\n"
    write_some(make_log(home, clock), 4)
    path = only_file(home)
    last = path.read_bytes().split(b"\n")[3]
    assert run_audit_command(home, ["verify"]) == 0
    assert capsys.readouterr().out == f"OK: 4 lines, head {hashlib.sha256(last).hexdigest()}\n"
    assert run_audit_command(home, ["verify", str(path)]) == 0
    capsys.readouterr()
    rewrite(path, lambda lines: lines[:1] + lines[2:])
    assert run_audit_command(home, ["verify"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"BROKEN: {path}: line 2: prev hash does not match line 1 (seq jumps from 1 to 3: a line was deleted?)",
        f"BROKEN: {path}: has 3 lines, but the head records 4",
    ]
    with pytest.raises(UserError, match="does not exist"):
        run_audit_command(home, ["verify", str(home / "nope.jsonl")])


def test_audit_show_prints_a_table_or_json_lines(home: Path, capsys) -> None:
    _mixed_log(home)
    now = datetime(2026, 11, 5, tzinfo=UTC)
    assert run_audit_command(home, ["show", "--since", "7d", "--kind", "command,approval"], now=now) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and "pytest -q" in out[1] and "git push" in out[2]
    assert run_audit_command(home, ["show", "--since", "2026-11-01", "--kind", "model_request", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["kind"] == "model_request"
    assert run_audit_command(home, ["show", "--since", "1h"], now=now) == 0
    assert capsys.readouterr().out.startswith("no audit records since 2026-11-04T23:00:00")
    with pytest.raises(UserError, match="not a record kind"):
        run_audit_command(home, ["show", "--kind", "commands"])
    with pytest.raises(UserError, match="codex audit"):
        run_audit_command(home, ["frobnicate"])


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", datetime(2026, 10, 29, 12, 0, tzinfo=UTC)),
    ("24h", datetime(2026, 11, 4, 12, 0, tzinfo=UTC)),
    ("30m", datetime(2026, 11, 5, 11, 30, tzinfo=UTC)),
    ("2w", datetime(2026, 10, 22, 12, 0, tzinfo=UTC)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
    ("2026-11-01T09:30:00+02:00", datetime(2026, 11, 1, 7, 30, tzinfo=UTC)),
])
def test_since_accepts_dates_times_and_ages(text: str, expected: datetime) -> None:
    assert parse_since(text, now=datetime(2026, 11, 5, 12, 0, tzinfo=UTC)) == expected


def test_since_rejects_anything_else_with_the_forms_it_accepts() -> None:
    with pytest.raises(UserError, match="7d, 24h or 30m"):
        parse_since("last tuesday")

