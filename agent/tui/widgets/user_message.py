"""A message the user sent, as the transcript shows it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.terminal_text import visible


class UserMessage(Static):
    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $primary;
        background: $boost;
        color: $text;
    }
    """

    def __init__(self, text: str, **kwargs):
        super().__init__(Text(visible(text)), **kwargs)
        self.text = text
