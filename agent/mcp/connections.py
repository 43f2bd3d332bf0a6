"""The session's MCP servers: started in the background, kept for the session, called from the turn loop.

`McpConnections.start` returns at once: every enabled `[mcp_servers.<name>]` starts on one asyncio loop in a
daemon thread (the `mcp` SDK is async; the turn loop is not), concurrently with each other and with whatever the
front end does next (loading the model). `tools()` waits until each server is up or has failed, at most its
`startup_timeout_sec` from the start, so the first model request carries every tool that made it; a stdio server
whose list from the last run is cached (agent/mcp/tool_cache.py) is not waited for: that list is offered until
its own is in, a call to one of its tools waits for it and is judged by its own list (`current`), and a list
that changed is said once and offered from the next request on. A server that
fails or times out is reported once (one sentence naming it and the reason) and left out; a server whose
connection drops later is reported once at its next call, and its tools then answer with an error.

The SDK is not on that path: importing it costs half a second of CPU or more, taken from the model load. A stdio
server's handshake and tool list are read by hand (agent/mcp/stdio_process.py), each as soon as that server
answers, and the SDK is imported on a thread of its own at the first tool call (or at once when a streamable HTTP
server, which needs it to start, is configured): imported at the first request, it held the GIL for ~250 ms
of the start-up (measured: 20 ms from the model's load to the first request without servers, 240-330 ms with
the import running). Each stdio connection is then handed to an SDK `ClientSession`, and every tool call goes
through the SDK; the first call waits for the import (~0.5 s, while the model waits anyway). This module
imports no part of the SDK itself.

stdio servers get the SDK's default environment (HOME, PATH, USER, …) plus `env_vars` passed through and `env`;
their stderr goes to CODEX_HOME/log/mcp-<name>.log, never to the terminal. Streamable HTTP servers get
`http_headers`, `env_http_headers` and `bearer_token_env_var` as headers, and under `local_only` must pass the
same check as a model provider (every request, redirects included).

This module moves calls and results; it does not decide approval, emit items or write the audit log
(agent/mcp/tool_call.py does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import Config, McpServerConfig
from agent.mcp import stdio_process, tool_cache
from agent.mcp.naming import qualify
from agent.mcp.stdio_process import log_path
from agent.protocol import McpToolCallResult

if TYPE_CHECKING:
    from mcp import ClientSession

CLIENT_INFO = {"name": "codex-local", "version": __version__}
STOP_SECONDS = 5.0  # how long close() waits for the servers to shut down
POLL_SECONDS = 0.05  # how often a waiting call looks at the turn's cancel flag
EXIT_NOTICE_SECONDS = 0.5  # how long a failed stdio server's exit status is waited for, to report it
SDK_WAIT_SECONDS = 60.0  # how long a call waits for the SDK to take over its server's connection
MAX_DESCRIPTION_CHARS = 8192  # a tool description longer than this is cut (it is sent with every request)

Warn = Callable[[str], None]


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
    attached: threading.Event = field(default_factory=threading.Event)  # the SDK holds it, or never will
    tools: list[dict[str, Any]] | None = None  # the usable tools (JSON, as listed), once it is up
    cache: tool_cache.CachedList | None = None  # a stdio server's list from its last run (agent/mcp/tool_cache)
    cached_tools: list[dict[str, Any]] | None = None  # the usable tools of that list
    offered_cached: bool = False  # a request carries cached_tools: its fresh list is still to be taken
    schema_warnings: list[str] = field(default_factory=list)  # tools left out for their schema
    session: ClientSession | None = None  # the SDK's, for calls
    failure: str | None = None  # why it did not start, or why it stopped
    lost: bool = False  # the connection dropped after start-up
    reported: bool = False  # its failure was told to the user
    stop: asyncio.Event | None = None
    task: asyncio.Future | None = None
    popen: subprocess.Popen | None = None  # a stdio server's process, as spawned
    spawn_error: OSError | None = None  # why it could not be spawned
    process: stdio_process.ServerProcess | None = None  # the same process, attached to the loop

    @property
    def name(self) -> str:
        return self.config.name


class McpConnections:
    def __init__(self, config: Config, env: Mapping[str, str] = os.environ) -> None:
        self._config = config
        self._env = env
        self._servers = {s.name: _Server(s) for s in config.mcp_servers.values() if s.enabled}
        self._tools: dict[str, McpTool] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-servers", daemon=True)
        self._sdk: asyncio.Future = self._loop.create_future()  # done once the SDK is imported (or failed to)
        self._sdk_import: threading.Thread | None = None
        self._closed = False
        self._warnings: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def start(cls, config: Config, env: Mapping[str, str] = os.environ) -> McpConnections:
        """Start every enabled server (the stdio processes are spawned here, a few ms each; the rest happens on
        the loop); their start-up timeouts begin now."""
        connections = cls(config, env)
        for server in connections._servers.values():
            if server.config.command is not None:
                try:
                    server.popen = stdio_process.spawn(server.config, env, connections._log_path(server.name))
                except OSError as e:  # e.g. no such command: reported as the server's failure
                    server.spawn_error = e
                else:
                    connections._read_cache(server)
        connections._thread.start()
        for server in connections._servers.values():
            asyncio.run_coroutine_threadsafe(connections._supervise(server), connections._loop)
        if any(server.config.command is None for server in connections._servers.values()):
            connections._import_sdk()  # an HTTP server's handshake is the SDK's
        return connections

    # --- what the session asks ---------------------------------------------------------------------

    def tools(self, warn: Warn | None) -> list[McpTool]:
        """Every tool of every server that started, waiting for those still starting unless their list from the
        last run is cached (then that list, until the fresh one is in: from the next call on); failures go to
        `warn` (None: they wait for a call that has one). The SDK, which only calls need, is not imported here."""
        for server in self._servers.values():
            if server.cached_tools is None:
                self._wait_settled(server)
        with self._lock:
            if self._tools is None or self._refresh_due():
                self._tools = self._collect()
            tools = list(self._tools.values())
            schema_warnings = [message for server in self._servers.values() for message in server.schema_warnings]
            if warn is not None:
                for server in self._servers.values():
                    server.schema_warnings = []
        if warn is not None:  # after the collection, which may have found a changed list
            self.report(warn)
            for message in schema_warnings:
                warn(message)
        return tools

    def tool(self, qualified: str) -> McpTool | None:
        with self._lock:
            return (self._tools or {}).get(qualified)

    def current(self, tool: McpTool, cancel: threading.Event) -> McpTool | str:
        """The tool as its server lists it now, or why it cannot be called. A tool offered from the cached list
        waits here for its server's own list (its annotations decide the approval), at most until the server's
        startup timeout."""
        server = self._servers[tool.server]
        if not self._wait_settled(server, cancel):
            return "the call was interrupted by the user"
        if server.failure and not server.lost:
            return f"MCP server {server.name} did not start ({server.failure})"
        with self._lock:
            if self._refresh_due():
                self._tools = self._collect()
            listed = [t for t in (self._tools or {}).values() if (t.server, t.name) == (tool.server, tool.name)]
        if not listed:
            return (f"MCP server {server.name} no longer offers the tool {tool.name} (its tool list changed since "
                    "it was cached); the current tools are offered from the next request")
        return listed[0]

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
        self._import_sdk()
        waited_until = time.monotonic() + SDK_WAIT_SECONDS
        while not server.attached.wait(POLL_SECONDS):  # the SDK is still importing: a moment after start-up
            if cancel.is_set():
                return CallOutcome(error="the call was interrupted by the user")
            if time.monotonic() > waited_until:
                return CallOutcome(error=f"MCP server {server.name} is not running (the mcp SDK did not load "
                                         f"within {SDK_WAIT_SECONDS:g} s)")
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
        if self._closed or not self._thread.is_alive():
            return
        self._closed = True

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
        self._thread.join(STOP_SECONDS)

    # --- the SDK, on a thread of its own -------------------------------------------------------------

    def _import_sdk(self) -> None:
        with self._lock:
            if self._sdk_import is not None:
                return
            self._sdk_import = threading.Thread(target=self._load_sdk, name="mcp-sdk", daemon=True)
        self._sdk_import.start()

    def _load_sdk(self) -> None:
        error: Exception | None = None
        try:
            import mcp  # noqa: F401 - everything a ClientSession needs

            if any(server.config.command is None for server in self._servers.values()):
                import mcp.client.streamable_http  # noqa: F401
        except Exception as e:  # e.g. the SDK is not installed: the servers report it
            error = e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._sdk_loaded, error)

    def _sdk_loaded(self, error: Exception | None) -> None:
        if self._sdk.done():
            return
        if error is None:
            self._sdk.set_result(None)
        else:
            self._sdk.set_exception(error)

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
            self._fail(server, _startup_timeout(server))

    def _read_cache(self, server: _Server) -> None:
        """A spawned stdio server's list from its last run (a ms: its schemas were checked when it was kept)."""
        server.cache = tool_cache.read(tool_cache.entry_path(self._config.codex_home, server.config, self._env,
                                                             Path.cwd()))
        if server.cache.tools is not None:
            server.cached_tools = [tool for tool in _allowed(server.config, server.cache.tools)
                                   if tool["name"] not in server.cache.problems]

    async def _serve(self, server: _Server, up: asyncio.Future) -> None:
        try:
            if server.config.command is None:
                await self._serve_http(server, up)
            else:
                await self._serve_stdio(server, up)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # any failure of a server is reported, never raised
            reason = await self._failure_reason(server, e)
            if server.tools is None:
                self._fail(server, reason)
            else:
                self._lose(server, reason)
        finally:
            server.session = None if server.failure else server.session
            server.attached.set()  # no call waits for an SDK session that will not come
            if server.process is not None:
                await asyncio.shield(stdio_process.stop(server.process))
            elif server.popen is not None:  # cancelled before its pipes reached the loop
                stdio_process.discard(server.popen)

    async def _failure_reason(self, server: _Server, error: BaseException) -> str:
        """Why the server failed, for the user; never raises (the server must settle whatever happened)."""
        try:
            return await self._explained(server, _reason(error))
        except Exception:  # the plainest reason rather than an unsettled server
            return type(error).__name__

    async def _serve_stdio(self, server: _Server, up: asyncio.Future) -> None:
        """Attach the spawned process, handshake by hand, keep its tools; once the SDK is imported, hand it the
        connection."""
        if server.popen is None:
            raise server.spawn_error or OSError("it was not spawned")
        server.process = process = await stdio_process.attach(server.popen, self._log_path(server.name))
        if server.cache is None or server.cache.tools is None:  # its list will need the schema check: import it
            import jsonschema  # noqa: F401 - now, while the server boots, not once its answer is awaited
        hello = await stdio_process.handshake(process, CLIENT_INFO)
        self._listed(server, hello.tools)
        up.set_result(True)
        if not await self._until_sdk(server, process):
            return
        import anyio
        from mcp import ClientSession
        from mcp import types as mcp_types

        async with contextlib.AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_process.process_streams(process))
            session = await stack.enter_async_context(ClientSession(
                read, write, client_info=mcp_types.Implementation(**CLIENT_INFO)))
            session.adopt(_initialize_result(hello.initialize))
            with contextlib.suppress(Exception), anyio.move_on_after(server.config.startup_timeout_sec):
                # The SDK's own copy, with which it checks results against output schemas; without it (a list
                # the SDK cannot take) each call lists the tools again for that check, and calls still work.
                await _list_tools(session)
            server.session = session
            server.attached.set()
            await server.stop.wait()

    async def _until_sdk(self, server: _Server, process: stdio_process.ServerProcess) -> bool:
        """Answer the server until the SDK is imported (True) or the server is to stop (False); raises when the
        server's stdout ends first, or when the SDK could not be imported."""
        assert server.stop is not None
        answering = asyncio.ensure_future(stdio_process.answer_requests(process))
        stopping = asyncio.ensure_future(server.stop.wait())
        try:
            await asyncio.wait({answering, stopping, self._sdk}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (answering, stopping):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
        if server.stop.is_set():
            return False
        if not self._sdk.done():
            raise ConnectionError("the connection closed")
        self._sdk.result()
        return True

    async def _serve_http(self, server: _Server, up: asyncio.Future) -> None:
        await asyncio.shield(self._sdk)
        from mcp import ClientSession
        from mcp import types as mcp_types

        async with contextlib.AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(_http_transport(server.config, self._config, self._env))
            session = await stack.enter_async_context(ClientSession(
                read, write, client_info=mcp_types.Implementation(**CLIENT_INFO)))
            await session.initialize()
            listed = await _list_tools(session)
            self._listed(server, [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed])
            server.session = session
            server.attached.set()
            up.set_result(True)
            await server.stop.wait()

    async def _call(self, server: _Server, name: str, arguments: dict[str, Any], timeout: float) -> CallOutcome:
        import anyio
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, PARSE_ERROR, REQUEST_TIMEOUT

        session = server.session
        if session is None:
            return CallOutcome(error=f"MCP server {server.name} is not running ({server.failure or 'stopped'})")
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=timeout)
            dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        except MCPError as e:
            if e.code == REQUEST_TIMEOUT:
                return CallOutcome(error=self._timeout_sentence(server, name))
            if e.code == CONNECTION_CLOSED:
                return CallOutcome(error=self._lose(server, "the connection closed"))
            if e.code == PARSE_ERROR:  # stdio_process could not read the answer (or the server could not read ours)
                return CallOutcome(error=f"the answer of MCP server {server.name} to {name} could not be read "
                                         f"({e.error.message})")
            return CallOutcome(error=f"MCP server {server.name} answered with an error: {e.error.message}")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError) as e:
            return CallOutcome(error=self._lose(server, _reason(e)))
        except Exception as e:  # e.g. a result that breaks the tool's own output schema, or cannot be dumped
            return CallOutcome(error=f"the result of {name} from MCP server {server.name} is unusable: {_reason(e)}")
        return CallOutcome(McpToolCallResult(dumped.get("content", []), dumped.get("structuredContent")),
                           is_error=bool(result.is_error))

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
        last = await process.last_stderr_line(EXIT_NOTICE_SECONDS)
        return f"it exited with status {process.returncode}" + (f" ({last})" if last else "")

    # --- state changes (either thread) ---------------------------------------------------------------

    def _listed(self, server: _Server, tools: list[dict[str, Any]]) -> None:
        """The server is up: keep the tools it may offer (checked here, while the front end is still busy), and
        its list for the next run."""
        unchanged = server.cache is not None and tools == server.cache.tools
        problems = server.cache.problems if unchanged and server.cache else _schema_problems(tools)
        allowed = _allowed(server.config, tools)
        server.tools = [tool for tool in allowed if tool["name"] not in problems]
        server.schema_warnings = [
            f"MCP server {server.name}: tool {tool['name']} is left out, its input schema is invalid "
            f"({problems[tool['name']]})." for tool in allowed if tool["name"] in problems]
        server.settled.set()
        if server.cache is not None and not unchanged:
            tool_cache.write(server.cache.path, tools, problems)

    def _fail(self, server: _Server, reason: str) -> None:
        if server.failure is None:
            server.failure = reason
        server.settled.set()
        server.attached.set()

    def _lose(self, server: _Server, reason: str) -> str:
        """The connection of a server that was up dropped: report it once; its calls now fail."""
        sentence = f"MCP server {server.name} stopped ({reason}); its tools now return errors"
        if not server.lost:
            server.lost, server.failure, server.reported = True, reason, True
            with self._lock:
                self._warnings.append(sentence + ".")
        server.attached.set()
        return sentence

    def _take_warnings(self) -> list[str]:
        with self._lock:
            taken, self._warnings = self._warnings, []
        return taken

    def _wait_settled(self, server: _Server, cancel: threading.Event | None = None) -> bool:
        """Wait until the server is up or has failed (False: `cancel` was set first); past its deadline (the
        loop missed its own on a busy machine) it has failed."""
        while not server.settled.wait(POLL_SECONDS if cancel is not None else
                                      max(self._deadline(server) - time.monotonic(), 0)):
            if cancel is not None and cancel.is_set():
                return False
            if time.monotonic() >= self._deadline(server):
                self._fail(server, _startup_timeout(server))
        return True

    @staticmethod
    def _deadline(server: _Server) -> float:
        return server.started + server.config.startup_timeout_sec + 1.0

    def _refresh_due(self) -> bool:
        """A server whose cached list a request carries has its own list now (under the lock)."""
        return any(server.offered_cached and server.settled.is_set() for server in self._servers.values())

    def _listing(self, server: _Server) -> list[dict[str, Any]]:
        """The tools to offer of one server (under the lock): its own list once it is up, its cached list while
        it starts; nothing when it failed to start. Says once when its own list differs from the cached one."""
        if not server.settled.is_set():
            server.offered_cached = server.cached_tools is not None
            return server.cached_tools or []
        if server.offered_cached:
            server.offered_cached = False
            if server.tools is not None and server.tools != server.cached_tools and server.cache is not None:
                self._warnings.append(
                    f"MCP server {server.name} now lists other tools than those cached in {server.cache.path}, "
                    "which a request already offered; the current ones are offered from the next request on.")
        if server.failure and not server.lost:
            return []
        return server.tools or []

    def _collect(self) -> dict[str, McpTool]:
        """The tools to offer, under their model names (under the lock)."""
        pairs = [(server.name, tool) for server in self._servers.values() for tool in self._listing(server)]
        by_key = {(s, t["name"]): t for s, t in pairs}
        return {qualified: _as_tool(server, qualified, by_key[(server, name)])
                for qualified, (server, name) in qualify((s, t["name"]) for s, t in pairs).items()}

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


