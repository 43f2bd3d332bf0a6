"""A real MCP server, written with the SDK's FastMCP (`MCPServer` in mcp 2), that misbehaves on purpose.

    python tests/mcp/servers/misbehaving.py [--slow-start SECONDS] [--http PORT]

Tools: `echo` (annotated read-only), `write_note` (not read-only, appends to $NOTES_FILE), `hang` (never
answers), `crash` (the process exits mid-call), `big` (a result of `size` characters), `invalid` (its input
schema is not a valid JSON schema), `pid` (the server's process id). `--slow-start` sleeps before serving, as a
server that takes long to start; `--http` serves streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


class Misbehaving(MCPServer):
    async def list_tools(self) -> list[Any]:
        tools = await super().list_tools()
        for tool in tools:
            if tool.name == "invalid":
                tool.input_schema = {"type": "object", "properties": {"x": {"type": "no-such-type"}}}
        return tools


server = Misbehaving("misbehaving")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Return the text."""
    return f"echo: {text}"


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def write_note(note: str) -> str:
    """Append a note to the notes file."""
    with open(os.environ["NOTES_FILE"], "a", encoding="utf-8") as out:
        out.write(note + "\n")
    return "written"


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep(3600)
    return "unreachable"


@server.tool()
def crash() -> str:
    """The server process dies during the call."""
    os._exit(3)


@server.tool()
def big(size: int) -> str:
    """A long result."""
    return "x" * size


@server.tool()
def invalid(x: str = "") -> str:
    """Its schema is broken by list_tools."""
    return x


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow-start", type=float, default=0.0)
    parser.add_argument("--http", type=int)
    args = parser.parse_args()
    time.sleep(args.slow_start)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
