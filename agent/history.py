"""The prompt history behind the composer's Up/Down: CODEX_HOME/history.jsonl, shared by every session.

The format is Codex's, so both programs share one file: plain JSON Lines, UTF-8, one prompt per line,

    {"session_id": "<thread id>", "ts": <unix seconds>, "text": "<the prompt>"}

appended oldest first. `[history] persistence = "none"` writes nothing. The file holds everything the user typed,
so it is created (and kept, when it already exists) with mode 0600, and each prompt is appended with one
`write` on an O_APPEND descriptor under an exclusive `flock`, so concurrent sessions never interleave lines
(after a half-written line left by a killed process, the new line starts on a line of its own).
Reading skips a partial or invalid line instead of failing: a history is a convenience, not a record.

`[history] max_bytes` caps the file as Codex does: when an append takes it past the cap, the oldest lines are
dropped until it holds at most 80% of the cap (the newest prompt is always kept), rewritten in place under the
same lock, so a concurrent writer waiting for the lock appends to the trimmed file.

This module does not de-duplicate prompts or implement the composer's navigation.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agent.config import HISTORY_PERSISTENCE
from agent.errors import UserError
from agent.fileio import write_all

try:
    import fcntl
except ImportError:  # not POSIX: appends stay unlocked
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "history.jsonl"
FILE_MODE = 0o600
TRIM_TO = 0.8  # of max_bytes, as Codex compacts the file


class PromptHistoryError(UserError):
    """The history file cannot be written; front ends show it as a warning and carry on."""


class PromptHistory:
    def __init__(self, codex_home: Path, persistence: str = "save-all", max_bytes: int | None = None):
        if persistence not in HISTORY_PERSISTENCE:
            raise ValueError(f"persistence must be one of {', '.join(HISTORY_PERSISTENCE)}, not {persistence!r}")
        self.path = Path(codex_home) / FILE_NAME
        self.persistence = persistence
        self.max_bytes = max_bytes or None  # 0 or None: no cap

    def append(self, session_id: str, text: str) -> None:
        """Add one prompt; nothing happens for persistence "none" or a blank prompt."""
        if self.persistence == "none" or not text.strip():
            return
        entry = {"session_id": session_id, "ts": int(time.time()), "text": text}
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
            try:
                if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
                    os.fchmod(fd, FILE_MODE)
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":  # a killed writer's half line: end it first
                    data = b"\n" + data
                write_all(fd, data)
                if self.max_bytes is not None and size + len(data) > self.max_bytes:
                    _trim(fd, int(self.max_bytes * TRIM_TO))
            finally:
                os.close(fd)  # also releases the lock
        except OSError as exc:
            raise PromptHistoryError(
                f"cannot save the prompt to {self.path} ({exc.strerror}); check its permissions, or set "
                '[history] persistence = "none" in config.toml'
            ) from None

    def entries(self, limit: int = 1000) -> list[str]:
        """The last `limit` prompts, oldest first; partial or invalid lines are skipped, a missing file is empty."""
        if limit <= 0:
            return []
        try:
            data = self.path.read_bytes()
        except OSError:
            return []
        texts = []
        for line in data.split(b"\n"):
            try:
                entry = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                texts.append(entry["text"])
        return texts[-limit:]


def _trim(fd: int, budget: int) -> None:
    """Keep the newest whole lines of the file that fit in budget bytes (at least the last one); fd is locked."""
    lines = os.pread(fd, os.fstat(fd).st_size, 0).splitlines(keepends=True)
    kept, used = [], 0
    for line in reversed(lines):
        if kept and used + len(line) > budget:
            break
        kept.append(line)
        used += len(line)
    os.ftruncate(fd, 0)
    write_all(fd, b"".join(reversed(kept)))  # O_APPEND: written from offset 0 of the emptied file
