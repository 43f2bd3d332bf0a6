"""The audit log: an append-only, hash-chained JSONL record of what every session did, and its head.

Each record is one line of `CODEX_HOME/audit/audit-YYYY-MM.jsonl` (the UTC month of the record): prompts, model
requests (also the failed ones), tool calls, approval decisions, changed files and commands run. Every line carries
`prev`, the sha256 of the bytes of the line before it (without its newline); the first line of a month chains to
the last line of the previous file, the very first line to 64 zeros. Beside the lines, `head.json` records the
chain's head: the last line's seq and hash, the line count, and per file its lines and its first and last seq, so a
deleted, renamed, cut or extended file and an edited last line show too. `verify` checks the chain, the file
names' months and the head and names every problem; `send_witness` sends the head to syslog so a copy can be kept
out of reach of whoever can write CODEX_HOME; `AuditLog.retire` moves old month files out of the chain
(retention); `show`/`format_table` read records back for people; `run_audit_command` is `codex audit
verify|show|retire`. The formats, field by field, and the threat model are in docs/audit.md.

Writers serialise on an exclusive `flock` of `CODEX_HOME/audit/.lock` while they read the head, append their line
(one `write`, fsynced) and replace the head (temp file, fsync, rename, fsync of the directory), so concurrent
sessions keep one chain and one head. A new line chains to the hash the head records, not to whatever the file
ends with, so an edit of the last line stays visible after later appends. Everything a record holds passes
through a `Redactor` first; prompt text, request bodies and long tool arguments are written only with
`include_content`.

This module does not decide what to audit or when (the session and the tools call it). Someone who can rewrite
the files *and* the head can forge a consistent history; only the witness (a head sent elsewhere) shows that.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import errno
import fcntl
import getpass
import hashlib
import json
import os
import re
import shlex
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any
from urllib.parse import urlparse

from agent.errors import UsageError, UserError
from agent.fileio import fsync_directory, write_all, write_atomic
from agent.redact import Redactor

GENESIS = "0" * 64  # `prev` of the first line of the first file
AUDIT_DIR = "audit"
LOCK_FILE = ".lock"
HEAD_FILE = "head.json"  # the chain's head, replaced atomically after every line
HEAD_TEMP = ".head.json.tmp"
HEAD_VERSION = 1
WITNESSES = ("none", "syslog")
SYSLOG_SOCKET = "/dev/log"
SYSLOG_TAG = "codex-audit"
SYSLOG_PRIORITY = 13  # facility user (1) * 8 + severity notice (5), as `logger` sends by default
SYSLOG_TIMEOUT = 2.0  # seconds a send may block
FILE_PATTERN = re.compile(r"audit-(\d{4})-(\d{2})\.jsonl")
ARGUMENTS_LIMIT = 2000  # characters of tool arguments kept without include_content

PROMPT = "prompt"
MODEL_REQUEST = "model_request"
TOOL_CALL = "tool_call"
APPROVAL = "approval"
FILE_CHANGED = "file_changed"
COMMAND = "command"
HEAD_REBUILT = "head_rebuilt"  # written by the writer that found head.json missing or unreadable
FILES_RETIRED = "files_retired"  # written by `codex audit retire`
KINDS = (PROMPT, MODEL_REQUEST, TOOL_CALL, APPROVAL, FILE_CHANGED, COMMAND, HEAD_REBUILT, FILES_RETIRED)
RETIRED_DIR = "retired"  # CODEX_HOME/audit/retired: month files `codex audit retire` moved out of the chain

ENVELOPE = ("ts", "seq", "session", "user", "host", "kind")  # first keys of every line; "prev" is the last

Clock = Callable[[], datetime]
Warn = Callable[[str], None]


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
                if f.get("status") in ("failed", "retried"):
                    tokens = f" {f['status']}: {_one_line(f.get('error') or '')}"
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
                 clock: Clock | None = None, witness: Witness | None = None, warn: Warn | None = None) -> None:
        self.directory = audit_dir(codex_home)
        self.redactor = redactor
        self.include_content = include_content
        self.session_id = session_id
        self.witness = witness or Witness()
        self._warn = warn or (lambda message: None)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._user = _os_user()
        self._host = socket.gethostname()
        self._before: dict[str, str | None] = {}  # path -> sha256 captured by before_files
        self._asked: dict[str, tuple[str, str]] = {}  # approval request id -> (what, kind)

    @classmethod
    def from_config(cls, config: Any, redactor: Redactor, session_id: str, warn: Warn | None = None) -> AuditLog:
        """The log a session writes, as `[audit]` in config.toml sets it up; `warn` hears of a failed witness."""
        witness = Witness(config.audit_witness, Path(config.audit_syslog_socket), config.config_file)
        return cls(config.codex_home, redactor, config.audit_include_content, session_id, witness=witness, warn=warn)

    # --- one method per kind -------------------------------------------------------------------

    def prompt(self, text: str) -> None:
        redacted = self.redactor.text(text)
        fields: dict[str, Any] = {"chars": len(text), "sha256": sha256_hex(redacted.encode("utf-8"))}
        if self.include_content:
            fields["text"] = redacted
        self.append(PROMPT, fields)

    def model_request(self, provider: str, model: str | None, endpoint: str | None, usage: Any,
                      body: object | None = None, error: str | None = None, retried: bool = False) -> None:
        """One request to a model; `error` (the sentence the user saw) marks one that failed, `retried` one that
        failed and is being sent again."""
        status = "retried" if retried else "failed" if error else "completed"
        fields: dict[str, Any] = {"provider": provider, "model": model, "endpoint_host": _endpoint_host(endpoint),
                                  **_usage_counts(usage), "status": status, "error": error}
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
            TurnCompleted,
            TurnFailed,
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
            case TurnCompleted() | TurnFailed():
                self.send_witness()
            case _:
                pass

    def retire(self, before: str) -> list[FileHead]:
        """Move the month files older than `before` (YYYY-MM) to audit/retired/ and out of the head, and record
        that in the chain; the newest file always stays. The files retired (none: nothing that old)."""
        with self._locked():
            try:
                head = read_head(self.directory)
            except HeadUnreadable as e:
                raise UserError(f"{self.directory / HEAD_FILE} {e}; run codex audit verify before retiring files") \
                    from None
            old = [f for f in head.files if f.name < f"audit-{before}.jsonl"] if head else []
            if not old or head is None:
                return []
            if len(old) == len(head.files):
                raise UserError(f"--before {before} would retire every month file, also the newest, {old[-1].name}, "
                                f"which holds the head; use --before {old[-1].name[6:13]} or an earlier month")
            fields = {"files": [dataclasses.asdict(f) for f in old], "moved_to": str(self.directory / RETIRED_DIR)}
            head = self._append_line(head, _utc(self._clock()), FILES_RETIRED, self.redactor.value(fields))[1]
            keep = head.files[len(old):]
            write_head(self.directory, dataclasses.replace(
                head, files=keep, lines=sum(f.lines for f in keep), start_seq=keep[0].first_seq,
                start_prev=old[-1].last_hash))
            (self.directory / RETIRED_DIR).mkdir(mode=0o700, exist_ok=True)
            for entry in old:
                with contextlib.suppress(FileNotFoundError):  # already gone: the head no longer expects it
                    os.replace(self.directory / entry.name, self.directory / RETIRED_DIR / entry.name)
            fsync_directory(self.directory)
        return old

    def send_witness(self) -> str | None:
        """Send the head to the configured witness (after each turn); the warning given when that failed."""
        if self.witness.kind == "none":
            return None
        problem = None
        with self._locked():
            try:
                head = read_head(self.directory)
            except HeadUnreadable as e:
                head, problem = None, f"the audit head {self.directory / HEAD_FILE} {e}: run codex audit verify."
        if head is not None:
            problem = self.witness.send(head, self.session_id, self._user)
        if problem:
            self._warn(problem)
        return problem

    # --- the chain ---------------------------------------------------------------------------------

    def append(self, kind: str, fields: Mapping[str, Any]) -> AuditRecord:
        """Redact `fields`, chain them to the head, write them durably and move the head; the record as written."""
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
            try:
                head, lost = read_head(self.directory), None
            except HeadUnreadable as e:
                head, lost = None, f"{HEAD_FILE} {e}"
            if head is None:
                files = audit_files(self.directory)
                head = rebuild_head(files)
                if head.lines or lost:  # lines without a head: record that the anchor was lost, then go on
                    lost = lost or f"{HEAD_FILE} was missing"
                    rebuilt = {"reason": lost, "lines": head.lines, "files": [f.name for f in head.files]}
                    head = self._append_line(head, ts, HEAD_REBUILT, rebuilt)[1]
            record, head = self._append_line(head, ts, kind, clean)
        return record

    def _append_line(self, head: Head, ts: datetime, kind: str, fields: Mapping[str, Any]) -> tuple[AuditRecord, Head]:
        """Write one line after the head's last line, then the new head; both fsynced. Caller holds the lock."""
        name = head.file_for(ts)
        record = AuditRecord(ts=ts, seq=head.seq + 1, session=self.session_id, user=self._user, host=self._host,
                             kind=kind, fields=MappingProxyType(dict(fields)), prev=head.hash)
        raw = _encode(record.to_json())
        path = self.directory / name
        created = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            # a torn last line stays (verify reports it); ours starts on its own line
            write_all(fd, (b"\n" if _ends_without_newline(fd) else b"") + raw + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_directory(self.directory)
        head = head.appended(name, record.seq, sha256_hex(raw), record.prev, _format_ts(ts))
        write_head(self.directory, head)
        return record, head

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


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _ends_without_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


# ---------------------------------------------------------------------------------------------------
# The head


class HeadUnreadable(ValueError):
    """head.json exists but is not a head record; the message says what is wrong with it."""


@dataclass(frozen=True)
class FileHead:
    """What the head records of one month file: its name, how many lines, the seq of the first and last line,
    and the sha256 of the last line."""

    name: str
    lines: int
    first_seq: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class Head:
    """The chain's head as `head.json` holds it: the last line (seq, sha256), the line count, where the chain starts
    (the first line's seq and prev) and every file. An empty head (no lines) has seq 0 and the GENESIS hash."""

    seq: int = 0
    hash: str = GENESIS
    lines: int = 0
    start_seq: int = 1
    start_prev: str = GENESIS
    files: tuple[FileHead, ...] = ()
    updated: str = ""

    def file_for(self, ts: datetime) -> str:
        """The file a line written at `ts` goes to: its month's, or the newest file if the clock went back."""
        name = f"audit-{ts:%Y-%m}.jsonl"
        return max(name, self.files[-1].name) if self.files else name

    def appended(self, name: str, seq: int, line_hash: str, prev: str, updated: str) -> Head:
        files = list(self.files)
        if files and files[-1].name == name:
            last = files[-1]
            files[-1] = FileHead(name, last.lines + 1, last.first_seq, seq, line_hash)
        else:
            files.append(FileHead(name, 1, seq, seq, line_hash))
        start_seq, start_prev = (self.start_seq, self.start_prev) if self.lines else (seq, prev)
        return Head(seq, line_hash, self.lines + 1, start_seq, start_prev, tuple(files), updated)

    def to_json(self) -> dict[str, Any]:
        return {"version": HEAD_VERSION, "seq": self.seq, "hash": self.hash, "lines": self.lines,
                "start": {"seq": self.start_seq, "prev": self.start_prev},
                "files": [dataclasses.asdict(f) for f in self.files], "updated": self.updated}

    @classmethod
    def from_json(cls, data: Any) -> Head:
        """The head of a parsed head.json; KeyError/TypeError/ValueError when it is not one."""
        if data.get("version") != HEAD_VERSION:
            raise ValueError(f"version {data.get('version')!r} is not {HEAD_VERSION}")
        files = tuple(FileHead(_text(f["name"]), _count(f["lines"]), _count(f["first_seq"]), _count(f["last_seq"]),
                               _digest(f["last_hash"])) for f in data["files"])
        start = data["start"]
        return cls(_count(data["seq"]), _digest(data["hash"]), _count(data["lines"]), _count(start["seq"]),
                   _digest(start["prev"]), files, str(data.get("updated", "")))


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r} is not a count")
    return value


