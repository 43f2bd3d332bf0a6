"""One line (or a few) in the transcript that is not a model item: an error, a warning, an approval decision,
the result of a slash command. The kind picks the style, so errors always look like errors."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.widgets import Static

from agent.terminal_text import visible

NoticeKind = Literal["info", "warning", "error", "decision", "interrupted"]
ICONS = {"info": "•", "warning": "⚠", "error": "✖", "decision": "›", "interrupted": "■"}


class Notice(Static):
    DEFAULT_CSS = """
    Notice {
        margin: 1 0 0 0;
        padding: 0 1;
        color: $text-muted;
    }
    Notice.-warning { color: $text-warning; }
    Notice.-error {
        color: $text-error;
        background: $error 10%;
        border-left: thick $error;
    }
    Notice.-interrupted { color: $text-error; }
    Notice.-decision { color: $text-accent; }
    """

    def __init__(self, message: str, kind: NoticeKind = "info", **kwargs):
        super().__init__(Text(f"{ICONS[kind]} {visible(message)}"), classes=f"-{kind}", **kwargs)
        self.kind = kind
        self.message = message
