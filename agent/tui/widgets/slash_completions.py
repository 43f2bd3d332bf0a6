"""The list of slash commands shown above the composer while the user types `/…`.

It never takes focus: the composer moves its highlight (Up/Down) and asks for the choice (Tab/Enter).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agent.tui.slash_commands import SlashCommand


class SlashCompletions(OptionList, can_focus=False):
    DEFAULT_CSS = """
    SlashCompletions {
        display: none;
        height: auto;
        max-height: 10;
        border: none;
        padding: 0 1;
        background: $panel;
    }
    SlashCompletions.-visible { display: block; }
    """

    def show_commands(self, commands: Sequence[SlashCommand]) -> None:
        self.clear_options()
        width = max((len(c.name) for c in commands), default=0) + 2
        self.add_options(
            Option(Text.assemble((f"/{c.name}".ljust(width), "bold"), (c.description, "dim")), id=c.name)
            for c in commands
        )
        self.set_class(bool(commands), "-visible")
        if commands:
            self.highlighted = 0

    def hide(self) -> None:
        self.remove_class("-visible")

    @property
    def visible(self) -> bool:
        return self.has_class("-visible")

    def move(self, step: int) -> None:
        if self.option_count:
            self.highlighted = ((self.highlighted or 0) + step) % self.option_count

    @property
    def chosen(self) -> str | None:
        option = self.highlighted_option
        return option.id if option else None
