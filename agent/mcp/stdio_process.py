"""The stdio transport for MCP servers: spawn the server process, carry newline-delimited JSON-RPC over its pipes,
and stop it as the MCP lifecycle says (close stdin, wait, SIGTERM the process group, wait, SIGKILL).

Why not the SDK's `mcp.client.stdio.stdio_client`: it can only spawn the process itself, after the SDK is
imported, and that import takes half a second or more. `spawn` needs nothing but asyncio, so agent/mcp/startup.py
starts every server process at once and imports the SDK while they boot; `process_streams` then joins a running
process to the SDK's `ClientSession` (the message types are the SDK's, imported when it is called). Lines may be
as long as `LINE_LIMIT` (a tool result of megabytes is one line); stderr goes to the given log file.

This module only moves bytes and processes; the protocol is the SDK's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from agent.config import McpServerConfig

INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")  # as the SDK's default environment
LINE_LIMIT = 256 * 1024 * 1024
EXIT_GRACE_SECONDS = 2.0  # after stdin closes, before SIGTERM
TERM_GRACE_SECONDS = 2.0  # after SIGTERM, before SIGKILL


def log_path(codex_home: Path, name: str) -> Path:
    """Where server `name`'s stderr goes."""
    return codex_home / "log" / f"mcp-{name}.log"


def server_environment(server: McpServerConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The SDK's default variables, the `env_vars` passed through, then `env`."""
    names = (*INHERITED_ENV, *server.env_vars)
    return {name: env[name] for name in names if name in env and not env[name].startswith("()")} | dict(server.env)


async def spawn(server: McpServerConfig, env: Mapping[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start the server's process in its own process group; its stderr appends to `log`."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        errlog = open(log, "ab")  # noqa: SIM115 - the child holds its own copy; ours is closed below
    except OSError:
        errlog = open(os.devnull, "wb")  # noqa: SIM115
    try:
        return await asyncio.create_subprocess_exec(
            server.command or "", *server.args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=errlog, env=server_environment(server, env), cwd=str(server.cwd) if server.cwd else None,
            start_new_session=True, limit=LINE_LIMIT)
    finally:
        errlog.close()


@contextlib.asynccontextmanager
async def process_streams(process: asyncio.subprocess.Process) -> AsyncIterator[tuple[Any, Any]]:
    """(read_stream, write_stream) for `mcp.ClientSession` over a running server; stops the server on exit."""
    import anyio
    import mcp_types
    from mcp.shared.message import SessionMessage

    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)

    async def read_lines() -> None:
        assert process.stdout is not None
        async with read_writer:
            while line := await process.stdout.readline():
                if not line.strip():
                    continue
                try:
                    message: Any = SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line,
                                                                                                  by_name=False))
                except ValueError as e:
                    message = e
                await read_writer.send(message)

    async def write_lines() -> None:
        assert process.stdin is not None
        async with write_reader:
            async for message in write_reader:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                process.stdin.write(data.encode("utf-8"))
                await process.stdin.drain()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_closing_on_error, read_lines, read_writer)
        tasks.start_soon(_closing_on_error, write_lines, read_writer)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):
                await stop(process)
            tasks.cancel_scope.cancel()


async def _closing_on_error(job: Any, read_writer: Any) -> None:
    """A broken pipe ends the connection (the session then sees it closed), never the task group."""
    try:
        await job()
    except (OSError, ConnectionError, ValueError, RuntimeError):
        await read_writer.aclose()
    except Exception as e:  # anyio's closed/broken stream errors: the same
        if type(e).__module__.startswith("anyio"):
            await read_writer.aclose()
        else:
            raise


async def stop(process: asyncio.subprocess.Process) -> None:
    """Close stdin, wait EXIT_GRACE_SECONDS, SIGTERM the group, wait TERM_GRACE_SECONDS, SIGKILL the group."""
    if process.stdin is not None:
        with contextlib.suppress(OSError, RuntimeError):
            process.stdin.close()
    for sig, grace in ((None, EXIT_GRACE_SECONDS), (signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 2.0)):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
            if sig is None or sig == signal.SIGKILL:
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the leader is gone; its group goes too
            return
