"""The audit log of real `codex exec` runs against the scripted model server: the head written beside the lines,
the head sent to a syslog socket the test binds (a unix datagram server, as journald and rsyslog listen on
/dev/log), a witness that cannot be sent, and failed model requests recorded with the sentence the user saw."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.audit import AuditLog, FileHead, Head, Witness, audit_files, read_head, syslog_message
from agent.redact import Redactor
from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import HttpError, Reply, ScriptedServer

SYSLOG_LINE = re.compile(
    r"<13>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d codex-audit\[(?P<pid>\d+)\]: head seq=(?P<seq>\d+) "
    r"hash=(?P<hash>[0-9a-f]{64}) lines=(?P<lines>\d+) files=1 file=audit-\d{4}-\d\d\.jsonl "
    r"session=(?P<session>\S+) user=\S+"
)


@pytest.fixture
def syslog_socket() -> Iterator[socket.socket]:
    """A bound unix datagram socket standing in for /dev/log (in /tmp: socket paths are limited to 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="syslog-") as directory:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(Path(directory) / "log"))
        sock.settimeout(5)
        try:
            yield sock
        finally:
            sock.close()


def witness_config(sock: socket.socket) -> str:
    return f'[audit]\nwitness = "syslog"\nsyslog_socket = "{sock.getsockname()}"\n'


def records(codex_home: Path) -> list[dict]:
    return [json.loads(line) for path in audit_files(codex_home / "audit") for line in path.read_text().splitlines()]


def test_codex_exec_writes_the_head_and_sends_it_to_the_syslog_witness(
        git_repo: Path, codex_home: Path, run_codex: RunCodex, syslog_socket: socket.socket) -> None:
    with ScriptedServer([Reply(text="first"), Reply(text="second")]) as server:
        write_provider_config(codex_home, server, extra=witness_config(syslog_socket))
        for prompt in ("one", "two"):
            run = run_codex(["exec", "-s", "read-only", prompt], git_repo)
            assert run.returncode == 0, run.stderr

    sent = [SYSLOG_LINE.fullmatch(syslog_socket.recv(4096).decode()) for _ in range(2)]
    assert all(sent), sent
    [log] = audit_files(codex_home / "audit")
    last = log.read_bytes().split(b"\n")[-2]
    head = read_head(codex_home / "audit")
    assert head is not None and head.hash == hashlib.sha256(last).hexdigest() == sent[1]["hash"]
    assert int(sent[1]["seq"]) == int(sent[1]["lines"]) == head.lines == len(records(codex_home))
    assert int(sent[0]["seq"]) < int(sent[1]["seq"])  # one message per turn, each naming the head at the time
    assert sent[1]["session"] == records(codex_home)[-1]["session"]
    verified = run_codex(["audit", "verify"], git_repo)
    assert (verified.returncode, verified.stdout) == (0, f"OK: {head.lines} lines, head {head.hash}\n")


