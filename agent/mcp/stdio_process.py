"""The stdio transport for MCP servers: spawn the server process, carry newline-delimited JSON-RPC over its pipes,
keep its stderr in a capped log, and stop it as the MCP lifecycle says (close stdin, wait, SIGTERM the process
group, wait, SIGKILL).

Why not the SDK's `mcp.client.stdio.stdio_client`: it can only spawn the process itself, after the SDK is
imported, and that import takes half a second of CPU or more (1-1.5 s when it competes with the model load for
the GIL). Here nothing needs the SDK until a tool is called: `spawn` starts the process on the caller's thread
(`subprocess.Popen`, a few ms), `attach` gives its pipes to the asyncio loop, and `handshake` runs the MCP
handshake by hand (`initialize`, the `initialized` notification, every page of `tools/list`), which is all the
session's first request needs. agent/mcp/connections.py imports the SDK once those lists are taken; until then
`answer_requests` answers what the server asks (`ping`) and drops its notifications; `process_streams` then
joins the running process to the SDK's `ClientSession` (which adopts the handshake's result), and every tool
call goes through the SDK. Lines may be as long as `LINE_LIMIT` (a tool result of megabytes is one line).

The server is the process the command starts: when it exits, what is left of its process group is ended and the
connection with it, even when a child it started still holds its stdout. Its stderr goes through a pipe into its
log (the previous run's log is kept as `.1`), at most LOG_LIMIT bytes a run.

This module moves bytes and processes and speaks only the three handshake messages; the rest of the protocol is
the SDK's, except that the SDK's own tool lists lose what the SDK's `Tool` rejects (so one bad tool does not fail
the list) and an answer it cannot read becomes an error for that request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import McpServerConfig

INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")  # as the SDK's default environment
LINE_LIMIT = 256 * 1024 * 1024
SERVER_NICE = 19  # a server's CPU priority: the lowest (see spawn)
EXIT_GRACE_SECONDS = 2.0  # after stdin closes, before SIGTERM
TERM_GRACE_SECONDS = 2.0  # after SIGTERM, before SIGKILL
PIPE_GRACE_SECONDS = 0.5  # after the group ended, for its stdout to close before we close it
GROUP_POLL_SECONDS = 0.02
LOG_LIMIT = 4 * 1024 * 1024  # the most one run writes to the server's log
LOG_HEAD = 1024 * 1024  # what is kept of the start when a run writes more
LOG_CUT = b"\n[codex-local: this server wrote more than 4 MiB to stderr; what follows is its newest output]\n"
TAIL_BYTES = 4096  # how much of the latest stderr is kept in memory, for the reason given for an exit
# The SDK's mcp_types.version.LATEST_HANDSHAKE_VERSION and HANDSHAKE_PROTOCOL_VERSIONS, written out because
# importing mcp_types costs 130 ms (tests/mcp/test_stdio_process.py checks that they agree).
PROTOCOL_VERSION = "2025-11-25"
PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
INVALID_REQUEST = -32600  # mcp_types.INVALID_REQUEST
PARSE_ERROR = -32700  # mcp_types.PARSE_ERROR: an answer that could not be read (see _read_message)


@dataclass(frozen=True)
class Hello:
    """A server's answers to the handshake, as JSON: its `initialize` result and every tool it listed."""

    initialize: dict[str, Any]
    tools: list[dict[str, Any]]


class HandshakeError(Exception):
    """The server answered the handshake with an error, or with something that is not MCP (the message says what)."""


def log_path(codex_home: Path, name: str) -> Path:
    """Where server `name`'s stderr goes (the previous run's is `log_path(...).1`)."""
    return codex_home / "log" / f"mcp-{name}.log"


def server_environment(server: McpServerConfig, env: Mapping[str, str]) -> dict[str, str]:
    """The SDK's default variables, the `env_vars` passed through, then `env`."""
    names = (*INHERITED_ENV, *server.env_vars)
    return {name: env[name] for name in names if name in env and not env[name].startswith("()")} | dict(server.env)


