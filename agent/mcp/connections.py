"""The session's MCP servers: started in the background, kept for the session, called from the turn loop.

`McpConnections.start` returns at once: every enabled `[mcp_servers.<name>]` starts on one asyncio loop in a
daemon thread (the `mcp` SDK is async; the turn loop is not), concurrently with each other and with whatever the
front end does next (loading the model). `tools()` waits until each server is up or has failed, at most its
`startup_timeout_sec` from the start, so the first model request carries every tool that made it. A server that
fails or times out is reported once (one sentence naming it and the reason) and left out; a server whose
connection drops later is reported once at its next call, and its tools then answer with an error.

stdio servers (agent/mcp/stdio_process.py) get the SDK's default environment (HOME, PATH, USER, …) plus
`env_vars` passed through and `env`; their stderr goes to CODEX_HOME/log/mcp-<name>.log, never to the terminal.
Their processes may have been spawned before this module was imported (agent/mcp/startup.py does that).
Streamable HTTP servers get
`http_headers`, `env_http_headers` and `bearer_token_env_var` as headers, and under `local_only` must pass the
same check as a model provider (every request, redirects included).

This module moves calls and results; it does not decide approval, emit items or write the audit log
(agent/mcp/tool_call.py does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import jsonschema
from mcp import ClientSession, MCPError
from mcp import types as mcp_types
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from agent import __version__
from agent.config import Config, McpServerConfig
from agent.mcp.naming import qualify
from agent.mcp.stdio_process import log_path, process_streams, spawn
from agent.protocol import McpToolCallResult

CONNECTION_LOST = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError)
STOP_SECONDS = 5.0  # how long close() waits for the servers to shut down
POLL_SECONDS = 0.05  # how often a waiting call looks at the turn's cancel flag
EXIT_NOTICE_SECONDS = 0.5  # how long a failed stdio server's exit status is waited for, to report it

Warn = Callable[[str], None]
Spawned = Mapping[str, concurrent.futures.Future]  # server name -> its process, spawned on the given loop


@dataclass(frozen=True)
class McpTool:
    """One tool of one server, under the name the model sees."""

    server: str
    name: str  # the server's own name for it
    qualified: str  # mcp__server__tool
    description: str
    input_schema: Mapping[str, Any]
    read_only: bool  # annotations.readOnlyHint


@dataclass(frozen=True)
class CallOutcome:
    """A finished call: the server's result (is_error says the tool itself failed), or why there is none."""

    result: McpToolCallResult | None = None
    is_error: bool = False
    error: str | None = None


@dataclass
class _Server:
    config: McpServerConfig
    started: float = field(default_factory=time.monotonic)
    settled: threading.Event = field(default_factory=threading.Event)  # up, or failed to start
    session: ClientSession | None = None
    tools: list[mcp_types.Tool] = field(default_factory=list)
    failure: str | None = None  # why it did not start, or why it stopped
    lost: bool = False  # the connection dropped after start-up
    reported: bool = False  # its failure was told to the user
    stop: asyncio.Event | None = None
    task: asyncio.Future | None = None
    process: asyncio.subprocess.Process | None = None  # a stdio server's

    @property
    def name(self) -> str:
        return self.config.name


