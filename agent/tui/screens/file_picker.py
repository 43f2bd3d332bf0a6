"""The `@` file picker: the repository's files (.gitignore respected), fuzzy-filtered as the user types;
Enter returns the chosen path relative to the working directory."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal_text import visible
from agent.tui.files import Match, fuzzy_filter, list_files
from agent.tui.screens.list_modal import ListModal

SHOWN = 50


class FilePickerScreen(ListModal):
    DEFAULT_CSS = """
    FilePickerScreen { align: center bottom; background: $background 40%; }
    FilePickerScreen > #frame {
        width: 100%;
        height: auto;
        max-height: 80%;
        margin: 0 1 4 1;
        padding: 0 1;
        border: round $primary;
        background: $surface;
    }
    FilePickerScreen #title { text-style: bold; }
    FilePickerScreen OptionList { height: auto; max-height: 16; border: none; }
    FilePickerScreen #keys { color: $text-muted; }
    """

    def __init__(self, root: Path, query: str = ""):
        super().__init__()
        self.root = root
        self.initial_query = query
        self.files: list[str] | None = None
        self._matches: list[Match] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="frame"):
            yield Static("@ mention a file", id="title")
            yield Input(value=self.initial_query, placeholder="type to filter files…")
            yield OptionList(Option(Text("listing files…", style="dim"), disabled=True))
            yield Static("↑↓ choose · enter insert · esc cancel", id="keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        files = list_files(self.root)
        self.app.call_from_thread(self._loaded, files)

    def _loaded(self, files: list[str]) -> None:
        self.files = files
        self._refilter(self.query_one(Input).value)

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.files is not None:
            self._refilter(event.value)

    def _refilter(self, query: str) -> None:
        assert self.files is not None
        self._matches = fuzzy_filter(query.strip(), self.files, SHOWN)
        options = self.query_one(OptionList)
        options.clear_options()
        if not self._matches:
            options.add_option(Option(Text("no matching files", style="dim"), disabled=True))
            return
        options.add_options(Option(_highlighted(match)) for match in self._matches)
        options.highlighted = 0

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if self._matches and options.highlighted is not None:
            self.dismiss(self._matches[options.highlighted].path)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if self._matches:
            self.dismiss(self._matches[event.option_index].path)

    def selectable_count(self) -> int:
        return len(self._matches)


def _highlighted(match: Match) -> Text:
    """The path with the matched characters underlined (and any control character in a file's name shown)."""
    text, marked = Text(), set(match.positions)
    for index, char in enumerate(match.path):
        text.append(visible(char), "bold underline" if index in marked else "")
    return text
