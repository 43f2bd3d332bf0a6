"""One call to an MCP tool: `server.tool(arguments)`, a spinner-free running mark, then how it ended and the first
lines of what the tool returned (or the error). Updated in place when the call completes."""

from __future__ import annotations

import json

from rich.text import Text
from textual.widgets import Static

from agent.protocol import McpToolCall
from agent.terminal_text import visible

PREVIEW_LINES = 4
ARGUMENTS_CHARS = 200
MARKS = {"in_progress": ("•", "bold"), "completed": ("✔", "bold green")}
FAILED_MARK = ("✘", "bold red")


class McpCell(Static):
    DEFAULT_CSS = """
    McpCell {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
    }
    """

    def __init__(self, item: McpToolCall, **kwargs):
        super().__init__(**kwargs)
        self.item_id = item.id
        self.show(item)

    def show(self, item: McpToolCall) -> None:
        self.item = item
        mark, style = MARKS.get(item.status, FAILED_MARK)
        arguments = json.dumps(item.arguments, ensure_ascii=False) if item.arguments else ""
        if len(arguments) > ARGUMENTS_CHARS:
            arguments = arguments[:ARGUMENTS_CHARS] + "…"
        text = Text.assemble((f"{mark} ", style), ("MCP ", "dim"), (visible(f"{item.server}.{item.tool}"), "bold"),
                             (f"({visible(arguments)})", ""))
        if item.duration_ms is not None:
            text.append(f"  {item.duration_ms} ms", style="dim")
        for line in self._preview(item):
            text.append(f"\n  {visible(line)}", style="red" if item.error else "dim")
        self.update(text)

    @staticmethod
    def _preview(item: McpToolCall) -> list[str]:
        if item.error is not None:
            return [item.error.message]
        if item.result is None:
            return []
        texts = [str(b.get("text", "")) if isinstance(b, dict) and b.get("type") == "text" else f"[{b.get('type')}]"
                 for b in item.result.content if isinstance(b, dict)]
        lines = "\n".join(texts).splitlines()
        return lines[:PREVIEW_LINES] + ([f"… {len(lines) - PREVIEW_LINES} more lines"] if len(lines) > PREVIEW_LINES
                                        else [])
