"""The box at the top of the transcript: which version, model, directory, sandbox and approval mode this session
runs with, so the screen is never blank while the model loads. It shows what it is given; the app fills it in
(from the configuration at once, then from the loaded model) and never changes it after the session starts.
Every value is a `Text` (a str cell of a Rich table would be read as markup) with its control characters shown."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from agent.terminal_text import visible


@dataclass(frozen=True)
class HeaderInfo:
    version: str
    model: str
    provider: str
    cwd: str
    sandbox: str
    approval: str


def header_table(info: HeaderInfo) -> Group:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    provider = f" · {visible(info.provider)}" if info.provider else ""
    table.add_row("model:", Text.assemble(visible(info.model), (provider, "dim")))
    table.add_row("directory:", Text(visible(info.cwd)))
    table.add_row("sandbox:", Text(visible(info.sandbox)))
    table.add_row("approval:", Text(visible(info.approval)))
    title = Text.assemble((">_ ", "bold"), ("Codex", "bold"), (f" (codex-local {info.version})", "dim"))
    return Group(title, Text(), table)


class SessionHeader(Static):
    DEFAULT_CSS = """
    SessionHeader {
        width: auto;
        max-width: 100%;
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        border: round $primary 50%;
    }
    """

    def __init__(self, info: HeaderInfo, **kwargs):
        super().__init__(header_table(info), **kwargs)
        self.info = info

    def show(self, info: HeaderInfo) -> None:
        self.info = info
        self.update(header_table(info))
