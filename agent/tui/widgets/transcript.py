"""The scrolling conversation: cells are appended at the bottom, and the view follows new output until the
user scrolls up (Textual's anchoring), so reading older output is never interrupted by a stream."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget


class Transcript(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    Transcript {
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
    }
    """

    def on_mount(self) -> None:
        self.anchor()

    def add(self, cell: Widget) -> Widget:
        self.mount(cell)
        return cell

    def find_cell(self, kind: type, item_id: str):
        """The cell of that class showing that item, or None (newest first)."""
        for child in reversed(self.children):
            if isinstance(child, kind) and getattr(child, "item_id", None) == item_id:
                return child
        return None
