"""The agent's reply: Markdown (code blocks highlighted), streamed token by token.

Rebuilding Markdown blocks is the expensive part of streaming, so (as Codex's TUI does) only complete lines
go to the Markdown widget, through Textual's `MarkdownStream`; the line being written shows as plain text
below it until its newline arrives. `finish` puts the final text in place (and replaces the streamed text
when they differ).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from agent.terminal_text import visible


class AgentMessage(Vertical):
    DEFAULT_CSS = """
    AgentMessage {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
    }
    AgentMessage > Markdown {
        margin: 0;
        padding: 0;
        background: transparent;
    }
    AgentMessage > .agent-message--tail { padding: 0; }
    AgentMessage MarkdownH1 { content-align: left middle; }  /* Textual centres it; a reply reads left-aligned */
    """

    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.text = text
        self.completed = False
        self._committed = 0  # characters of `text` handed to the Markdown widget
        self._markdown = Markdown(visible(text))
        self._tail = Static(classes="agent-message--tail")
        self._tail.display = False  # toggled directly: a class on this widget would restyle every Markdown block
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        yield self._markdown
        yield self._tail

    async def append(self, delta: str) -> None:
        if not delta or self.completed:
            return
        self.text += delta
        cut = self.text.rfind("\n") + 1
        if cut > self._committed:
            if self._stream is None:
                self._stream = Markdown.get_stream(self._markdown)
            await self._stream.write(visible(self.text[self._committed:cut]))
            self._committed = cut
        tail = self.text[self._committed:]
        self._tail.update(Text(visible(tail)))
        self._tail.display = bool(tail)

    async def finish(self, text: str) -> None:
        self.completed = True
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self._tail.display = False
        committed = self.text[: self._committed]
        if committed and text.startswith(committed):
            if len(text) > self._committed:
                await self._markdown.append(visible(text[self._committed:]))
        else:
            await self._markdown.update(visible(text))
        self.text, self._committed = text, len(text)
