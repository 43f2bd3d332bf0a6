"""/diff: the working tree's changes against HEAD (untracked files included), in a scrollable view."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from agent.tui.widgets.diff_view import DiffView, parse_stats


class DiffScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    DiffScreen { align: center middle; background: $background 60%; }
    DiffScreen > #frame {
        width: 100%;
        height: 100%;
        margin: 1 1;
        padding: 0 1;
        border: round $primary;
        background: $surface;
    }
    DiffScreen #title { text-style: bold; padding: 0 0 1 0; }
    DiffScreen #keys { color: $text-muted; }
    DiffScreen VerticalScroll { height: 1fr; }
    """

    def __init__(self, diff: str, title: str = "git diff (untracked files included)"):
        super().__init__()
        self.diff = diff
        self.title_text = title

    def compose(self) -> ComposeResult:
        stats = parse_stats(self.diff)
        added, removed = sum(s.added for s in stats), sum(s.removed for s in stats)
        with Vertical(id="frame"):
            files = f"{len(stats)} file{'s' if len(stats) != 1 else ''}"
            yield Static(f"{self.title_text} · {files} · +{added} −{removed}", id="title")
            with VerticalScroll():
                yield DiffView(self.diff)
            yield Static("↑↓ PgUp PgDn scroll · esc close", id="keys")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
