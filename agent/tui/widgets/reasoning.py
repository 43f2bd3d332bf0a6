"""The model's reasoning: collapsed under a "Thinking" title, expandable, streamed like a reply."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Collapsible, Static

from agent.terminal_text import visible


class Reasoning(Collapsible):
    DEFAULT_CSS = """
    Reasoning {
        margin: 1 0 0 0;
        padding: 0;
        border: none;
        background: transparent;
        color: $text-muted;
    }
    Reasoning > Contents { padding: 0 0 0 3; }
    Reasoning > CollapsibleTitle { color: $text-muted; text-style: italic; padding: 0 1; }
    """

    def __init__(self, text: str = "", **kwargs):
        self._body = Static(Text(visible(text), style="italic"))
        super().__init__(self._body, title="Thinking", collapsed=True, **kwargs)
        self.text = text

    def append(self, delta: str) -> None:
        self.text += delta
        self._body.update(Text(visible(self.text), style="italic"))

    def finish(self, text: str) -> None:
        self.text = text
        self._body.update(Text(visible(text), style="italic"))
        self.title = f"Thought ({len(text.split())} words)"
