"""Start the configured MCP servers without delaying the front end: `start_servers` returns at once.

The front ends call this before they load the model. agent/mcp/connections.py imports none of the `mcp` SDK, so
what runs here is cheap: a thread with an asyncio loop that spawns every server process and reads its handshake
and tool list, while the front end goes on loading the model. The SDK, which only tool calls need, is imported
once the first model request has its tools. The handle returned is what `Session(mcp=…)` and the tool router
use; the first thing that needs the servers (the first model request's tool list) waits for them there.

Nothing is imported or started when no server is configured (or every one has `enabled = false`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.config import Config

if TYPE_CHECKING:
    from agent.mcp.connections import McpConnections


def start_servers(config: Config) -> McpConnections | None:
    if not any(server.enabled for server in config.mcp_servers.values()):
        return None
    from agent.mcp.connections import McpConnections

    return McpConnections.start(config)
