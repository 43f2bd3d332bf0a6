"""The names MCP tools have for the model: Codex's `mcp__<server>__<tool>`.

As codex-rs/core/src/mcp_connection_manager.rs does it: the joined name is sanitised to `[A-Za-z0-9_-]` (the
Responses API's rule; other characters become `_`), and a name longer than 64 characters keeps its first 24
characters followed by the sha1 of the unsanitised name (40 hex digits). A second tool that would get a name
already taken is skipped. This module only computes names; it does not talk to servers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

DELIMITER = "__"
PREFIX = "mcp"
MAX_LENGTH = 64


def sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "_"


def qualified_name(server: str, tool: str) -> str:
    raw = f"{PREFIX}{DELIMITER}{server}{DELIMITER}{tool}"
    name = sanitize(raw)
    if len(name) > MAX_LENGTH:
        digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()
        name = name[: MAX_LENGTH - len(digest)] + digest
    return name


def qualify(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Model-facing name -> (server, tool), in the given order; a duplicate (raw or after sanitising) is left out."""
    names: dict[str, tuple[str, str]] = {}
    seen: set[tuple[str, str]] = set()
    for server, tool in pairs:
        name = qualified_name(server, tool)
        if (server, tool) in seen or name in names:
            continue
        seen.add((server, tool))
        names[name] = (server, tool)
    return names