def _digest(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise TypeError(f"{value!r} is not a sha256 hex digest")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not FILE_PATTERN.fullmatch(value):
        raise TypeError(f"{value!r} is not an audit file name")
    return value


def read_head(directory: Path) -> Head | None:
    """The head recorded in `directory`; None when there is none; HeadUnreadable when it is not a head."""
    path = Path(directory) / HEAD_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise HeadUnreadable(f"is not valid JSON ({e})") from None
    try:
        return Head.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise HeadUnreadable(f"is not a head record ({type(e).__name__}: {e})") from None


def write_head(directory: Path, head: Head) -> None:
    """Replace head.json atomically: write a temp file, fsync it, rename it over, fsync the directory."""
    write_atomic(Path(directory) / HEAD_FILE, _encode(head.to_json()) + b"\n", 0o600, temp_name=HEAD_TEMP)


def rebuild_head(files: Iterable[Path]) -> Head:
    """The head that covers the records in `files` as they are now (used when head.json is missing)."""
    stats = [s for s in (_file_stats(f, _parse_lines(f)) for f in files) if s is not None]
    if not stats:
        return Head()
    first, last = stats[0], stats[-1]
    heads = tuple(s.head for s in stats)
    return Head(last.head.last_seq, last.head.last_hash, sum(h.lines for h in heads), first.head.first_seq,
                first.first_prev, heads, "")


@dataclass(frozen=True)
class _FileStats:
    head: FileHead  # the file as it is, in the head's terms
    first_prev: str
    first_line: int  # line numbers of its first and last records
    last_line: int


def _file_stats(path: Path, lines: list[_Line]) -> _FileStats | None:
    records = [line for line in lines if line.data is not None]
    if not records:
        return None
    first, last = records[0].data, records[-1].data
    assert first is not None and last is not None
    return _FileStats(FileHead(path.name, len(records), first["seq"], last["seq"], sha256_hex(records[-1].raw)),
                      first["prev"], records[0].number, records[-1].number)


# ---------------------------------------------------------------------------------------------------
# The witness


@dataclass(frozen=True)
class Witness:
    """Where the head goes after each turn: `none`, or `syslog` (a datagram to `socket`, as `logger` sends it,
    so journald or rsyslog keep it and can forward it to a SIEM).

    Hand-written rather than `logging.handlers.SysLogHandler` because a failed send must come back to us as a
    sentence for the user (the handler reports to stderr and goes on) and the socket path is a setting; the
    `syslog` module cannot send anywhere but the C library's /dev/log."""

    kind: str = "none"
    socket: Path = Path(SYSLOG_SOCKET)
    config_file: Path | None = None

    def send(self, head: Head, session: str, user: str) -> str | None:
        """Send one syslog message naming the head; None when sent, else the warning for the user."""
        try:
            _send_syslog(self.socket, syslog_message(head, session, user))
        except OSError as e:
            where = f" in {self.config_file}" if self.config_file else ""
            return (f"audit.witness = \"syslog\" could not send the audit head to {self.socket} "
                    f"({e.strerror or e}): start the system logger, or point audit.syslog_socket{where} at its socket.")
        return None


def syslog_message(head: Head, session: str, user: str, now: float | None = None) -> bytes:
    """`<13>Mmm dd hh:mm:ss codex-audit[pid]: head seq=… hash=… lines=… files=… file=… session=… user=…`."""
    stamp = time.localtime(now)
    when = f"{time.strftime('%b', stamp)} {stamp.tm_mday:2d} {time.strftime('%H:%M:%S', stamp)}"
    last = head.files[-1].name if head.files else "-"
    text = (f"head seq={head.seq} hash={head.hash} lines={head.lines} files={len(head.files)} file={last} "
            f"session={session or '-'} user={user}")
    return f"<{SYSLOG_PRIORITY}>{when} {SYSLOG_TAG}[{os.getpid()}]: {text}".encode()


def _send_syslog(path: Path, message: bytes) -> None:
    """A datagram to a unix socket (journald, rsyslog); a stream socket (some syslog-ng set-ups) gets a line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.settimeout(SYSLOG_TIMEOUT)  # a stalled logger with a full queue must not hold up the turn
        try:
            sock.sendto(message, str(path))
            return
        except OSError as e:
            if e.errno != errno.EPROTOTYPE:
                raise
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stream:
        stream.settimeout(SYSLOG_TIMEOUT)
        stream.connect(str(path))
        stream.sendall(message + b"\n")


# ---------------------------------------------------------------------------------------------------
# Verifying


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log: the file (or head.json) it is in, what (one sentence), and the line if any."""

    where: Path
    text: str  # e.g. "line 7: prev hash does not match line 6 (line 6 was changed?)"
    line: int | None = None

    def message(self) -> str:
        return f"BROKEN: {self.where}: {self.text}"


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the log: every problem found (none: intact), the lines read and the head hash."""

    lines: int  # records read (lines that parse as records)
    files: tuple[Path, ...] = ()
    problems: tuple[Problem, ...] = ()
    head: str | None = None  # the head's hash (for one file: its last line's); None when nothing is recorded

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def broken_file(self) -> Path | None:
        return self.problems[0].where if self.problems else None

    @property
    def first_broken_line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def reason(self) -> str | None:
        return self.problems[0].text if self.problems else None

    def message(self) -> str:
        """`OK: N lines, head <sha256>`, or one `BROKEN: <file>: <what>` line per problem."""
        if self.problems:
            return "\n".join(problem.message() for problem in self.problems)
        if self.head is None:
            return "OK: 0 lines (nothing recorded yet)"
        return f"OK: {self.lines} lines, head {self.head}"


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
    """Check an audit directory (every month file, the chain across them, the head) or one file (its chain, its
    name's month, and its entry in the head of the directory it is in; its first line's prev taken as given)."""
    path = Path(path)
    return verify_directory(path) if path.is_dir() else verify_file(path)


def verify_file(path: Path) -> VerifyResult:
    lines = _parse_lines(path)
    problems = _chain_problems([(path, lines)])
    stats = _file_stats(path, lines)
    try:
        head = read_head(path.parent)
    except HeadUnreadable:
        head = None  # `codex audit verify` of the directory reports it
    entry = next((f for f in head.files if f.name == path.name), None) if head else None
    if entry is not None:
        problems += _file_head_problems(path, entry, stats)
    return VerifyResult(stats.head.lines if stats else 0, (path,), tuple(problems),
                        stats.head.last_hash if stats else None)


def verify_directory(directory: Path) -> VerifyResult:
    files = audit_files(directory)
    problems: list[Problem] = []
    try:
        head, unreadable = read_head(directory), False
    except HeadUnreadable as e:
        head, unreadable = None, True
        problems.append(Problem(directory / HEAD_FILE, str(e)))
    parsed = [(file, _parse_lines(file)) for file in files]
    problems += _chain_problems(parsed)
    stats = {file.name: s for file, lines in parsed if (s := _file_stats(file, lines)) is not None}
    count = sum(s.head.lines for s in stats.values())
    if head is not None:
        problems += _head_problems(directory, head, files, stats)
    elif count and not unreadable:
        problems.append(Problem(directory / HEAD_FILE, f"is missing, but {len(stats)} audit file"
                                f"{'s' if len(stats) != 1 else ''} hold {count} lines (deleted?)"))
    return VerifyResult(count, tuple(files), tuple(problems), head.hash if head and head.lines else None)


def _chain_problems(parsed: list[tuple[Path, list[_Line]]]) -> list[Problem]:
    """Every broken link, bad line and misnamed file, oldest first; after a break the walk goes on from the
    broken line, so each break is named once."""
    problems: list[Problem] = []
    prev: tuple[Path, _Line] | None = None
    for file, lines in parsed:
        month = _month_problem(file, lines)
        if month is not None:
            problems.append(month)
        for index, line in enumerate(lines):
            if line.problem is not None:
                problems.append(Problem(file, line.problem, line.number))
                continue  # a torn line is skipped: the next writer chained past it
            reason = _link_problem(prev, file, line, lines, index) if prev else None
            if reason:
                problems.append(Problem(file, reason, line.number))
            if line.data and line.data.get("kind") == HEAD_REBUILT:
                problems.append(Problem(file, (
                    f"line {line.number}: the writer found no usable head ({line.data.get('reason')}) and rebuilt "
                    f"it from the files, so the lines before seq {line.data['seq']} are not anchored by the head"
                ), line.number))
            prev = (file, line)
    return problems


def _month_problem(file: Path, lines: list[_Line]) -> Problem | None:
    """A line from a later month than the file's name, or a first line from another month: a renamed file.
    (Earlier months are fine after the first line: a clock that went back keeps writing to the newest file.)"""
    match = FILE_PATTERN.fullmatch(file.name)
    if match is None:
        return None
    month, first = f"{match[1]}-{match[2]}", True
    for line in lines:
        if line.data is None:
            continue
        try:
            written = f"{_parse_ts(line.data['ts']):%Y-%m}"
        except (TypeError, ValueError):
            return Problem(file, f"line {line.number}: ts {line.data['ts']!r} is not an ISO 8601 time", line.number)
        if written > month or (first and written != month):
            return Problem(file, f"line {line.number} was written in {written}, but the file is named for {month} "
                                 "(renamed?)", line.number)
        first = False
    return None


def _head_problems(directory: Path, head: Head, files: list[Path], stats: Mapping[str, _FileStats]) -> list[Problem]:
    """Where the files disagree with the head: missing, unknown, cut or extended files, an edited last line."""
    problems: list[Problem] = []
    on_disk = {file.name for file in files}
    recorded = {entry.name: entry for entry in head.files}
    for entry in head.files:
        if entry.name not in on_disk:
            problems.append(Problem(directory / entry.name, f"is missing: the head records {entry.lines} lines in it, "
                                    f"seq {entry.first_seq} to {entry.last_seq} (deleted or renamed?)"))
    for file in files:
        found = stats.get(file.name)
        if file.name in recorded:
            problems += _file_head_problems(file, recorded[file.name], found)
        elif found is not None:
            problems.append(Problem(file, f"is not in the head record ({found.head.lines} lines, seq "
                                    f"{found.head.first_seq} to {found.head.last_seq}): renamed, or written without "
                                    "the agent?"))
    if head.files:
        last, oldest = head.files[-1], stats.get(head.files[0].name)
        if (head.seq, head.hash, head.lines, head.start_seq) != \
                (last.last_seq, last.last_hash, sum(f.lines for f in head.files), head.files[0].first_seq):
            problems.append(Problem(directory / HEAD_FILE, "does not agree with itself (its totals are not its "
                                    "files' entries): edited?"))
        if oldest is not None and oldest.head.first_seq == head.start_seq and oldest.first_prev != head.start_prev:
            problems.append(Problem(directory / head.files[0].name, f"line {oldest.first_line}: its prev is not the "
                                    "one the head records for the start of the chain (the chain was rewritten?)",
                                    oldest.first_line))
    return problems


def _file_head_problems(file: Path, entry: FileHead, found: _FileStats | None) -> list[Problem]:
    if found is None:
        return [Problem(file, f"has no lines, but the head records {entry.lines} (seq {entry.first_seq} to "
                              f"{entry.last_seq}): emptied?")]
    actual, problems = found.head, []
    if actual.first_seq > entry.first_seq:
        problems.append(Problem(file, f"line {found.first_line} has seq {actual.first_seq}, but the head records "
                                      f"that the file starts at seq {entry.first_seq}: "
                                      f"{_lines(actual.first_seq - entry.first_seq, 'first')} removed?",
                                found.first_line))
    elif actual.first_seq < entry.first_seq:
        problems.append(Problem(file, f"line {found.first_line} has seq {actual.first_seq}, but the head records "
                                      f"that the file starts at seq {entry.first_seq}: lines added at its start, or "
                                      "the chain renumbered?", found.first_line))
    if actual.last_seq < entry.last_seq:
        problems.append(Problem(file, f"ends at seq {actual.last_seq} (line {found.last_line}), but the head records "
                                      f"seq {entry.last_seq}: {_lines(entry.last_seq - actual.last_seq, 'last')} "
                                      "removed?", found.last_line))
    elif actual.last_seq > entry.last_seq:
        problems.append(Problem(file, f"line {found.last_line} (seq {actual.last_seq}) is past the last line the head "
                                      f"records (seq {entry.last_seq}): appended without the agent?", found.last_line))
    elif actual.last_hash != entry.last_hash:
        problems.append(Problem(file, f"line {found.last_line}, the last, is not the line the head records (sha256 "
                                      f"{entry.last_hash[:12]}…): edited, or the chain rewritten?", found.last_line))
    if not problems and actual.lines != entry.lines:
        problems.append(Problem(file, f"has {actual.lines} lines, but the head records {entry.lines}"))
    return problems


def _lines(n: int, which: str) -> str:
    return f"the {which} line was" if n == 1 else f"the {which} {n} lines were"


def _link_problem(prev: tuple[Path, _Line], file: Path, line: _Line, lines: list[_Line], index: int) -> str | None:
    """Why `line` does not follow `prev` (its hash and seq), or None."""
    prev_file, prev_line = prev
    assert prev_line.data is not None and line.data is not None
    before = f"line {prev_line.number}" if prev_file == file else \
        f"the last line of {prev_file.name} (line {prev_line.number})"
    prev_seq, seq = prev_line.data["seq"], line.data["seq"]
    if line.data["prev"] != sha256_hex(prev_line.raw):
        later = {x.data["seq"] for x in lines[index + 1:] if x.data}
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


def _retire(codex_home: Path, before: str) -> int:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", before):
        raise UserError(f"--before {before} is not a month; write it as YYYY-MM, e.g. 2026-06")
    retired = AuditLog(codex_home, Redactor()).retire(before)
    if not retired:
        print(f"nothing to retire: no month file before {before} in the head of {audit_dir(codex_home)}")
    for entry in retired:
        print(f"retired {entry.name} ({entry.lines} lines, seq {entry.first_seq} to {entry.last_seq}, last sha256 "
              f"{entry.last_hash}) to {audit_dir(codex_home) / RETIRED_DIR}")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; the CLI reports UserErrors in one place
        raise UsageError(f"codex audit: {message}; see `codex audit --help`")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codex audit", description="Check and read the audit log in CODEX_HOME/audit.")
    commands = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    check = commands.add_parser("verify", help="check the chain and its head; one line per problem, exit 1 if any")
    check.add_argument("file", nargs="?", type=Path, help="one audit file (default: every file, oldest first)")
    read = commands.add_parser("show", help="print records as a table")
    read.add_argument("--since", help="2026-11-01, 2026-11-01T09:30, 7d, 24h, 30m")
    read.add_argument("--until", help="same forms as --since; records before it")
    read.add_argument("--kind", action="append", default=[], help=f"repeatable or comma-separated: {', '.join(KINDS)}")
    read.add_argument("--json", action="store_true", help="print the records as JSON lines instead of a table")
    retire = commands.add_parser("retire", help=f"move month files out of the chain into {AUDIT_DIR}/{RETIRED_DIR}/")
    retire.add_argument("--before", required=True, help="YYYY-MM: retire the files of the months before it")
    return parser


def run_audit_command(codex_home: Path, argv: list[str], now: datetime | None = None) -> int:
    """`codex audit verify [FILE]` and `codex audit show [...]`; prints to stdout and returns the exit code."""
    args = _parser().parse_args(argv)
    directory = audit_dir(codex_home)
    if args.action == "retire":
        return _retire(codex_home, args.before)
    if args.action == "verify":
        if args.file is not None and not args.file.exists():
            raise UserError(f"audit file {args.file} does not exist; list them with ls {directory}")
        result = verify(args.file) if args.file is not None else verify_directory(directory)
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
