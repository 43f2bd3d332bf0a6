"""Start the configured MCP servers without delaying the front end: `start_servers` returns at once.

Importing the `mcp` SDK takes half a second or more, so the stdio servers' processes are spawned first (on an
asyncio loop in a daemon thread, which needs nothing but asyncio) and the SDK is imported on another background
thread while they boot, all while the front end goes on loading the model. The handle it returns is what
`Session(mcp=…)` and the tool router use; the first thing that needs the servers (the first model request's tool
list) waits for them there.

Nothing is imported or started when no server is configured (or every one has `enabled = false`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.config import Config

if TYPE_CHECKING:
    from agent.mcp.connections import CallOutcome, McpConnections, McpTool


def start_servers(config: Config) -> StartingServers | None:
    if not any(server.enabled for server in config.mcp_servers.values()):
        return None
    return StartingServers(config)


class StartingServers:
    """McpConnections once its background start-up has run; every method waits for that first."""

    def __init__(self, config: Config) -> None:
        from agent.mcp.stdio_process import log_path, spawn

        self._config = config
        self._connections: McpConnections | None = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="mcp-servers", daemon=True).start()
        self._spawned: dict[str, concurrent.futures.Future] = {
            server.name: asyncio.run_coroutine_threadsafe(
                spawn(server, os.environ, log_path(config.codex_home, server.name)), self._loop)
            for server in config.mcp_servers.values() if server.enabled and server.command is not None}
        self._thread = threading.Thread(target=self._start, name="mcp-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            from agent.mcp.connections import McpConnections

            self._connections = McpConnections.start(self._config, loop=self._loop, spawned=self._spawned,
                                                     started=self._started)
        except Exception as e:  # e.g. the SDK is not installed: one warning, no tools
            self._error = (f"MCP servers could not be started ({type(e).__name__}: {e}); the session goes on "
                           "without them.")

    def _ready(self) -> McpConnections | None:
        self._thread.join()
        return self._connections

    def tools(self, warn: Callable[[str], None] | None) -> list[McpTool]:
        connections = self._ready()
        if connections is None:
            if self._error and warn is not None:
                warn(self._error)
                self._error = None
            return []
        return connections.tools(warn)

    def tool(self, qualified: str) -> McpTool | None:
        connections = self._ready()
        return connections.tool(qualified) if connections else None

    def call(self, tool: McpTool, arguments: dict[str, Any], cancel: threading.Event) -> CallOutcome:
        connections = self._ready()
        assert connections is not None, "a tool exists only when the servers started"
        return connections.call(tool, arguments, cancel)

    def report(self, warn: Callable[[str], None]) -> None:
        connections = self._ready()
        if connections is not None:
            connections.report(warn)

    def close(self) -> None:
        connections = self._ready()
        if connections is not None:
            connections.close()
            return
        from agent.mcp.stdio_process import stop

        for spawned in self._spawned.values():  # the SDK never came: stop what was spawned for it
            if spawned.done() and spawned.exception() is None:
                asyncio.run_coroutine_threadsafe(stop(spawned.result()), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