def spawn(server: McpServerConfig, env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """Start the server's process in its own process group, on the caller's thread (a few ms: no event loop is
    needed, so the servers boot from the first moment). The last run's `log` becomes `log.1`; `attach` gives the
    loop its pipes and writes its stderr to `log`. Raises OSError (e.g. FileNotFoundError) when the command
    cannot be run.

    The server runs at the lowest priority (nice 19), in our session: three Python or Node servers starting need
    ~0.5-1.3 s of CPU, and at equal priority (each in a session, hence an autogroup, of its own) they took that
    from the agent's start-up on a 2-CPU machine (nice 10 still cost +200 ms, nice 19 +80-110 ms; benchmarks/
    README.md). In our autogroup they use the CPU our own threads leave idle; when the agent waits for a tool
    call it leaves all of it. Its own process group keeps the terminal's Ctrl-C away from it and lets
    `stop` signal its children too. (An unprivileged process cannot raise a priority back, so it stays lower.)"""
    with contextlib.suppress(OSError):  # a stat and a rename: the log then holds this run's stderr only
        if log.lstat().st_size > 0:  # a symlink planted there is moved away too, never written through
            os.replace(log, log.with_name(log.name + ".1"))
    popen = subprocess.Popen(
        [server.command or "", *server.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=server_environment(server, env), cwd=str(server.cwd) if server.cwd else None, bufsize=0,
        process_group=0)
    with contextlib.suppress(OSError):  # every thread of the group, so a thread started meanwhile is one too
        os.setpriority(os.PRIO_PGRP, popen.pid, SERVER_NICE)
    return popen


def discard(popen: subprocess.Popen) -> None:
    """Kill a spawned server that never reached the loop (its whole group), and close our ends of its pipes."""
    with contextlib.suppress(OSError):
        os.killpg(popen.pid, signal.SIGKILL)
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class _StderrLog(asyncio.Protocol):
    """Copies a server's stderr into its log: everything up to LOG_LIMIT bytes; past that, the first LOG_HEAD
    bytes, a line saying output was left out, and the newest output (the file is cut back to its head each time it
    would pass LOG_LIMIT). Keeps the last TAIL_BYTES in memory, for the reason given when the server exits."""

    def __init__(self, log: Path | None, closed: asyncio.Future) -> None:
        self.tail = b""
        self.closed = closed
        self._fd: int | None = None
        self._pipe: asyncio.BaseTransport | None = None
        self._start = self._size = 0
        if log is not None:
            with contextlib.suppress(OSError):
                log.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
                self._start = os.lseek(self._fd, 0, os.SEEK_END)

    def data_received(self, data: bytes) -> None:
        self.tail = (self.tail + data)[-TAIL_BYTES:]
        if self._fd is None:
            return
        try:
            if self._size + len(data) > LOG_LIMIT:
                os.ftruncate(self._fd, self._start + LOG_HEAD)
                self._size = LOG_HEAD + os.write(self._fd, LOG_CUT)
            self._size += os.write(self._fd, data)
        except OSError:  # e.g. the disk is full: the rest is not kept
            self._close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._pipe = transport

    def close_pipe(self) -> None:
        if self._pipe is not None:
            self._pipe.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._close()
        if not self.closed.done():
            self.closed.set_result(None)

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


@dataclass
class ServerProcess:
    """A spawned server as the loop sees it: its pipes as asyncio streams, an awaitable exit, and its stderr."""

    popen: subprocess.Popen
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader
    stdout_pipe: asyncio.ReadTransport
    stderr_log: _StderrLog
    ended: asyncio.Future | None = None  # done once it exited and its group and stdout were ended (attach)
    _exit: asyncio.Future | None = field(default=None, repr=False)

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
        if self._exit is None:
            self._exit = asyncio.ensure_future(self._exited())
        return await asyncio.shield(self._exit)

    async def _exited(self) -> int:
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

    async def last_stderr_line(self, timeout: float) -> str:
        """The last non-empty line this run wrote to stderr, at most 300 characters ("" if none), once its stderr
        has ended (waiting at most `timeout` for that)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.stderr_log.closed), timeout)
        lines = [line.strip() for line in self.stderr_log.tail.decode("utf-8", "replace").splitlines()]
        return next((line[:300] for line in reversed(lines) if line), "")


async def attach(popen: subprocess.Popen, log: Path | None = None) -> ServerProcess:
    """The spawned process's pipes as streams of the running loop (lines up to LINE_LIMIT), its stderr written to
    `log` (None: only its end is kept, in memory). Once the process exits, what is left of its group is ended
    and then its stdout (`ended`)."""
    assert popen.stdin is not None and popen.stdout is not None and popen.stderr is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
    stdout_pipe, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                                                  popen.stdout)
    transport, protocol = await loop.connect_write_pipe(lambda: asyncio.streams.FlowControlMixin(loop=loop),
                                                        popen.stdin)
    stderr_log = _StderrLog(log, loop.create_future())
    await loop.connect_read_pipe(lambda: stderr_log, popen.stderr)
    process = ServerProcess(popen, asyncio.StreamWriter(transport, protocol, None, loop), reader, stdout_pipe,
                            stderr_log)
    process.ended = asyncio.ensure_future(_end_with_leader(process))
    return process


async def _end_with_leader(process: ServerProcess) -> None:
    """When the server's process exits, end what is left of its group, then its stdout should something outside
    the group still hold it: the connection ends with the server, not with the last child holding its pipe."""
    await process.wait()
    await _end_group(process.pid)
    deadline = time.monotonic() + PIPE_GRACE_SECONDS
    while not process.stdout_pipe.is_closing() and time.monotonic() < deadline:
        await asyncio.sleep(GROUP_POLL_SECONDS)  # what the group wrote last is still being read
    process.stdout_pipe.close()
    process.stderr_log.close_pipe()


async def _end_group(pgid: int) -> None:
    """The group's leader has exited: SIGTERM whatever is left of the group, give it TERM_GRACE_SECONDS, then
    SIGKILL the rest (as the SDK's `terminate_posix_process_tree` does)."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + TERM_GRACE_SECONDS
    while _group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(GROUP_POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs. A killed child is a zombie until whoever adopted it reaps it,
    which can take seconds (or never come, when PID 1 is a program that reaps nothing), and `killpg(pgid, 0)`
    counts zombies; so when that says yes, /proc tells (only while a group outlives its leader)."""
    if not _signal_group(pgid, 0):
        return False
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the process group; False when the group has no process left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # never proves the group is gone
        pass
    return True


async def handshake(process: ServerProcess, client_info: Mapping[str, str]) -> Hello:
    """initialize, then the initialized notification, then tools/list until its last page, as the SDK's
    `ClientSession.initialize` and `list_tools` send them (no client capabilities: we offer no sampling, roots
    or elicitation). Request ids are strings, so they never repeat the SDK's integer ids later. An `initialize`
    result the SDK's `InitializeResult` would refuse for a missing or mistyped field fails here, before any of
    its tools is offered."""
    params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": dict(client_info)}
    result = await _request(process, "codex-local-initialize", "initialize", params)
    problem = _initialize_problem(result)
    if problem:
        raise HandshakeError(problem)
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


def _initialize_problem(result: dict[str, Any]) -> str | None:
    """What in an `initialize` result the SDK's `InitializeResult` requires and does not find (None: nothing)."""
    version, info = result.get("protocolVersion"), result.get("serverInfo")
    if version not in PROTOCOL_VERSIONS:
        return f"Unsupported protocol version from the server: {version}"
    if not isinstance(result.get("capabilities"), dict):
        return "its initialize answer has no capabilities object, which MCP requires"
    if not isinstance(info, dict) or not isinstance(info.get("name"), str) or not isinstance(info.get("version"),
                                                                                             str):
        return "its initialize answer has no serverInfo with a name and a version, which MCP requires"
    if not isinstance(result.get("instructions", ""), str | None):
        return "the instructions in its initialize answer are not a string"
    return None


async def answer_requests(process: ServerProcess) -> None:
    """Until the server's stdout ends (or this is cancelled): answer its requests, drop its notifications."""
    while (message := await _next_message(process)) is not None:
        await _answer(process, message)


async def _request(process: ServerProcess, request_id: str, method: str,
                   params: dict[str, Any] | None) -> dict[str, Any]:
    """Send one request and return its result, answering whatever the server sends before it."""
    await _send(process, {"jsonrpc": "2.0", "id": request_id, "method": method}
                | ({"params": params} if params is not None else {}))
    while (message := await _next_message(process, (request_id, method))) is not None:
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


async def _next_message(process: ServerProcess, awaited: tuple[str, str] | None = None) -> dict[str, Any] | None:
    """The next JSON object on the server's stdout (other lines are skipped, as the SDK skips them); None at EOF.
    A line that cannot be read but carries the `awaited` request's id ends that request."""
    assert process.stdout is not None
    while True:
        try:
            line = await process.stdout.readline()
        except ValueError:  # asyncio's "Separator is not found, and chunk exceed the limit"
            raise HandshakeError(f"it sent a line longer than {_size(LINE_LIMIT)}") from None
        if not line:
            return None
        text = line.decode("utf-8", "replace")
        try:
            message = json.loads(text)
        except (ValueError, RecursionError) as e:
            if awaited is not None and _top_level_id(text) == awaited[0]:
                raise HandshakeError(f"its answer to {awaited[1]} could not be read ({e})") from None
            continue
        if isinstance(message, dict):
            return message


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


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[][{}]')
_ID_VALUE = re.compile(r'\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')


def _top_level_id(text: str) -> Any:
    """The `id` of a JSON-RPC message too broken or too deep to parse, found by scanning its top level (None when
    there is none)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        value = token.group()
        if value in ("{", "["):
            depth += 1
        elif value in ("}", "]"):
            depth -= 1
        elif depth == 1 and value == '"id"' and (found := _ID_VALUE.match(text, token.end())):
            with contextlib.suppress(ValueError):
                return json.loads(found.group(1))
            return None
    return None


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"


@contextlib.asynccontextmanager
async def process_streams(process: ServerProcess) -> AsyncIterator[tuple[Any, Any]]:
    """(read_stream, write_stream) for `mcp.ClientSession` over a running server; stops the server on exit."""
    import anyio
    import mcp_types

    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)
    pending: dict[str, tuple[Any, str]] = {}  # the SDK's requests still unanswered: str(id) -> (id, method)

    async def read_lines() -> None:
        assert process.stdout is not None
        async with read_writer:
            while line := await process.stdout.readline():
                if line.strip():
                    await read_writer.send(_read_message(line, pending))

    async def write_lines() -> None:
        assert process.stdin is not None
        async with write_reader:
            async for message in write_reader:
                sent = message.message
                if isinstance(sent, mcp_types.JSONRPCRequest):
                    pending[str(sent.id)] = (sent.id, sent.method)
                elif isinstance(sent, mcp_types.JSONRPCNotification) and sent.method == "notifications/cancelled":
                    pending.pop(str((sent.params or {}).get("requestId")), None)
                data = sent.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
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


def _read_message(line: bytes, pending: dict[str, tuple[Any, str]]) -> Any:
    """One line from the server, for the SDK's session: its message (bytes that are not UTF-8 replaced, and an
    answer to tools/list as `_drop_rejected_tools` leaves it);
    a line that cannot be read but carries the id of a request of ours becomes an error answer to it (else the
    request would wait for its timeout); any other such line is the parse error, which the SDK drops."""
    import mcp_types
    from mcp.shared.message import SessionMessage

    text = line.decode("utf-8", "replace")
    try:
        message = mcp_types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValueError as e:
        request = pending.pop(str(_top_level_id(text)), None)
        if request is None:
            return e
        return SessionMessage(mcp_types.JSONRPCError(jsonrpc="2.0", id=request[0], error=mcp_types.ErrorData(
            code=PARSE_ERROR, message=_parse_problem(e))))
    if isinstance(message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError):
        request = pending.pop(str(message.id), None)
        if request is not None and request[1] == "tools/list" and isinstance(message, mcp_types.JSONRPCResponse):
            _drop_rejected_tools(message.result)
    return SessionMessage(message)


def _drop_rejected_tools(result: dict[str, Any]) -> None:
    """The tools of a tools/list answer as the SDK's `Tool` takes them: an optional field it rejects (annotations
    that are not an object, say) is left out of that tool, and a tool whose name or input schema it rejects is
    left out (agent/mcp/connections.py does not offer those either)."""
    if isinstance(result.get("tools"), list):
        result["tools"] = [kept for tool in result["tools"] if (kept := _sdk_tool(tool)) is not None]


def _sdk_tool(tool: Any) -> dict[str, Any] | None:
    import mcp_types
    from pydantic import ValidationError

    try:
        mcp_types.Tool.model_validate(tool, by_name=False)
        return tool
    except ValidationError as e:
        rejected = {error["loc"][0] for error in e.errors() if error["loc"]}
    if not isinstance(tool, dict) or rejected & {"name", "inputSchema"}:
        return None
    repaired = {key: value for key, value in tool.items() if key not in rejected}
    try:
        mcp_types.Tool.model_validate(repaired, by_name=False)
    except ValidationError:
        return None
    return repaired


def _parse_problem(error: ValueError) -> str:
    """Why a line is not a message the SDK reads, in a few words."""
    errors = getattr(error, "errors", None)
    for found in errors() if callable(errors) else ():
        if found.get("type") == "json_invalid":
            return str(found.get("msg"))
    return "it is not a JSON-RPC message"


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
    """Close stdin, wait EXIT_GRACE_SECONDS, SIGTERM the group, wait TERM_GRACE_SECONDS, SIGKILL the group; once
    the leader has exited (however), what is left of its group is ended too (`attach`), so no child outlives it."""
    if process.stdin is not None:
        with contextlib.suppress(OSError, RuntimeError):
            process.stdin.close()
    for sig, grace in ((None, EXIT_GRACE_SECONDS), (signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 2.0)):
        if sig is not None:
            _signal_group(process.pid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), grace)
            if sig == signal.SIGTERM:  # the group had its SIGTERM with the leader: no second grace
                _signal_group(process.pid, signal.SIGKILL)
            break
    if process.ended is not None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.ended), TERM_GRACE_SECONDS + PIPE_GRACE_SECONDS + 1.0)