class McpConnections:
    def __init__(self, config: Config, env: Mapping[str, str] = os.environ,
                 loop: asyncio.AbstractEventLoop | None = None, spawned: Spawned | None = None) -> None:
        self._config = config
        self._env = env
        self._servers = {s.name: _Server(s) for s in config.mcp_servers.values() if s.enabled}
        self._tools: dict[str, McpTool] | None = None
        self._loop = loop or asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-servers", daemon=True)
        self._own_loop = loop is None
        self._spawned = dict(spawned or {})
        self._warnings: list[str] = []
        self._schema_warnings: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def start(cls, config: Config, env: Mapping[str, str] = os.environ, loop: asyncio.AbstractEventLoop | None = None,
              spawned: Spawned | None = None, started: float | None = None) -> McpConnections:
        """Start (or, given `loop` and the processes `spawned` on it, go on starting) every enabled server;
        `started` (time.monotonic()) is when their start-up timeouts began."""
        connections = cls(config, env, loop, spawned)
        if connections._own_loop:
            connections._thread.start()
        for server in connections._servers.values():
            server.started = started if started is not None else server.started
            asyncio.run_coroutine_threadsafe(connections._supervise(server), connections._loop)
        return connections

    # --- what the session asks ---------------------------------------------------------------------

    def tools(self, warn: Warn | None) -> list[McpTool]:
        """Every tool of every server that started, waiting for those still starting; failures go to `warn`
        (None: they wait for a call that has one)."""
        for server in self._servers.values():
            remaining = server.started + server.config.startup_timeout_sec + 1.0 - time.monotonic()
            server.settled.wait(max(remaining, 0))
            if not server.settled.is_set():  # the loop missed its own deadline (a busy machine)
                self._fail(server, f"no answer within {server.config.startup_timeout_sec:g} s "
                                   "(startup_timeout_sec)")
        if warn is not None:
            self.report(warn)
        with self._lock:
            if self._tools is None:
                self._tools, self._schema_warnings = self._collect()
            if warn is not None:
                for message in self._schema_warnings:
                    warn(message)
                self._schema_warnings = []
            return list(self._tools.values())

    def tool(self, qualified: str) -> McpTool | None:
        with self._lock:
            return (self._tools or {}).get(qualified)

    def report(self, warn: Warn) -> None:
        """Tell `warn` every failure not told yet (each once)."""
        for server in self._servers.values():
            if server.failure and not server.reported:
                server.reported = True
                warn(self._failure_sentence(server))
        for message in self._take_warnings():
            warn(message)

    def call(self, tool: McpTool, arguments: dict[str, Any], cancel: threading.Event) -> CallOutcome:
        """Call the tool and wait for its result, its tool_timeout_sec, the server's end or `cancel`."""
        server = self._servers[tool.server]
        if server.failure or server.session is None:
            return CallOutcome(error=f"MCP server {server.name} is not running ({server.failure or 'not started'})")
        timeout = server.config.tool_timeout_sec
        future = asyncio.run_coroutine_threadsafe(self._call(server, tool.name, arguments, timeout), self._loop)
        deadline = time.monotonic() + timeout + 2.0  # the SDK's own timeout answers first
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                if cancel.is_set() or time.monotonic() > deadline:
                    future.cancel()
                    if cancel.is_set():
                        return CallOutcome(error="the call was interrupted by the user")
                    return CallOutcome(error=self._timeout_sentence(server, tool.name))

    def close(self) -> None:
        """Stop every server (stdio processes end) and the loop; safe to call twice."""
        if not self._loop.is_running():
            return

        async def stop_all() -> None:
            for server in self._servers.values():
                if server.stop is not None:
                    server.stop.set()
            tasks = [s.task for s in self._servers.values() if s.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=STOP_SECONDS)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(STOP_SECONDS + 1)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._own_loop:
            self._thread.join(STOP_SECONDS)

    # --- on the loop --------------------------------------------------------------------------------

    async def _supervise(self, server: _Server) -> None:
        server.stop = asyncio.Event()
        up = self._loop.create_future()
        server.task = asyncio.ensure_future(self._serve(server, up))
        remaining = server.started + server.config.startup_timeout_sec - time.monotonic()
        done, _ = await asyncio.wait({server.task, up}, timeout=max(remaining, 0.01),
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            server.task.cancel()
            self._fail(server, f"no answer within {server.config.startup_timeout_sec:g} s (startup_timeout_sec)")

    async def _serve(self, server: _Server, up: asyncio.Future) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(await self._transport(server))
                session = await stack.enter_async_context(ClientSession(
                    read, write, client_info=mcp_types.Implementation(name="codex-local", version=__version__)))
                await session.initialize()
                server.tools = await _list_tools(session)
                server.session = session
                server.settled.set()
                up.set_result(True)
                await server.stop.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # any failure of a server is reported, never raised
            reason = await self._explained(server, _reason(e))
            if server.session is None:
                self._fail(server, reason)
            else:
                self._lose(server, reason)
        finally:
            server.session = None if server.failure else server.session

    async def _call(self, server: _Server, name: str, arguments: dict[str, Any], timeout: float) -> CallOutcome:
        session = server.session
        if session is None:
            return CallOutcome(error=f"MCP server {server.name} is not running ({server.failure or 'stopped'})")
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=timeout)
        except MCPError as e:
            if e.code == REQUEST_TIMEOUT:
                return CallOutcome(error=self._timeout_sentence(server, name))
            if e.code == CONNECTION_CLOSED:
                return CallOutcome(error=self._lose(server, "the connection closed"))
            return CallOutcome(error=f"MCP server {server.name} answered with an error: {e.error.message}")
        except CONNECTION_LOST as e:
            return CallOutcome(error=self._lose(server, _reason(e)))
        except Exception as e:  # e.g. a result that breaks the tool's own output schema
            return CallOutcome(error=f"the result of {name} from MCP server {server.name} is unusable: {_reason(e)}")
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return CallOutcome(McpToolCallResult(dumped.get("content", []), dumped.get("structuredContent")),
                           is_error=bool(result.is_error))

    async def _transport(self, server: _Server) -> contextlib.AbstractAsyncContextManager:
        config = server.config
        if config.command is None:
            return _http_transport(config, self._config, self._env)
        spawned = self._spawned.pop(config.name, None)
        if spawned is not None:
            server.process = await asyncio.wrap_future(spawned)
        else:
            server.process = await spawn(config, self._env, self._log_path(config.name))
        return process_streams(server.process)

    async def _explained(self, server: _Server, reason: str) -> str:
        """The reason with what the user needs to act on it: the URL, or how the process ended and its last
        stderr line."""
        if server.config.url is not None:
            return f"{server.config.url}: {reason}"
        process = server.process
        if process is not None and process.returncode is None:  # its pipes closed; its exit may be a moment later
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), EXIT_NOTICE_SECONDS)
        if process is None or process.returncode is None:
            return reason
        last = _last_line(self._log_path(server.name))
        return f"it exited with status {process.returncode}" + (f" ({last})" if last else "")

    # --- state changes (either thread) ---------------------------------------------------------------

    def _fail(self, server: _Server, reason: str) -> None:
        if server.failure is None:
            server.failure = reason
        server.settled.set()

    def _lose(self, server: _Server, reason: str) -> str:
        """The connection of a server that was up dropped: report it once; its calls now fail."""
        sentence = f"MCP server {server.name} stopped ({reason}); its tools now return errors"
        if not server.lost:
            server.lost, server.failure, server.reported = True, reason, True
            with self._lock:
                self._warnings.append(sentence + ".")
        return sentence

    def _take_warnings(self) -> list[str]:
        with self._lock:
            taken, self._warnings = self._warnings, []
        return taken

    def _collect(self) -> tuple[dict[str, McpTool], list[str]]:
        """The tools under their model names, and a warning for each tool left out."""
        pairs: list[tuple[str, mcp_types.Tool]] = []
        warnings: list[str] = []
        for server in self._servers.values():
            if server.session is None:
                continue
            for tool in _allowed(server.config, server.tools):
                problem = _schema_problem(tool.input_schema)
                if problem:
                    warnings.append(f"MCP server {server.name}: tool {tool.name} is left out, its input schema is "
                                    f"invalid ({problem}).")
                else:
                    pairs.append((server.name, tool))
        by_key = {(s, t.name): t for s, t in pairs}
        return {qualified: _as_tool(server, qualified, by_key[(server, name)])
                for qualified, (server, name) in qualify((s, t.name) for s, t in pairs).items()}, warnings

    def _failure_sentence(self, server: _Server) -> str:
        where = f"; its stderr is in {self._log_path(server.name)}" if server.config.command else ""
        return (f"MCP server {server.name} did not start: {server.failure}{where}. The session goes on without "
                f"its tools; fix [mcp_servers.{server.name}] in {self._config.config_file} or set enabled = false.")

    def _timeout_sentence(self, server: _Server, tool: str) -> str:
        return (f"the tool {tool} of MCP server {server.name} did not answer within "
                f"{server.config.tool_timeout_sec:g} s (tool_timeout_sec)")

    def _log_path(self, name: str) -> Path:
        return log_path(self._config.codex_home, name)


