"""Session files ("rollouts") under CODEX_HOME/sessions: write a thread as it happens, list, find and load them.

A rollout is `CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl` (local wall-clock time of
the session's start; `<id>` is the thread id, a UUID). It is plain JSON Lines: UTF-8, one object per line, each
line ending in "\\n". Every line has the same envelope::

    {"timestamp": "2025-10-29T00:59:38.317Z", "type": <line type>, "payload": {...}}

`timestamp` is when the line was written (UTC, milliseconds). Line types and payloads follow the names and shapes
of Codex's own rollout files, so tools that read Codex's sessions can read ours and we can load Codex's (a
CODEX_HOME may be shared with Codex). The file is created with mode 0600: it holds the whole conversation.

- `session_meta`, always the first line and only there::

      {"id": "<thread id>", "timestamp": "<start, UTC ISO 8601>", "cwd": "/abs/path", "originator": "codex-local",
       "cli_version": "0.1.0", "model_provider": "ollama", "model": "qwen2.5-coder:7b" | null,
       "git": {"branch": "main", "commit_hash": "<sha>"}}          (git keys absent when unknown)

- `response_item`: one item of the model-facing history, in the Responses API's shape::

      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "..."}]}
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "..."}]}
      {"type": "function_call", "call_id": "...", "name": "shell", "arguments": "<raw JSON text>"}
      {"type": "function_call_output", "call_id": "...", "output": "<tool output>"}

  A history `Message` becomes one or more items: a user message one `message`; an assistant message its text
  `message` (left out when the text is empty and there are calls) and then one `function_call` per tool call; a
  tool message one `function_call_output` (agent.models.response_items owns this conversion, both ways; a
  user message's images are `input_image` parts). All items of one `Message` are written in a single write.
  Loading groups `function_call`s back into the assistant message just before them.

- `compacted`: the history was replaced (context compaction)::

      {"message": "<summary text, may be empty>", "replacement_history": [<response items>]}

  When loading, the replacement history replaces everything before it.

- `event_msg`: what front ends saw. Either an event's `event_to_json` form (the `exec --json` line, e.g.
  `{"type": "item.completed", "item": {...}}`), or a user prompt as Codex writes it:
  `{"type": "user_message", "message": "<the prompt>"}`. Streaming deltas (`item.delta`, `command.output_delta`)
  and `status` lines are not stored: completed items carry the same text, and status lines are progress only.

Durability: every line is handed to the kernel with one `write` on an O_APPEND descriptor (no user-space
buffer), so a killed process loses at most the line being written; the file is fsynced at the end of each turn
(`turn.completed`, `turn.failed`, `error`), after a compaction and on close, so a power loss costs at most the
current turn while a busy turn does not pay for an fsync per event. A reader tolerates a partial last line (it
is ignored and reported) and skips, with a warning, lines that are not JSON; unknown line types (Codex also
writes `turn_context`) are skipped silently. Items of a rollout written by Codex are carried: messages (a
`developer` message becomes a user message, as the history has no developer role), function calls, freeform
`custom_tool_call`s (Codex's apply_patch: the patch becomes `{"input": <patch>}`), `local_shell_call`s and
Codex's string-command shell tools (`exec_command`, `shell_command`), which become `shell` calls, with their
outputs; what cannot be carried (`reasoning`, whose content Codex encrypts for OpenAI, `web_search_call`, ...) is
named with its count in one warning.

Resuming appends to the same file (`RolloutWriter.append_to`), after cutting off a killed writer's partial last
line so that no new line is glued onto it.

This module does not decide when to write (the session and front ends do; `--ephemeral` simply creates no
`RolloutWriter`), and it does not render transcripts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import __version__
from agent.config import Config
from agent.errors import UserError
from agent.fileio import fsync_directory, write_all
from agent.models.base import Message
from agent.models.response_items import add_item, content_text, message_to_items
from agent.protocol import (
    Event,
    OutputDelta,
    SessionConfigured,
    ShutdownComplete,
    Status,
    StatusReport,
    TextDelta,
    TurnContextChanged,
    event_to_json,
)

ORIGINATOR = "codex-local"
# Events not stored: deltas are repeated by the completed item, status lines are progress only, and the answers
# about the session itself (its status, its configuration) describe the process, not the thread.
UNSTORED_EVENTS = (TextDelta, OutputDelta, Status, SessionConfigured, StatusReport, TurnContextChanged,
                   ShutdownComplete)
# Event types after which the file is fsynced.
_SYNC_AFTER = frozenset({"turn.completed", "turn.failed", "error"})
_NAME_RE = re.compile(r"^rollout-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})-(.+)\.jsonl$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_HEAD_LINES = 200  # lines read to find the first prompt when listing


class UnknownSession(UserError):
    """A session id (or prefix) given on the command line names no session, or more than one."""

    exit_code = 2


class RolloutError(UserError):
    """A session file cannot be created, written, read or found; the message names the file and the fix."""


@dataclass(frozen=True)
class SessionMeta:
    id: str
    cwd: str
    model: str | None
    provider: str
    git_branch: str | None
    git_commit: str | None
    cli_version: str
    started_at: str  # UTC ISO 8601, e.g. "2025-10-29T00:59:38.308Z"


@dataclass(frozen=True)
class LoadedRollout:
    path: Path
    meta: SessionMeta
    history: list[Message]  # the model-facing history, compactions applied
    events: list[dict[str, Any]]  # event_msg payloads in order (exec --json events and user_message prompts)
    first_prompt: str | None
    warnings: list[str]  # one sentence each, e.g. a partial last line that was ignored


@dataclass(frozen=True)
class RolloutSummary:
    path: Path
    id: str
    cwd: str
    started_at: str
    first_prompt: str | None
    model: str | None


def utc_timestamp(moment: datetime | None = None) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as Codex writes it; a naive datetime counts as local time."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_session_meta(thread_id: str, config: Config, now: datetime | None = None) -> SessionMeta:
    """The meta line for a new thread in config.cwd, with the git branch and commit when cwd is in a repository."""
    branch, commit = _git_head(config.cwd)
    return SessionMeta(
        id=thread_id, cwd=str(config.cwd), model=config.model, provider=config.provider.id, git_branch=branch,
        git_commit=commit, cli_version=__version__, started_at=utc_timestamp(now),
    )


# --- writing -----------------------------------------------------------------------------------------------------


class RolloutWriter:
    """Appends one thread's lines to its rollout file, each handed to the kernel as it happens."""

    def __init__(self, codex_home: Path, meta: SessionMeta, now: datetime | None = None):
        if not _ID_RE.match(meta.id):
            raise ValueError(f"session id {meta.id!r} cannot be part of a file name")
        now = now or datetime.now().astimezone()  # the file name uses its wall-clock time as given
        directory = Path(codex_home) / "sessions" / now.strftime("%Y/%m/%d")
        path = directory / f"rollout-{now.strftime('%Y-%m-%dT%H-%M-%S')}-{meta.id}.jsonl"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RolloutError(
                f"cannot create the session file {path} ({exc.strerror}); make {directory} writable "
                "or run with --ephemeral"
            ) from None
        self._setup(path, meta, fd)
        self._write([_line("session_meta", _meta_payload(meta))], sync=True)
        _sync_directory(directory)

    @classmethod
    def append_to(cls, path: Path) -> RolloutWriter:
        """Reopen an existing rollout to continue its thread (resume); a partial last line is cut off first."""
        path = Path(path)
        try:
            with path.open("rb") as file:
                first = _parse_line(file.readline())
        except OSError as exc:
            raise RolloutError(f"cannot read the session file {path} ({exc.strerror}); check the path") from None
        meta = _meta_from_records(path, [first] if first else [])
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
            _cut_partial_last_line(fd)
        except OSError as exc:
            raise RolloutError(
                f"cannot append to the session file {path} ({exc.strerror}); check its permissions"
            ) from None
        writer = cls.__new__(cls)
        writer._setup(path, meta, fd)
        return writer

    def _setup(self, path: Path, meta: SessionMeta, fd: int) -> None:
        self.path = path
        self.meta = meta
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def event(self, event: Event) -> None:
        """Store an event's exec --json form; streaming deltas and status lines are skipped."""
        if isinstance(event, UNSTORED_EVENTS):
            return
        payload = event_to_json(event)
        self._write([_line("event_msg", payload)], sync=payload["type"] in _SYNC_AFTER)

    def user_prompt(self, text: str) -> None:
        """Store a prompt the user submitted (events carry no user text); it is the session's title when listing."""
        self._write([_line("event_msg", {"type": "user_message", "message": text})])

    def message(self, message: Message) -> None:
        """Store one message appended to the model-facing history."""
        self._write([_line("response_item", item) for item in _stored_items(message)])

    def compacted(self, history: Sequence[Message], summary: str = "") -> None:
        """Store that the whole history was replaced by `history` (context compaction)."""
        items = [item for message in history for item in _stored_items(message)]
        self._write([_line("compacted", {"message": summary, "replacement_history": items})], sync=True)

    def close(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> RolloutWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, lines: list[str], sync: bool = False) -> None:
        data = "".join(lines).encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"the rollout {self.path} is closed")
            try:
                write_all(self._fd, data)
                if sync:
                    os.fsync(self._fd)
            except OSError as exc:
                raise RolloutError(
                    f"cannot write the session file {self.path} ({exc.strerror}); free disk space or check "
                    "its permissions, or run with --ephemeral"
                ) from None


