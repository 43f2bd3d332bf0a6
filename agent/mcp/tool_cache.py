"""The last tool list each stdio MCP server sent, kept under CODEX_HOME, so that a session's first model request
need not wait for the server to start (issue 15: three Python or Node servers need ~0.5-1.3 s of CPU to answer,
more than a 2-CPU machine has idle while the model loads).

An entry is found by its key: the server's name, command, args, effective working directory and the environment
it is started with (as a sha256: values such as API keys are never written), plus the identity (device, inode,
size, mtime) of the executable the command resolves to and of every argument that names an existing file (a
`server.py`). Reinstalling or editing the server changes the key; what a key cannot see (`npx -y pkg` fetching a
newer package, a server whose tools depend on a database) is caught when the server answers: agent/mcp/
connections.py compares the fresh list with the cached one, says so once when they differ, offers the fresh list
from the next request on and writes it here. The entry holds the list exactly as the server sent it, and the
problems found then in the tools' schemas (so neither reading it nor taking an unchanged fresh list needs a
schema check, whose `import jsonschema` costs ~45 ms of the start-up); `enabled_tools` / `disabled_tools`
apply when it is read.

The directory (CODEX_HOME/cache/mcp-tools) is hidden from sandboxed commands like the rest of CODEX_HOME, so
nothing a command writes can plant a tool description. Each server keeps its `MAX_ENTRIES_PER_SERVER` newest
entries (a server without `cwd` has one per repository). Reading or writing an entry never raises: a broken or
missing entry is a miss, a failed write is a miss next time.

This module does no I/O with servers and decides nothing about which list is offered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import McpServerConfig
from agent.fileio import write_atomic
from agent.mcp.stdio_process import server_environment

FORMAT = 1  # bump when an entry's meaning changes
MAX_ENTRIES_PER_SERVER = 8


@dataclass(frozen=True)
class CachedList:
    """Where a stdio server's entry lives, and the tools it holds (None: no usable entry)."""

    path: Path
    tools: list[dict[str, Any]] | None  # as the server listed them
    problems: Mapping[str, str] = field(default_factory=dict)  # tool name -> what is wrong with its input schema


def directory(codex_home: Path) -> Path:
    return codex_home / "cache" / "mcp-tools"


def entry_path(codex_home: Path, server: McpServerConfig, env: Mapping[str, str], cwd: Path) -> Path:
    """The file for this server as it is configured and installed now."""
    return directory(codex_home) / f"{server.name}-{_key(server, env, cwd)}.json"


def read(path: Path) -> CachedList:
    try:
        with open(os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW), "rb") as entry:  # never a symlink's
            data = json.load(entry)
    except (OSError, ValueError):
        return CachedList(path, None)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return CachedList(path, None)
    tools, problems = data.get("tools"), data.get("problems", {})
    usable = isinstance(tools, list) and all(_well_formed(tool) for tool in tools) and isinstance(problems, dict)
    return CachedList(path, tools, {str(k): str(v) for k, v in problems.items()}) if usable else CachedList(path, None)


def write(path: Path, tools: list[dict[str, Any]], problems: Mapping[str, str]) -> None:
    """Keep `tools` (and what is wrong with the schemas of some) as the server's list, then drop the server's
    oldest entries beyond the limit."""
    data = json.dumps({"format": FORMAT, "tools": tools, "problems": dict(problems)}, ensure_ascii=False,
                      sort_keys=True).encode("utf-8")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # One temporary name per entry: a process killed while writing (`codex exec` ends with os._exit) leaves
        # at most one leftover, which the next write replaces. Two writers at once can at worst leave a broken
        # entry, which reads as a miss.
        write_atomic(path, data, temp_name=f".{path.name}.tmp")
        _prune(path)


def _well_formed(tool: Any) -> bool:
    """Enough of a tool to offer it (an entry edited by hand must not break the request)."""
    return isinstance(tool, dict) and isinstance(tool.get("name"), str) and isinstance(tool.get("inputSchema"), dict)


def _key(server: McpServerConfig, env: Mapping[str, str], cwd: Path) -> str:
    environment = server_environment(server, env)
    where = server.cwd if server.cwd is not None else cwd
    identity = {
        "format": FORMAT,
        "name": server.name,
        "command": server.command,
        "args": list(server.args),
        "cwd": str(where),
        "env": sorted(environment.items()),
        "executable": _file_identity(_executable(server.command or "", environment.get("PATH"), where)),
        "files": [_file_identity(where / arg) for arg in server.args if _names_a_file(where / arg)],
    }
    encoded = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:24]


def _executable(command: str, path: str | None, cwd: Path) -> Path | None:
    """What the command runs, found as subprocess would: a name with a '/' from cwd, else on the server's PATH."""
    if "/" in command:
        return cwd / command
    found = shutil.which(command, path=path or os.defpath)
    return Path(found) if found else None


def _names_a_file(path: Path) -> bool:
    with contextlib.suppress(OSError, ValueError):
        return path.is_file()
    return False


def _file_identity(path: Path | None) -> list[Any] | None:
    """Device, inode, size and mtime of the file (through symlinks: a venv's `python` is one), and its path."""
    if path is None:
        return None
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return [str(path)]
    return [str(path), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns]


def _prune(path: Path) -> None:
    """Remove this server's entries beyond the newest MAX_ENTRIES_PER_SERVER."""
    prefix = path.name.rsplit("-", 1)[0] + "-"
    entries = []
    for other in path.parent.glob(f"{prefix}*.json"):  # a server's name holds no glob character
        with contextlib.suppress(OSError):
            if other.name.rsplit("-", 1)[0] + "-" == prefix:
                entries.append((other.stat().st_mtime_ns, other))
    for _, old in sorted(entries, reverse=True)[MAX_ENTRIES_PER_SERVER:]:
        with contextlib.suppress(OSError):
            old.unlink()

