"""An ordinary FastMCP server (`MCPServer` in mcp 2) whose tool takes a pydantic model: the SDK writes its input
schema with `$defs` and `"$ref": "#/$defs/Point"`, as every FastMCP tool with a model parameter has it.

    python tests/mcp/servers/hostile_model_params.py

Tools: `distance` (two points), `echo` (a string).
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel


class Point(BaseModel):
    x: float
    y: float


server = MCPServer("model-params")


@server.tool()
def distance(a: Point, b: Point) -> float:
    """The distance between two points."""
    return ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


if __name__ == "__main__":
    server.run("stdio")