def _line(kind: str, payload: dict[str, Any]) -> str:
    record = {"timestamp": utc_timestamp(), "type": kind, "payload": payload}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _meta_payload(meta: SessionMeta) -> dict[str, Any]:
    git = {"branch": meta.git_branch, "commit_hash": meta.git_commit}
    return {
        "id": meta.id, "timestamp": meta.started_at, "cwd": meta.cwd, "originator": ORIGINATOR,
        "cli_version": meta.cli_version, "model_provider": meta.provider, "model": meta.model,
        "git": {key: value for key, value in git.items() if value is not None},
    }


def _sync_directory(directory: Path) -> None:
    """Best effort: the file's first line is already fsynced; a directory that cannot be synced is no error."""
    with contextlib.suppress(OSError):
        fsync_directory(directory)


def _cut_partial_last_line(fd: int) -> None:
    """Truncate after the last newline, so an append never glues a new line onto a killed writer's half line."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end != size:
        os.ftruncate(fd, end)


def _git_head(cwd: Path) -> tuple[str | None, str | None]:
    """(branch, commit) of the repository containing cwd; None for what is unknown (no git, no repo, detached)."""
    try:
        from agent import git  # imported here: gitpython needs a git executable, a rollout does not

        return git.current_branch(cwd), git.head_commit(cwd)
    except Exception:  # a broken or unusual repository must not stop a session from starting
        return None, None


# --- history items -----------------------------------------------------------------------------------------------


def _stored_items(message: Message) -> list[dict[str, Any]]:
    """The items a rollout stores for one message: images included, as Codex stores them (`input_image` parts
    with their `data:` URL), so a resumed thread still shows the model what the prompt showed it."""
    return message_to_items(message)


def _dropped_warning(path: Path, dropped: Counter[str]) -> str:
    kinds = ", ".join(f"{kind} ×{count}" for kind, count in sorted(dropped.items()))
    return (f"{path}: resumed without these items, which cannot be sent to this model: {kinds} (Codex encrypts "
            "its reasoning for OpenAI's servers); the rest of the conversation is carried")


# --- reading -----------------------------------------------------------------------------------------------------


def load_rollout(path: Path) -> LoadedRollout:
    """Read a rollout: its meta, the rebuilt history, the stored events and what was skipped."""
    path = Path(path)
    records, warnings = _read_records(path)
    meta = _meta_from_records(path, records)
    history: list[Message] = []
    events: list[dict[str, Any]] = []
    first_prompt = None
    dropped: Counter[str] = Counter()
    for record in records[1:]:
        payload = record["payload"]
        if record["type"] == "response_item":
            if (what := add_item(history, payload)) is not None:
                dropped[what] += 1
        elif record["type"] == "compacted":
            replacement = payload.get("replacement_history")
            if isinstance(replacement, list):
                history, dropped = [], Counter()
                for item in replacement:
                    if (what := add_item(history, item)) is not None:
                        dropped[what] += 1
            else:  # Codex before replacement_history: only the summary survives
                summary = payload.get("message")
                history = [Message("user", summary, notice=True)] if isinstance(summary, str) and summary else []
        elif record["type"] == "event_msg":
            events.append(payload)
            if first_prompt is None and (prompt := _user_message(payload)) is not None:
                first_prompt = prompt
    if dropped:
        warnings.append(_dropped_warning(path, dropped))
    return LoadedRollout(path, meta, history, events, first_prompt, warnings)


def find_rollouts(codex_home: Path, cwd: Path | None = None) -> list[RolloutSummary]:
    """Sessions under CODEX_HOME/sessions, newest start first; only those started in cwd when given.

    Files that cannot be read or do not start with a session_meta line are left out.
    """
    wanted = _same_path_key(cwd) if cwd is not None else None
    summaries = []
    for path in _rollout_paths(codex_home):
        summary = _summarize(path)
        if summary is not None and (wanted is None or _same_path_key(summary.cwd) == wanted):
            summaries.append(summary)
    summaries.sort(key=lambda s: (_sort_time(s.started_at), s.path.name), reverse=True)
    return summaries


def find_by_id(codex_home: Path, id_or_prefix: str) -> Path:
    """The rollout of the session with this id, or the only one whose id starts with this prefix."""
    sessions = Path(codex_home) / "sessions"
    wanted = id_or_prefix.strip().lower()
    by_id: dict[str, list[Path]] = {}
    for path in _rollout_paths(codex_home):
        match = _NAME_RE.match(path.name)
        if match and wanted and match.group(2).lower().startswith(wanted):
            by_id.setdefault(match.group(2).lower(), []).append(path)
    if wanted in by_id:
        return max(by_id[wanted], key=lambda p: p.name)
    if len(by_id) == 1:
        return max(next(iter(by_id.values())), key=lambda p: p.name)
    if not by_id:
        raise UnknownSession(
            f"no session id starts with '{id_or_prefix}' in {sessions}; list the sessions with `codex resume` "
            "and pass one of their ids"
        )
    shown = ", ".join(sorted(by_id)[:5]) + (", ..." if len(by_id) > 5 else "")
    raise UnknownSession(
        f"'{id_or_prefix}' is the start of {len(by_id)} session ids in {sessions} ({shown}); "
        "pass more characters of the id"
    )


def latest_for_cwd(codex_home: Path, cwd: Path) -> Path | None:
    """The most recently started session in cwd that has a prompt, or None: a session nobody wrote in (opened
    and quit, or left by /new) has nothing to continue, so `resume --last` skips it."""
    return next((summary.path for summary in find_rollouts(codex_home, cwd) if summary.first_prompt), None)


def _rollout_paths(codex_home: Path) -> list[Path]:
    return [p for p in (Path(codex_home) / "sessions").glob("*/*/*/rollout-*.jsonl") if p.is_file()]


def _summarize(path: Path) -> RolloutSummary | None:
    try:
        with path.open("rb") as file:
            head = [line for _, line in zip(range(_HEAD_LINES), file, strict=False)]
    except OSError:
        return None
    records = [record for line in head if (record := _parse_line(line)) is not None]
    try:
        meta = _meta_from_records(path, records)
    except RolloutError:
        return None
    prompt = next((p for r in records if r["type"] == "event_msg" and (p := _user_message(r["payload"]))), None)
    return RolloutSummary(path, meta.id, meta.cwd, meta.started_at, prompt, meta.model)


def _read_records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RolloutError(f"cannot read the session file {path} ({exc.strerror}); check the path") from None
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, as a complete file does
    records, warnings = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = _parse_line(line)
        if record is None:
            warnings.append(f"{path} line {number} is not a valid rollout line and was skipped")
        else:
            records.append(record)
    if tail.strip():
        record = _parse_line(tail)
        if record is None:
            warnings.append(
                f"ignored a partial last line ({len(tail)} bytes) of {path}: the process writing it was probably "
                "killed"
            )
        else:
            records.append(record)
    return records, warnings


def _parse_line(line: bytes) -> dict[str, Any] | None:
    """The record on one line, or None when it is not JSON or not a {type, payload} object."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return None
    if not isinstance(record.get("payload"), dict):
        return None
    return record


