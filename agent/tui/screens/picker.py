"""A list to choose one thing from: /approvals presets, /model, the sessions to resume, trusting a folder.

Optionally filtered by typing; with `free_text`, Enter on text that matches no option returns that text
(so /model accepts a model name that no listing knows). Titles and choices may hold outside text (a folder's
path, a server's model names, an old prompt), so they are `Text` with their control characters shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal_text import visible
from agent.tui.screens.list_modal import ListModal


@dataclass(frozen=True)
class Choice:
    label: str
    value: Any
    description: str = ""


@dataclass(frozen=True)
class FreeText:
    text: str


class PickerScreen(ListModal):
    DEFAULT_CSS = """
    PickerScreen { align: center middle; background: $background 60%; }
    PickerScreen > #frame {
        width: 100%;
        max-width: 100;
        height: auto;
        max-height: 90%;
        margin: 0 1;
        padding: 0 1;
        border: round $primary;
        background: $surface;
    }
    PickerScreen #title { text-style: bold; }
    PickerScreen #subtitle { color: $text-muted; }
    PickerScreen Input { margin: 1 0 0 0; }
    PickerScreen OptionList { height: auto; max-height: 20; margin: 1 0 0 0; border: none; }
    PickerScreen #keys { color: $text-muted; }
    """

    def __init__(self, title: str, choices: Sequence[Choice], *, subtitle: str = "", current: int = 0,
                 filter_placeholder: str | None = None, free_text: bool = False):
        super().__init__()
        self.title_text = title
        self.subtitle = subtitle
        self.choices = list(choices)
        self.current = current
        self.filter_placeholder = filter_placeholder
        self.free_text = free_text
        self._shown: list[Choice] = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(id="frame"):
            yield Static(Text(visible(self.title_text)), id="title")
            if self.subtitle:
                yield Static(Text(visible(self.subtitle)), id="subtitle")
            if self.filter_placeholder is not None:
                yield Input(placeholder=self.filter_placeholder)
            yield OptionList()
            yield Static("↑↓ choose · enter select · esc cancel", id="keys")

    def on_mount(self) -> None:
        self._show(self.choices, self.current)
        if self.filter_placeholder is not None:
            self.query_one(Input).focus()
        else:
            self.query_one(OptionList).focus()

    def _show(self, choices: list[Choice], highlight: int = 0) -> None:
        self._shown = choices
        options = self.query_one(OptionList)
        options.clear_options()
        width = max((len(visible(c.label)) for c in choices), default=0) + 3
        options.add_options(
            Option(Text.assemble((visible(c.label).ljust(width), "bold"), (visible(c.description), "dim")))
            for c in choices
        )
        if choices:
            options.highlighted = min(highlight, len(choices) - 1)

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        words = event.value.lower().split()
        self._show([c for c in self.choices
                    if all(w in f"{c.label} {c.description}".lower() for w in words)])

    @on(Input.Submitted)
    def _submit_input(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and self._shown:
            self.dismiss(self._shown[options.highlighted].value)
        elif self.free_text and event.value.strip():
            self.dismiss(FreeText(event.value.strip()))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._shown[event.option_index].value)
