"""What every list-choosing modal shares: Esc cancels (dismiss with None), Up/Down move the highlight of its
OptionList, wrapping around, also while an Input above the list has the focus."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList


class ListModal(ModalScreen[Any]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
    ]

    def selectable_count(self) -> int:
        """How many options can be chosen (a placeholder option such as 'no matching files' cannot)."""
        return self.query_one(OptionList).option_count

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if count := self.selectable_count():
            options.highlighted = ((options.highlighted or 0) + step) % count

    def action_cancel(self) -> None:
        self.dismiss(None)
