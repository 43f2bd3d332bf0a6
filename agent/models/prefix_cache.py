"""The KV state of the fixed prompt prefix, kept on disk so that every run after the first skips evaluating it.

The system prompt, tool section and demonstrations are the same bytes in every run and every repository, and
evaluating them is most of a small model's first-token time. After a run has evaluated them, the engine saves
llama.cpp's state of that sequence (`llama_state_seq_get_data`) here; the next run with the same model file,
context size, engine settings and prefix tokens restores it (`llama_state_seq_set_data`) and evaluates only
what follows.

Files live in `CODEX_HOME/cache/prompt-prefix/<key>.kv`. The key hashes everything the state depends on (the
model file's path, size and modification time, llama-cpp-python's version, n_ctx, the engine settings that
change the KV layout, and the prefix tokens themselves), so a changed model or prompt never finds a stale
entry; the file also stores the tokens, which are compared on load. Entries are written to a temporary file
and renamed into place (concurrent runs never see half a file), touched when used, and evicted least recently
used first beyond `max_entries` or `max_bytes`.

This module does not decide what the prefix is (agent.models.prompt_profile) and never raises on a bad or
missing entry: the caller then evaluates the prefix as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.fileio import TEMP_SUFFIX, write_atomic

MAGIC = b"codex-local prefix kv 1\n"
SUFFIX = ".kv"
STALE_TEMP_S = 3600.0  # a temporary file older than this was left by a killed writer


@dataclass(frozen=True)
class CacheEntry:
    tokens: tuple[int, ...]
    state: bytes


@dataclass(frozen=True)
class PrefixCache:
    directory: Path
    identity: str  # what the state depends on besides the tokens (model file, engine settings)
    max_entries: int = 8
    max_bytes: int = 512 * 1024 * 1024

    def key(self, tokens: tuple[int, ...]) -> str:
        digest = hashlib.sha256(self.identity.encode("utf-8"))
        digest.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return digest.hexdigest()[:40]

    def path(self, tokens: tuple[int, ...]) -> Path:
        return self.directory / (self.key(tokens) + SUFFIX)

    def load(self, tokens: tuple[int, ...]) -> bytes | None:
        """The saved state for exactly these prefix tokens, or None."""
        path = self.path(tokens)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        entry = _decode(data)
        if entry is None or entry.tokens != tokens:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        return entry.state

    def save(self, tokens: tuple[int, ...], state: bytes) -> Path | None:
        """Store the state (temporary file, then rename) and evict old entries; None when it cannot be written."""
        path = self.path(tokens)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(path, _encode(CacheEntry(tokens, state)), 0o600)
        except OSError:
            return None
        self.evict(keep=path)
        return path

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Remove least recently used entries beyond the bounds, and temporary files of killed writers."""
        removed: list[Path] = []
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        try:
            children = list(self.directory.iterdir())
        except OSError:
            return removed
        for child in children:
            try:
                info = child.stat()
            except OSError:
                continue
            if child.name.endswith(TEMP_SUFFIX) and now - info.st_mtime > STALE_TEMP_S:
                removed += [child] if _unlink(child) else []
            elif child.suffix == SUFFIX:
                entries.append((info.st_mtime, info.st_size, child))
        entries.sort(reverse=True)  # newest first
        total = 0
        for index, (_mtime, size, child) in enumerate(entries):
            total += size
            if child != keep and (index >= self.max_entries or total > self.max_bytes):
                removed += [child] if _unlink(child) else []
        return removed


def identity(model_path: Path, settings: dict[str, Any]) -> str:
    """What a saved state depends on besides the prefix tokens: the model file and the engine settings."""
    import llama_cpp

    info = model_path.stat()
    return json.dumps({"model": str(model_path.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns,
                       "llama_cpp": llama_cpp.__version__, **settings}, sort_keys=True)


def _encode(entry: CacheEntry) -> bytes:
    header = json.dumps({"tokens": list(entry.tokens), "state_bytes": len(entry.state)}).encode("utf-8")
    return MAGIC + struct.pack("<Q", len(header)) + header + entry.state


def _decode(data: bytes) -> CacheEntry | None:
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        return None
    start = len(MAGIC) + 8
    (length,) = struct.unpack("<Q", data[len(MAGIC):start])
    try:
        header = json.loads(data[start:start + length])
    except (ValueError, UnicodeDecodeError):
        return None
    state = data[start + length:]
    if not isinstance(header, dict) or header.get("state_bytes") != len(state):
        return None  # cut short or padded: never hand llama.cpp a partial state
    return CacheEntry(tuple(header.get("tokens", ())), state)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True