def _meta_from_records(path: Path, records: list[dict[str, Any]]) -> SessionMeta:
    if not records or records[0]["type"] != "session_meta":
        raise RolloutError(
            f"{path} is not a session file: its first line is not a session_meta record; pass another session"
        )
    payload = records[0]["payload"]
    git = payload.get("git") if isinstance(payload.get("git"), dict) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    return SessionMeta(
        id=text(payload.get("id")) or "",
        cwd=text(payload.get("cwd")) or "",
        model=text(payload.get("model")),
        provider=text(payload.get("model_provider")) or "",
        git_branch=text(git.get("branch")),
        git_commit=text(git.get("commit_hash")),
        cli_version=text(payload.get("cli_version")) or "",
        started_at=text(payload.get("timestamp")) or text(records[0].get("timestamp")) or "",
    )


def _user_message(payload: dict[str, Any]) -> str | None:
    """The prompt an event_msg records: ours and older Codex's `user_message`, or Codex 0.163's `item_completed`
    of a `UserMessage` item."""
    if payload.get("type") == "user_message" and isinstance(payload.get("message"), str):
        return payload["message"]
    item = payload.get("item")
    if payload.get("type") == "item_completed" and isinstance(item, dict) and item.get("type") == "UserMessage":
        return content_text(item.get("content"))
    return None


def _same_path_key(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _sort_time(started_at: str) -> float:
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()
