"""The stdio transport for MCP servers: spawn the server process, carry newline-delimited JSON-RPC over its pipes,
and stop it as the MCP lifecycle says (close stdin, wait, SIGTERM the process group, wait, SIGKILL).

Why not the SDK's `mcp.client.stdio.stdio_client`: it can only spawn the process itself, after the SDK is
imported, and that import takes half a second of CPU or more (1-1.5 s when it competes with the model load for
the GIL). Here nothing needs the SDK until a tool is called: `spawn` starts the process on the caller's thread
(`subprocess.Popen`, a few ms), `attach` gives its pipes to the asyncio loop, and `handshake` runs the MCP
handshake by hand (`initialize`, the `initialized` notification, every page of `tools/list`), which is all the
session's first request needs. agent/mcp/connections.py imports the SDK once those lists are taken; until then
`answer_requests` answers what the server asks (`ping`) and drops its notifications; `process_streams` then
joins the running process to the SDK's `ClientSession` (which adopts the handshake's result), and every tool
call goes through the SDK. Lines may be as long as `LINE_LIMIT` (a tool result of megabytes is one line);
stderr goes to the given log file.

This module moves bytes and processes and speaks only the three handshake messages; the rest of the protocol is
the SDK's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import McpServerConfig

INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")  # as the SDK's default environment
LINE_LIMIT = 256 * 1024 * 1024
NICE = 10  # how much lower a server's CPU priority is than ours (see spawn)
MAX_NICE = 19
EXIT_GRACE_SECONDS = 2.0  # after stdin closes, before SIGTERM
TERM_GRACE_SECONDS = 2.0  # after SIGTERM, before SIGKILL
# The SDK's mcp_types.version.LATEST_HANDSHAKE_VERSION and HANDSHAKE_PROTOCOL_VERSIONS, written out because
# importing mcp_types costs 130 ms (tests/mcp/test_stdio_process.py checks that they agree).
PROTOCOL_VERSION = "2025-11-25"
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
INVALID_REQUEST = -32600  # mcp_types.INVALID_REQUEST


@dataclass(frozen=True)
class Hello:
    """A server's answers to the handshake, as JSON: its `initialize` result and every tool it listed."""

    initialize: dict[str, Any]
    tools: list[dict[str, Any]]


class HandshakeError(Exception):
    """The server answered the handshake with an error, or with something that is not MCP (the message says what)."""


def log_path(codex_home: Path, name: str) -> Path:
    """Where server `name`'s stderr goes."""
    return codex_home / "log" / f"mcp-{name}.log"


