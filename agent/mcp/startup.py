"""Start the configured MCP servers without delaying the front end: `start_servers` returns at once.

Importing the `mcp` SDK takes about half a second, so even that happens on a background thread, while the front
end goes on loading the model. The handle it returns is what `Session(mcp=…)` and the tool router use; the first
thing that needs the servers (the first model request's tool list) waits for them there.

Nothing is imported or started when no server is configured (or every one has `enabled = false`).
"""

from __future__ import annotations

import threading
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
        self._config = config
        self._connections: McpConnections | None = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._start, name="mcp-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            from agent.mcp.connections import McpConnections

            self._connections = McpConnections.start(self._config)
        except Exception as e:  # noqa: BLE001 - e.g. the SDK is not installed: one warning, no tools
            self._error = (f"MCP servers could not be started ({type(e).__name__}: {e}); the session goes on "
                           "without them.")

    def _ready(self) -> McpConnections | None:
        self._thread.join()
        return self._connections

    def tools(self, warn: Callable[[str], None]) -> list[McpTool]:
        connections = self._ready()
        if connections is None:
            if self._error:
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