def test_a_witness_that_cannot_be_sent_warns_and_the_run_still_succeeds(
        git_repo: Path, codex_home: Path, run_codex: RunCodex, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-syslog-here"
    with ScriptedServer([Reply(text="done")]) as server:
        write_provider_config(codex_home, server,
                              extra=f'[audit]\nwitness = "syslog"\nsyslog_socket = "{nowhere}"\n')
        run = run_codex(["exec", "-s", "read-only", "hello"], git_repo)
    assert (run.returncode, run.stdout) == (0, "done\n"), run.stderr
    assert f'audit.witness = "syslog" could not send the audit head to {nowhere} (No such file or directory): ' \
           f"start the system logger, or point audit.syslog_socket in {codex_home / 'config.toml'} at its socket." \
           in " ".join(run.stderr.split())


def test_a_model_request_the_server_fails_is_audited_with_the_error(
        git_repo: Path, codex_home: Path, run_codex: RunCodex) -> None:
    with ScriptedServer([HttpError(500, "the model crashed")]) as server:
        write_provider_config(codex_home, server, retries=0)
        run = run_codex(["exec", "-s", "read-only", "hello"], git_repo)
    assert run.returncode != 0
    [request] = [r for r in records(codex_home) if r["kind"] == "model_request"]
    assert request["status"] == "failed" and request["endpoint_host"] == "127.0.0.1"
    assert "answered 500" in request["error"] and "the model crashed" in request["error"]
    assert run_codex(["audit", "verify"], git_repo).returncode == 0


def test_a_retried_model_request_is_audited_once_per_failed_attempt(
        git_repo: Path, codex_home: Path, run_codex: RunCodex) -> None:
    with ScriptedServer([HttpError(500, "warming up", retry_after_ms=10), Reply(text="done")]) as server:
        write_provider_config(codex_home, server, retries=1)
        run = run_codex(["exec", "-s", "read-only", "hello"], git_repo)
        assert len(server.requests) == 2
    assert (run.returncode, run.stdout) == (0, "done\n"), run.stderr
    requests = [r for r in records(codex_home) if r["kind"] == "model_request"]
    assert [r["status"] for r in requests] == ["retried", "completed"]
    assert "answered 500" in requests[0]["error"]
    assert "attempt 2 of 2" in requests[0]["error"] and requests[1]["error"] is None


def test_a_model_request_to_a_server_that_refuses_is_audited_with_the_error(
        git_repo: Path, codex_home: Path, run_codex: RunCodex) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (codex_home / "config.toml").write_text(
        'model = "scripted"\nmodel_provider = "closed"\n[model_providers.closed]\nname = "Closed"\n'
        f'base_url = "http://127.0.0.1:{port}/v1"\nwire_api = "chat"\nrequest_max_retries = 0\n')
    run = run_codex(["exec", "-s", "read-only", "hello"], git_repo)
    assert run.returncode != 0
    [request] = [r for r in records(codex_home) if r["kind"] == "model_request"]
    assert request["status"] == "failed" and request["error"].startswith(f"Cannot reach Closed at http://127.0.0.1:{port}")
    assert request["input_tokens"] is None


def test_the_witness_message_is_framed_as_logger_frames_it(syslog_socket: socket.socket) -> None:
    if shutil.which("logger") is None:
        pytest.skip("util-linux logger is not installed")
    subprocess.run(["logger", "-u", syslog_socket.getsockname(), "--socket-errors=on", "-t", "codex-audit",
                    f"--id={os.getpid()}", "probe"], check=True, timeout=10)
    framed_by_logger = syslog_socket.recv(4096)
    ours = syslog_message(Head(seq=1, lines=1, files=(FileHead("audit-2026-11.jsonl", 1, 1, 1, "a" * 64),)), "s", "u")
    prefix = re.compile(rb"<13>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d codex-audit\[\d+\]: ")
    assert prefix.match(framed_by_logger) and prefix.match(ours)
    assert framed_by_logger.split(b": ", 1)[0].split(b" ")[-1] == ours.split(b": ", 1)[0].split(b" ")[-1]


def test_a_stream_syslog_socket_gets_the_head_as_one_line(codex_home: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="syslog-") as directory, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        path = Path(directory) / "log"
        server.bind(str(path))
        server.listen(1)
        server.settimeout(5)
        log = AuditLog(codex_home, Redactor(), session_id="s", witness=Witness("syslog", path))
        log.prompt("hello")
        assert log.send_witness() is None
        connection, _ = server.accept()
        with connection:
            received = connection.recv(4096)
    head = read_head(codex_home / "audit")
    assert head is not None and received.endswith(f"hash={head.hash} lines=1 files=1 ".encode()
                                                  + b"file=" + head.files[0].name.encode() + b" session=s user="
                                                  + getpass.getuser().encode() + b"\n")


def test_an_unknown_witness_is_refused_with_the_choices(git_repo: Path, codex_home: Path,
                                                        run_codex: RunCodex) -> None:
    with ScriptedServer([Reply(text="done")]) as server:
        write_provider_config(codex_home, server, extra='[audit]\nwitness = "journal"\n')
        run = run_codex(["exec", "-s", "read-only", "hello"], git_repo)
    assert run.returncode != 0 and "audit.witness" in run.stderr and "none, syslog" in run.stderr