def server_environment(server: McpServerConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The SDK's default variables, the `env_vars` passed through, then `env`."""
    names = (*INHERITED_ENV, *server.env_vars)
    return {name: env[name] for name in names if name in env and not env[name].startswith("()")} | dict(server.env)


def spawn(server: McpServerConfig, env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """Start the server's process in its own process group, on the caller's thread (a few ms: no event loop is
    needed, so the servers boot from the first moment); its stderr appends to `log`. `attach` gives the loop its
    pipes. Raises OSError (e.g. FileNotFoundError) when the command cannot be run.

    The server runs NICE steps below our priority, in our session: three Python or Node servers starting need
    ~0.5-1.3 s of CPU, and at equal priority (each in a session, hence an autogroup, of its own) they took that
    from the agent's start-up on a 2-CPU machine. Below us they use the CPU we leave idle; when the agent waits
    for a tool call it leaves all of it. Its own process group keeps the terminal's Ctrl-C away from it and lets
    `stop` signal its children too. (An unprivileged process cannot raise a priority back, so it stays lower.)"""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        errlog = open(log, "ab")  # noqa: SIM115 - the child holds its own copy; ours is closed below
    except OSError:
        errlog = open(os.devnull, "wb")  # noqa: SIM115
    try:
        popen = subprocess.Popen(
            [server.command or "", *server.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
            env=server_environment(server, env), cwd=str(server.cwd) if server.cwd else None, bufsize=0,
            process_group=0)
    finally:
        errlog.close()
    with contextlib.suppress(OSError):  # every thread of the group, so a thread started meanwhile is one too
        os.setpriority(os.PRIO_PGRP, popen.pid, min(os.getpriority(os.PRIO_PROCESS, 0) + NICE, MAX_NICE))
    return popen


@dataclass
class ServerProcess:
    """A spawned server as the loop sees it: its pipes as asyncio streams, and an awaitable exit."""

    popen: subprocess.Popen
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    async def wait(self) -> int:
        """Its exit status, once it has exited (a pidfd tells the loop, so no thread waits for it)."""
        if self.popen.poll() is not None:
            return self.popen.returncode
        try:
            pidfd = os.pidfd_open(self.popen.pid)
        except (AttributeError, OSError):  # no pidfd here (or already reaped): a worker thread waits
            return await asyncio.get_running_loop().run_in_executor(None, self.popen.wait)
        loop, exited = asyncio.get_running_loop(), asyncio.Event()
        loop.add_reader(pidfd, exited.set)
        try:
            await exited.wait()
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.popen.wait()


async def attach(popen: subprocess.Popen) -> ServerProcess:
    """The spawned process's pipes as streams of the running loop (lines up to LINE_LIMIT)."""
    assert popen.stdin is not None and popen.stdout is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), popen.stdout)
    transport, protocol = await loop.connect_write_pipe(lambda: asyncio.streams.FlowControlMixin(loop=loop),
                                                        popen.stdin)
    return ServerProcess(popen, asyncio.StreamWriter(transport, protocol, None, loop), reader)


async def handshake(process: ServerProcess, client_info: Mapping[str, str]) -> Hello:
    """initialize, then the initialized notification, then tools/list until its last page, as the SDK's
    `ClientSession.initialize` and `list_tools` send them (no client capabilities: we offer no sampling, roots
    or elicitation). Request ids are strings, so they never repeat the SDK's integer ids later."""
    params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": dict(client_info)}
    result = await _request(process, "codex-local-initialize", "initialize", params)
    if result.get("protocolVersion") not in PROTOCOL_VERSIONS:
        raise HandshakeError(f"Unsupported protocol version from the server: {result.get('protocolVersion')}")
    await _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    tools: list[dict[str, Any]] = []
    cursor: Any = None
    for page in range(1, 10_000):
        listing = await _request(process, f"codex-local-tools-{page}", "tools/list",
                                 {"cursor": cursor} if cursor else None)
        found = listing.get("tools")
        if not isinstance(found, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                                  for t in found):
            raise HandshakeError("its tools/list answer is not a list of named tools")
        tools += found
        cursor = listing.get("nextCursor")
        if not cursor:
            break
    return Hello(result, tools)


async def answer_requests(process: ServerProcess) -> None:
    """Until the server's stdout ends (or this is cancelled): answer its requests, drop its notifications."""
    while (message := await _next_message(process)) is not None:
        await _answer(process, message)


async def _request(process: ServerProcess, request_id: str, method: str,
                   params: dict[str, Any] | None) -> dict[str, Any]:
    """Send one request and return its result, answering whatever the server sends before it."""
    await _send(process, {"jsonrpc": "2.0", "id": request_id, "method": method}
                | ({"params": params} if params is not None else {}))
    while (message := await _next_message(process)) is not None:
        if message.get("id") != request_id or "method" in message:
            await _answer(process, message)
            continue
        error = message.get("error")
        if isinstance(error, dict):
            raise HandshakeError(str(error.get("message") or f"error {error.get('code')} in answer to {method}"))
        result = message.get("result")
        if not isinstance(result, dict):
            raise HandshakeError(f"its answer to {method} has no result object")
        return result
    raise ConnectionError("the connection closed")


async def _next_message(process: ServerProcess) -> dict[str, Any] | None:
    """The next JSON object on the server's stdout (other lines are skipped, as the SDK skips them); None at EOF."""
    assert process.stdout is not None
    while line := await process.stdout.readline():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict):
                return message
    return None


async def _answer(process: ServerProcess, message: dict[str, Any]) -> None:
    """A request from the server: `ping` gets its empty result, anything else an error, as the SDK's session
    answers when no sampling, roots or elicitation callback is given (we give none). Other messages: nothing."""
    if "method" not in message or "id" not in message:
        return
    method = message["method"]
    reply: dict[str, Any] = {"result": {}} if method == "ping" else {"error": {
        "code": INVALID_REQUEST, "message": f"{method} is not supported by this client"}}
    await _send(process, {"jsonrpc": "2.0", "id": message["id"]} | reply)


async def _send(process: ServerProcess, message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
    await process.stdin.drain()


@contextlib.asynccontextmanager
async def process_streams(process: ServerProcess) -> AsyncIterator[tuple[Any, Any]]:
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


async def stop(process: ServerProcess) -> None:
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
