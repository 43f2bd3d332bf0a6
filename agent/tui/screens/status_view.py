"""/status: what this session runs on and how much it has used, from the session's `StatusReport`.

Values are `Text` with their control characters shown: a str cell of a Rich table would be read as markup, and
a model's name, an endpoint or a path come from outside."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from agent.context_budget import percent_used
from agent.terminal_text import visible
from agent.tui.widgets.status_bar import human_count

if TYPE_CHECKING:
    from agent.protocol import SessionStatus


@dataclass(frozen=True)
class StatusExtras:
    """What the app knows beyond `SessionStatus`."""

    cwd: str
    branch: str | None
    tokens_per_second: float | None


def status_table(status: SessionStatus, extras: StatusExtras) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    usage = status.usage
    total = usage.input_tokens + usage.output_tokens
    rows: list[tuple[str, str | Text]] = [
        ("Model", status.model),
        ("Provider", status.provider),
        ("Endpoint", status.endpoint),
        ("Sandbox", status.sandbox),
        ("Approval", status.approval),
        ("Directory", extras.cwd),
        ("Branch", extras.branch or "(none)"),
        ("AGENTS.md", "\n".join(str(p) for p in status.agents_files) or "(none)"),
        ("Tokens used", f"{human_count(total)} (input {human_count(usage.input_tokens)}, cached "
                        f"{human_count(usage.cached_input_tokens)}, output {human_count(usage.output_tokens)})"),
        ("Context", _context(status)),
    ]
    if extras.tokens_per_second:
        rows.append(("Last speed", f"{extras.tokens_per_second:.1f} tok/s"))
    rows.append(("Session", status.thread_id))
    rows.append(("Rollout", str(status.rollout) if status.rollout else "(ephemeral: not recorded)"))
    for key, value in rows:
        table.add_row(key, Text(visible(value)) if isinstance(value, str) else value)
    return table


def _context(status: SessionStatus) -> str:
    used = status.context_used
    if not status.context_window:
        return f"{human_count(used)} tokens in the last request (window unknown)"
    percent = percent_used(used, status.context_window)  # the status bar's unit
    return f"{percent}% used ({human_count(used)} of {human_count(status.context_window)} tokens)"


class StatusScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]
    DEFAULT_CSS = """
    StatusScreen { align: center middle; background: $background 60%; }
    StatusScreen > #frame {
        width: 100%;
        max-width: 110;
        height: auto;
        margin: 0 1;
        padding: 0 1;
        border: round $primary;
        background: $surface;
    }
    StatusScreen #title { text-style: bold; padding: 0 0 1 0; }
    StatusScreen #keys { color: $text-muted; padding: 1 0 0 0; }
    """

    def __init__(self, status: SessionStatus, extras: StatusExtras):
        super().__init__()
        self.status = status
        self.extras = extras

    def compose(self) -> ComposeResult:
        with Vertical(id="frame"):
            yield Static("/status", id="title")
            yield Static(status_table(self.status, self.extras), id="table")
            yield Static("esc close", id="keys")