# --- helpers ---------------------------------------------------------------------------------------------


async def _list_tools(session: ClientSession) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            return tools


@contextlib.asynccontextmanager
async def _http_transport(server: McpServerConfig, config: Config, env: Mapping[str, str]):
    import httpx2

    headers = dict(server.http_headers)
    headers |= {header: env[var] for header, var in server.env_http_headers.items() if env.get(var)}
    if server.bearer_token_env_var:
        token = env.get(server.bearer_token_env_var)
        if not token:
            raise _StartError(f"bearer_token_env_var names {server.bearer_token_env_var}, which is not set")
        headers["Authorization"] = f"Bearer {token}"
    hooks: dict[str, list] = {}
    if config.local_only:
        from agent.safety.local_only import check_url, local_only_event_hooks

        check_url(server.url or "", config.local_only_allow_hosts, config_file=config.config_file)
        hooks = {event: [_async_hook(h) for h in found] for event, found in local_only_event_hooks(
            config.local_only_allow_hosts, config_file=config.config_file).items()}
    client = httpx2.AsyncClient(headers=headers, event_hooks=hooks, trust_env=not config.local_only,
                                timeout=httpx2.Timeout(30.0, read=300.0))
    async with client, streamable_http_client(server.url or "", http_client=client) as streams:
        yield streams


def _async_hook(hook: Callable[[Any], None]) -> Callable[[Any], Any]:
    async def run(value: Any) -> None:
        hook(value)

    return run


class _StartError(Exception):
    """A server that cannot be started as configured (the message says why)."""


def _last_line(path: Path) -> str:
    """The last non-empty line of a log, at most 300 characters ("" if none)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _allowed(config: McpServerConfig, tools: list[mcp_types.Tool]) -> list[mcp_types.Tool]:
    """enabled_tools first (when set), then disabled_tools, as Codex applies them."""
    kept = [t for t in tools if config.enabled_tools is None or t.name in config.enabled_tools]
    return [t for t in kept if t.name not in config.disabled_tools]


def _schema_problem(schema: Any) -> str | None:
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return "it is not a JSON schema of type object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        return e.message
    return None


def _as_tool(server: str, qualified: str, tool: mcp_types.Tool) -> McpTool:
    annotations = tool.annotations
    schema = dict(tool.input_schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return McpTool(server=server, name=tool.name, qualified=qualified,
                   description=tool.description or tool.title or tool.name, input_schema=schema,
                   read_only=bool(annotations and annotations.read_only_hint))


def _reason(error: BaseException) -> str:
    """One readable reason from an exception, digging into the exception groups anyio raises."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, MCPError):
        return error.error.message
    if isinstance(error, FileNotFoundError):
        return f"the command {error.filename or ''} was not found".replace("  ", " ")
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text and not isinstance(error, _StartError) else text or \
        type(error).__name__