async def _list_tools(session: ClientSession) -> list[Any]:
    """Every page of the server's tools/list, through the SDK."""
    from mcp import types as mcp_types

    tools: list[Any] = []
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
    from mcp.client.streamable_http import streamable_http_client

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


def _startup_timeout(server: _Server) -> str:
    return f"no answer within {server.config.startup_timeout_sec:g} s (startup_timeout_sec)"


def _initialize_result(result: dict[str, Any]) -> Any:
    """The SDK's `InitializeResult` for a server's answer to the hand-written `initialize` (whose required fields
    stdio_process checked); a field the SDK's types still refuse (say, a capability that is not an object) is
    dropped rather than failing a server whose tools were offered: only the version and serverInfo matter here."""
    from mcp import types as mcp_types
    from pydantic import ValidationError

    try:
        return mcp_types.InitializeResult.model_validate(result, by_name=False)
    except ValidationError:
        info = result["serverInfo"]
        return mcp_types.InitializeResult.model_validate({
            "protocolVersion": result["protocolVersion"], "capabilities": {},
            "serverInfo": {"name": info["name"], "version": info["version"]}}, by_name=False)


def _allowed(config: McpServerConfig, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """enabled_tools first (when set), then disabled_tools, as Codex applies them."""
    kept = [t for t in tools if config.enabled_tools is None or t["name"] in config.enabled_tools]
    return [t for t in kept if t["name"] not in config.disabled_tools]


def _schema_problems(tools: list[dict[str, Any]]) -> dict[str, str]:
    """What is wrong with each tool whose input schema is not a valid JSON schema of an object, by name."""
    problems = {tool["name"]: _schema_problem(tool.get("inputSchema")) for tool in tools}
    return {name: problem for name, problem in problems.items() if problem}


def _schema_problem(schema: Any) -> str | None:
    import jsonschema

    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return "it is not a JSON schema of type object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        return e.message
    return None


def _as_tool(server: str, qualified: str, tool: dict[str, Any]) -> McpTool:
    """A listed tool (JSON, as the server sent it) under its model name."""
    annotations = tool.get("annotations")
    schema = copy.deepcopy(tool["inputSchema"])  # nothing downstream may change the listed tool
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return McpTool(server=server, name=tool["name"], qualified=qualified, description=_description(tool),
                   input_schema=schema,
                   read_only=isinstance(annotations, dict) and annotations.get("readOnlyHint") is True)


def _description(tool: dict[str, Any]) -> str:
    """The tool's description (else its title, else its name) as a string of at most MAX_DESCRIPTION_CHARS: it
    rides in every request."""
    text = next((t for t in (tool.get("description"), tool.get("title")) if isinstance(t, str) and t.strip()),
                tool["name"])
    return text if len(text) <= MAX_DESCRIPTION_CHARS else text[:MAX_DESCRIPTION_CHARS - 1] + "…"


def _reason(error: BaseException) -> str:
    """One readable reason from an exception, digging into the exception groups anyio raises."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    # An SDK error can only come once the SDK is imported; while another thread imports it, `mcp` is in
    # sys.modules without MCPError yet.
    sdk_error = getattr(sys.modules.get("mcp"), "MCPError", None)
    if isinstance(sdk_error, type) and isinstance(error, sdk_error):
        return error.error.message
    if isinstance(error, FileNotFoundError):
        return f"the command {error.filename or ''} was not found".replace("  ", " ")
    text = str(error).strip()
    plain = isinstance(error, _StartError | stdio_process.HandshakeError)
    return f"{type(error).__name__}: {text}" if text and not plain else text or type(error).__name__
