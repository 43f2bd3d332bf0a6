"""The audit log: an append-only, hash-chained JSONL record of what every session did.

Each record is one line of `CODEX_HOME/audit/audit-YYYY-MM.jsonl` (the UTC month of the record): prompts, model
requests, tool calls, approval decisions, changed files and commands run. Every line carries `prev`, the sha256 of
the bytes of the line before it (without its newline); the first line of a month chains to the last line of the
previous file, the very first line to 64 zeros. `verify` walks the chain and names the first line where it breaks;
`show`/`format_table` read records back for people; `run_audit_command` is `codex audit verify|show`. The line
format, field by field, is in docs/audit.md.

Writers serialise on an exclusive `flock` of `CODEX_HOME/audit/.lock` while they read the tail and append, so
concurrent sessions keep one valid chain; each line is written with one `write` and fsynced before `append`
returns. Everything a record holds passes through a `Redactor` first; prompt text, request bodies and long tool
arguments are written only with `include_content`.

This module does not decide what to audit or when (the session and the tools call it), and a hash chain is
tamper-evident, not tamper-proof: someone who can rewrite the file can recompute every later hash. Ship the lines
to a SIEM, or record the head hash `codex audit verify` prints, to anchor them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import fcntl
import getpass
import hashlib
import json
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

from agent.errors import UserError
from agent.redact import Redactor

GENESIS = "0" * 64  # `prev` of the first line of the first file
AUDIT_DIR = "audit"
LOCK_FILE = ".lock"
FILE_PATTERN = re.compile(r"audit-(\d{4})-(\d{2})\.jsonl")
ARGUMENTS_LIMIT = 2000  # characters of tool arguments kept without include_content

PROMPT = "prompt"
MODEL_REQUEST = "model_request"
TOOL_CALL = "tool_call"
APPROVAL = "approval"
FILE_CHANGED = "file_changed"
COMMAND = "command"
KINDS = (PROMPT, MODEL_REQUEST, TOOL_CALL, APPROVAL, FILE_CHANGED, COMMAND)

ENVELOPE = ("ts", "seq", "session", "user", "host", "kind")  # first keys of every line; "prev" is the last

Clock = Callable[[], datetime]


class AuditWriteError(UserError):
    """The audit log could not be written (permissions, a full disk); the message names the directory."""


def _empty_map() -> Mapping[str, Any]:
    return MappingProxyType({})


# ---------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log: the envelope, the kind's own fields, and the hash of the line before."""

    ts: datetime  # UTC
    seq: int  # 1 for the first record ever written to this CODEX_HOME, then +1 per line across files
    session: str  # the session (thread) id; "" outside a session
    user: str  # the OS user running the agent: who typed the prompt and answered approvals
    host: str
    kind: str  # one of KINDS
    fields: Mapping[str, Any] = field(default_factory=_empty_map)  # the kind's fields (docs/audit.md)
    prev: str = GENESIS  # sha256 hex of the previous line's bytes

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """The record of one parsed line; KeyError/ValueError/TypeError when the envelope is missing or wrong."""
        seq = data["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise TypeError("seq is not a whole number")
        return cls(
            ts=_parse_ts(data["ts"]),
            seq=seq,
            session=str(data.get("session", "")),
            user=str(data.get("user", "")),
            host=str(data.get("host", "")),
            kind=str(data["kind"]),
            fields=MappingProxyType({k: v for k, v in data.items() if k not in (*ENVELOPE, "prev")}),
            prev=str(data["prev"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The line's object, keys in the written order: envelope, fields, prev."""
        head = {"ts": _format_ts(self.ts), "seq": self.seq, "session": self.session, "user": self.user,
                "host": self.host, "kind": self.kind}
        return {**head, **self.fields, "prev": self.prev}

    def summary(self) -> str:
        """One line for people: what happened, without the envelope."""
        f = self.fields
        match self.kind:
            case "prompt":
                text = f.get("text")
                return repr(_one_line(text)) if text is not None else f"{f.get('chars')} chars, sha256 {_short(f)}"
            case "model_request":
                where = f" @{f['endpoint_host']}" if f.get("endpoint_host") else ""
                tokens = f" in={f.get('input_tokens')} out={f.get('output_tokens')}"
                return f"{f.get('provider')} {f.get('model')}{where}{tokens}"
            case "tool_call":
                return f"{f.get('name')} {_one_line(f.get('arguments') or '')}"
            case "approval":
                return f"{f.get('decision')} {f.get('request_kind')}: {_one_line(f.get('what') or '')}"
            case "file_changed":
                before, after = _short_hash(f.get("sha256_before")), _short_hash(f.get("sha256_after"))
                return f"{f.get('change')} {f.get('path')} ({before} -> {after})"
            case "command":
                argv = f.get("argv")
                command = shlex.join(argv) if isinstance(argv, list) else str(argv)
                code = f.get("exit_code")
                outcome = f"exit {code}" if code is not None else str(f.get("status"))
                return f"{outcome}: {_one_line(command)} (in {f.get('cwd')})"
            case _:
                return _one_line(json.dumps(dict(f), ensure_ascii=False))


def _format_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("ts is not a string")
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _short(fields: Mapping[str, Any]) -> str:
    return _short_hash(fields.get("sha256"))


def _short_hash(value: Any) -> str:
    return str(value)[:12] if value else "none"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str | None:
    """The sha256 hex of a regular file's contents; None when it does not exist (or is not a file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return digest.hexdigest()


def audit_dir(codex_home: Path) -> Path:
    return Path(codex_home) / AUDIT_DIR


def audit_files(directory: Path) -> list[Path]:
    """The month files in an audit directory, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if FILE_PATTERN.fullmatch(p.name) and p.is_file())


def _jsonable(obj: Any) -> Any:
    """Plain JSON data for anything a caller may hand over (dataclasses, paths, enums, tuples, sets)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, datetime):
        return _format_ts(obj)
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return str(obj)


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Writing


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return str(os.getuid())


def _usage_counts(usage: Any) -> dict[str, int | None]:
    if usage is not None and not isinstance(usage, Mapping):
        usage = _jsonable(usage)
    usage = usage or {}

    def count(*names: str) -> int | None:
        for name in names:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    return {
        "input_tokens": count("input_tokens", "prompt_tokens"),
        "cached_input_tokens": count("cached_input_tokens"),
        "output_tokens": count("output_tokens", "completion_tokens"),
        "reasoning_output_tokens": count("reasoning_output_tokens"),
    }


def _endpoint_host(endpoint: str | None) -> str | None:
    if not endpoint:
        return None
    return urlparse(endpoint if "//" in endpoint else f"//{endpoint}").hostname


def _argv(command: list[str] | tuple[str, ...] | str) -> list[str]:
    if not isinstance(command, str):
        return [str(a) for a in command]
    try:
        return shlex.split(command)  # the items' command text is shlex.join(argv)
    except ValueError:
        return [command]


class AuditLog:
    """Appends records for one session to CODEX_HOME/audit; see the module docstring and docs/audit.md."""

    def __init__(self, codex_home: Path, redactor: Redactor, include_content: bool = False, session_id: str = "",
                 clock: Clock | None = None) -> None:
        self.directory = audit_dir(codex_home)
        self.redactor = redactor
        self.include_content = include_content
        self.session_id = session_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._user = _os_user()
        self._host = socket.gethostname()
        self._before: dict[str, str | None] = {}  # path -> sha256 captured by before_files
        self._asked: dict[str, tuple[str, str]] = {}  # approval request id -> (what, kind)

    # --- one method per kind -------------------------------------------------------------------

    def prompt(self, text: str) -> None:
        redacted = self.redactor.text(text)
        fields: dict[str, Any] = {"chars": len(text), "sha256": sha256_hex(redacted.encode("utf-8"))}
        if self.include_content:
            fields["text"] = redacted
        self.append(PROMPT, fields)

    def model_request(self, provider: str, model: str | None, endpoint: str | None, usage: Any,
                      body: object | None = None) -> None:
        fields: dict[str, Any] = {"provider": provider, "model": model, "endpoint_host": _endpoint_host(endpoint),
                                  **_usage_counts(usage)}
        if self.include_content and body is not None:
            fields["body"] = _jsonable(body)
        self.append(MODEL_REQUEST, fields)

    def tool_call(self, name: str, arguments: str) -> None:
        text = self._redacted_arguments(arguments)
        truncated = not self.include_content and len(text) > ARGUMENTS_LIMIT
        self.append(TOOL_CALL, {"name": name, "arguments": text[:ARGUMENTS_LIMIT] if truncated else text,
                                "arguments_chars": len(text), "arguments_truncated": truncated})

    def approval(self, what: str, decision: str, kind: str) -> None:
        self.append(APPROVAL, {"request_kind": kind, "what": what, "decision": decision})

    def file_changed(self, path: Path | str, sha_before: str | None, sha_after: str | None,
                     change: str | None = None) -> None:
        if change is None:
            change = "add" if sha_before is None else "delete" if sha_after is None else "update"
        self.append(FILE_CHANGED, {"path": str(Path(path).absolute()), "change": change,
                                   "sha256_before": sha_before, "sha256_after": sha_after})

    def command(self, argv: list[str] | str, cwd: str, exit_code: int | None, status: str,
                sandboxed: bool | None) -> None:
        self.append(COMMAND, {"argv": _argv(argv), "cwd": str(cwd), "exit_code": exit_code, "status": status,
                              "sandboxed": sandboxed})

    def _redacted_arguments(self, arguments: str) -> str:
        """JSON arguments are redacted as data (so `{"password": ...}` is caught) and re-encoded compactly."""
        try:
            parsed = json.loads(arguments)
        except (ValueError, TypeError):
            return self.redactor.text(str(arguments))
        return json.dumps(self.redactor.value(parsed), ensure_ascii=False, separators=(",", ":"))

    # --- events ------------------------------------------------------------------------------------

    def before_files(self, paths: Iterable[Path | str]) -> dict[str, str | None]:
        """Hash the current contents of `paths` (None: absent) and remember them for the edit's completion."""
        hashes = {str(Path(p).absolute()): file_sha256(Path(p)) for p in paths}
        self._before.update(hashes)
        return hashes

    def record_event(self, event: Any) -> None:
        """Audit what an `agent.protocol` event or op says, where it says enough (see docs/audit.md)."""
        from agent.protocol import (
            ApprovalDecision,
            ApprovalRequested,
            CommandExecution,
            FileChangeItem,
            ItemCompleted,
            ItemStarted,
            UserInput,
        )

        match event:
            case UserInput(text=text):
                self.prompt(text)
            case ItemStarted(item=FileChangeItem(changes=changes)):
                fresh = [c.path for c in changes if str(Path(c.path).absolute()) not in self._before]
                self.before_files(fresh)
            case ItemCompleted(item=CommandExecution() as item):
                self.command(item.command, item.cwd, item.exit_code, item.status, item.sandboxed)
            case ItemCompleted(item=FileChangeItem() as item):
                for change in item.changes:
                    key = str(Path(change.path).absolute())
                    before = self._before.pop(key, None)
                    if item.status == "completed":
                        after = file_sha256(Path(key)) if change.kind != "delete" else None
                        self.file_changed(Path(key), None if change.kind == "add" else before, after, change.kind)
            case ApprovalRequested():
                what = event.command or ", ".join(event.paths) or event.reason
                self._asked[event.request_id] = (what, event.kind)
            case ApprovalDecision(request_id=request_id, decision=decision) if request_id in self._asked:
                what, kind = self._asked.pop(request_id)
                self.approval(what, decision, kind)
            case _:
                pass

    # --- the chain ---------------------------------------------------------------------------------

    def append(self, kind: str, fields: Mapping[str, Any]) -> AuditRecord:
        """Redact `fields`, chain them to the newest line and write them durably; the record as written."""
        clean = self.redactor.value(_jsonable(fields))
        clash = set(clean) & {*ENVELOPE, "prev"}
        if clash:
            raise ValueError(f"audit fields may not be named {sorted(clash)}")
        try:
            return self._write(kind, clean)
        except OSError as e:
            reason = e.strerror or str(e)
            raise AuditWriteError(
                f"cannot write the audit log in {self.directory}: {reason}; check its permissions and free space"
            ) from e

    def _write(self, kind: str, clean: dict[str, Any]) -> AuditRecord:
        with self._locked():
            ts = _utc(self._clock())
            path, prev_line, prev_seq = self._tail(ts)
            record = AuditRecord(ts=ts, seq=prev_seq + 1, session=self.session_id, user=self._user,
                                 host=self._host, kind=kind, fields=MappingProxyType(clean),
                                 prev=sha256_hex(prev_line) if prev_line is not None else GENESIS)
            line = _encode(record.to_json()) + b"\n"
            created = not path.exists()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if prev_line is not None and _ends_without_newline(fd):
                    line = b"\n" + line  # a torn last line stays (verify reports it); ours starts on its own line
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
        return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _tail(self, ts: datetime) -> tuple[Path, bytes | None, int]:
        """The file to append to, the last line of the chain (None: none yet) and its seq (0: none)."""
        files = audit_files(self.directory)
        target = self.directory / f"audit-{ts:%Y-%m}.jsonl"
        if files and files[-1].name > target.name:
            target = files[-1]  # the clock went back across a month: keep appending to the newest file
        for candidate in reversed([p for p in files if p.name <= target.name]):
            found = _last_line(candidate)
            if found is not None:
                return target, found[0], found[1]
        return target, None, 0


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_without_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _last_line(path: Path) -> tuple[bytes, int] | None:
    """The last line's bytes (no newline) and the seq the next line continues from; None for an empty file."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        end = size - 1 if _byte_at(f, size - 1) == b"\n" else size
        start, chunk = end, 1 << 13
        while start > 0:
            step = min(chunk, start)
            f.seek(start - step)
            block = f.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                start = start - step + newline + 1
                break
            start -= step
        f.seek(start)
        last = f.read(end - start)
        seq = _seq_of(last)
        if seq is None:  # a torn or foreign last line: continue from the last line that has a seq
            f.seek(0)
            lines = f.read(end).split(b"\n")
            seq = next((s + back for back, raw in enumerate(reversed(lines)) if (s := _seq_of(raw)) is not None),
                       len(lines))
        return last, seq


def _byte_at(f: Any, offset: int) -> bytes:
    f.seek(offset)
    return f.read(1)


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = json.loads(raw).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


# ---------------------------------------------------------------------------------------------------
# Verifying


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking a chain: ok, or the first broken line (1-based, within `broken_file`) and why."""

    ok: bool
    lines: int  # lines checked, including the broken one
    files: tuple[Path, ...] = ()
    first_broken_line: int | None = None
    broken_file: Path | None = None
    reason: str | None = None  # e.g. "line 7: prev hash does not match line 6 (line 6 was changed?)"
    head: str | None = None  # sha256 of the last line when ok: record it elsewhere to anchor the chain

    def message(self) -> str:
        if self.ok:
            head = f"; head sha256 {self.head}" if self.head else ""
            return f"OK: {self.lines} lines in {len(self.files)} file{'s' if len(self.files) != 1 else ''}{head}"
        return f"BROKEN: {self.broken_file}: {self.reason}"


@dataclass
class _Line:
    number: int
    raw: bytes
    data: dict[str, Any] | None
    problem: str | None


def _parse_lines(path: Path) -> list[_Line]:
    data = path.read_bytes()
    if not data:
        return []
    raws = data.split(b"\n")
    complete = raws[-1] == b""
    if complete:
        raws.pop()
    lines = []
    for number, raw in enumerate(raws, 1):
        problem, parsed = None, None
        try:
            parsed = json.loads(raw)
        except ValueError:
            problem = f"line {number} is not valid JSON" + (" (the file was cut short?)" if number == len(raws)
                                                           and not complete else "")
        if problem is None:
            problem = _envelope_problem(number, parsed)
        if problem is None and not complete and number == len(raws):
            problem = f"line {number} has no newline at its end (the file was cut short?)"
        lines.append(_Line(number, raw, parsed if problem is None else None, problem))
    return lines


def _envelope_problem(number: int, data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"line {number} is not a JSON object"
    for key in ("ts", "seq", "kind", "prev"):
        if key not in data:
            return f"line {number} has no '{key}' field"
    seq, prev = data["seq"], data["prev"]
    if isinstance(seq, bool) or not isinstance(seq, int):
        return f"line {number}: seq {seq!r} is not a whole number"
    if not isinstance(prev, str) or not re.fullmatch(r"[0-9a-f]{64}", prev):
        return f"line {number}: prev {prev!r} is not a sha256 hex digest"
    return None


def verify(path: Path) -> VerifyResult:
    """Check one audit file (its first line's prev taken as given) or, for a directory, every month file in it
    oldest first with the chain and seq continued across files."""
    path = Path(path)
    return verify_files(audit_files(path) if path.is_dir() else [path])


def verify_files(files: Iterable[Path]) -> VerifyResult:
    files = tuple(files)
    checked = 0
    prev: tuple[Path, _Line] | None = None
    for file in files:
        lines = _parse_lines(file)
        for index, line in enumerate(lines):
            checked += 1
            reason = line.problem or (_link_problem(prev, file, line, lines[index + 1:]) if prev else None)
            if reason:
                return VerifyResult(False, checked, files, line.number, file, reason)
            prev = (file, line)
    head = sha256_hex(prev[1].raw) if prev is not None else None
    return VerifyResult(True, checked, files, head=head)


def _link_problem(prev: tuple[Path, _Line], file: Path, line: _Line, rest: list[_Line]) -> str | None:
    """Why `line` does not follow `prev` (its hash and seq), or None."""
    prev_file, prev_line = prev
    assert prev_line.data is not None and line.data is not None
    before = f"line {prev_line.number}" if prev_file == file else \
        f"the last line of {prev_file.name} (line {prev_line.number})"
    prev_seq, seq = prev_line.data["seq"], line.data["seq"]
    if line.data["prev"] != sha256_hex(prev_line.raw):
        later = {x.data["seq"] for x in rest if x.data}
        return f"line {line.number}: prev hash does not match {before} ({_diagnose(prev_seq, seq, later, before)})"
    if seq != prev_seq + 1:
        return f"line {line.number}: seq jumps from {prev_seq} to {seq} after {before}"
    return None


def _diagnose(prev_seq: int, seq: int, later: set[int], before: str) -> str:
    if seq == prev_seq + 1:
        return f"{before} was changed?"
    if seq > prev_seq + 1:
        if prev_seq + 1 in later:
            return f"lines are out of order: seq {seq} comes before seq {prev_seq + 1}"
        return f"seq jumps from {prev_seq} to {seq}: a line was deleted?"
    return f"seq goes back from {prev_seq} to {seq}: lines were reordered or inserted?"


# ---------------------------------------------------------------------------------------------------
# Reading


def read_records(path: Path) -> Iterator[AuditRecord]:
    """The records of one file, skipping lines that are not records (verify reports those)."""
    with open(path, "rb") as f:
        for raw in f:
            try:
                yield AuditRecord.from_json(json.loads(raw))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue


def show(codex_home: Path, since: datetime | None, until: datetime | None = None,
         kinds: Iterable[str] | None = None) -> list[AuditRecord]:
    """Records with since <= ts < until and kind in kinds (None: any), oldest first."""
    since, until = (_utc(since) if since else None), (_utc(until) if until else None)
    wanted = set(kinds) if kinds else None
    records = []
    for path in audit_files(audit_dir(codex_home)):
        if since is not None and path.name < f"audit-{since:%Y-%m}.jsonl":
            continue
        for record in read_records(path):
            if since is not None and record.ts < since:
                continue
            if until is not None and record.ts >= until:
                continue
            if wanted is None or record.kind in wanted:
                records.append(record)
    return records


def format_table(records: Iterable[AuditRecord], width: int = 160) -> str:
    """A fixed-width table: time (UTC), user, session (first 8 characters), kind, summary."""
    rows = [(f"{r.ts:%Y-%m-%d %H:%M:%S}", r.user, r.session[:8], r.kind, r.summary()) for r in records]
    header = ("TIME (UTC)", "USER", "SESSION", "KIND", "SUMMARY")
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i]) for i in range(4)]
    widths[1] = min(widths[1], 16)
    room = max(20, width - sum(widths) - 2 * len(widths))

    def render(row: tuple[str, ...]) -> str:
        cells = [_fit(cell, w).ljust(w) for cell, w in zip(row[:4], widths, strict=True)]
        return "  ".join([*cells, _fit(row[4], room)]).rstrip()

    return "\n".join([render(header), *(render(row) for row in rows)])


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------------
# `codex audit`


_RELATIVE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """"7d", "24h", "30m", "2w", "2026-11-01" (UTC midnight) or an ISO 8601 time (UTC unless it says) -> UTC."""
    now = _utc(now or datetime.now(UTC))
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise UserError(
            f"'{text}' is not a time; use a date like 2026-11-01, a time like 2026-11-01T09:30, "
            "or an age like 7d, 24h or 30m"
        ) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; the CLI reports UserErrors in one place
        raise UserError(f"codex audit: {message}; see codex audit --help")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codex audit", description="Check and read the audit log in CODEX_HOME/audit.")
    commands = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    check = commands.add_parser("verify", help="check the hash chain; names the first broken line")
    check.add_argument("file", nargs="?", type=Path, help="one audit file (default: every file, oldest first)")
    read = commands.add_parser("show", help="print records as a table")
    read.add_argument("--since", help="2026-11-01, 2026-11-01T09:30, 7d, 24h, 30m")
    read.add_argument("--until", help="same forms as --since; records before it")
    read.add_argument("--kind", action="append", default=[], help=f"repeatable or comma-separated: {', '.join(KINDS)}")
    read.add_argument("--json", action="store_true", help="print the records as JSON lines instead of a table")
    return parser


def run_audit_command(codex_home: Path, argv: list[str], now: datetime | None = None) -> int:
    """`codex audit verify [FILE]` and `codex audit show [...]`; prints to stdout and returns the exit code."""
    args = _parser().parse_args(argv)
    directory = audit_dir(codex_home)
    if args.action == "verify":
        if args.file is not None:
            if not args.file.exists():
                raise UserError(f"audit file {args.file} does not exist; list them with ls {directory}")
            result = verify(args.file)
        elif not audit_files(directory):
            print(f"OK: 0 lines (no audit files in {directory} yet)")
            return 0
        else:
            result = verify(directory)
        print(result.message())
        return 0 if result.ok else 1
    kinds = [k.strip() for value in args.kind for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UserError(f"--kind {', '.join(unknown)} is not a record kind; use one of: {', '.join(KINDS)}")
    since = parse_since(args.since, now) if args.since else None
    until = parse_since(args.until, now) if args.until else None
    records = show(codex_home, since, until, kinds or None)
    if args.json:
        for record in records:
            print(json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")))
    elif records:
        print(format_table(records))
    else:
        print("no audit records" + (f" since {_format_ts(since)}" if since else "") + f" in {directory}")
    return 0
