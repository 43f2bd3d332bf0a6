"""The bottom line: model and provider, sandbox and approval mode, context used, tokens this session, the
last generation speed, branch and working directory. It shows what it is given; the app feeds it.

The activity (e.g. "waiting for the model (12 s; …)" while a server reads a long prompt) comes first and
takes at most half the line, so the model and the context stay in view during a long wait."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widget import Widget

from agent.context_budget import percent_used
from agent.terminal_text import visible


@dataclass(frozen=True)
class StatusLine:
    model: str = "…"
    provider: str = ""
    sandbox: str = ""
    approval: str = ""
    context_used: int = 0
    context_window: int | None = None
    tokens: int = 0
    tokens_per_second: float | None = None
    branch: str | None = None
    cwd: str = ""
    activity: str = ""  # e.g. "loading model…"; shown first when set


ACTIVITY_MIN_CELLS = 24
SANDBOX_LABELS = {"danger-full-access": "full-access", "workspace-write": "workspace-write", "read-only": "read-only"}


def _shown(line: StatusLine) -> StatusLine:
    """The line with the control characters of its texts (a server's model name, a status message) shown."""
    return replace(line, model=visible(line.model), provider=visible(line.provider), cwd=visible(line.cwd),
                   branch=visible(line.branch) if line.branch else line.branch, activity=visible(line.activity),
                   sandbox=visible(line.sandbox), approval=visible(line.approval))


def human_count(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


class StatusBar(Widget):
    COMPONENT_CLASSES = {"status--model", "status--muted", "status--activity", "status--warn"}
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    StatusBar > .status--model { text-style: bold; }
    StatusBar > .status--muted { color: $text-muted; }
    StatusBar > .status--activity { color: $text-accent; text-style: italic; }
    StatusBar > .status--warn { color: $text-warning; text-style: bold; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.line = StatusLine()

    def show(self, line: StatusLine | None = None, **changes) -> None:
        self.line = replace(line or self.line, **changes)
        self.refresh()

    def context_text(self) -> str:
        line = self.line
        if line.context_window:  # the unit /status and the session's warnings use too
            return f"ctx {percent_used(line.context_used, line.context_window)}%"
        return f"ctx {human_count(line.context_used)} tok" if line.context_used else "ctx –"

    def render(self) -> Text:
        """Everything that fits; on a narrow line the provider name goes first, then the speed, then the cwd."""
        width = self.content_size.width or 80
        shown = _shown(self.line)
        where = self._line(shown, (), only_where=True)
        choices = ((), ("provider",), ("provider", "speed"))
        lines = [self._line(shown, (*dropped, "where")) for dropped in choices]
        text = next((line for line in lines if width - line.cell_len - 2 >= min(where.cell_len, 12)), None)
        if text is None:  # no room for branch and cwd at all
            text = next((line for line in lines if line.cell_len <= width), lines[-1])
        else:
            room = width - text.cell_len - 2
            if where.cell_len > room:
                branch = f"{shown.branch} · " if shown.branch and len(shown.branch) < room // 2 else ""
                where = Text(branch + "…" + shown.cwd[-(room - len(branch) - 1):], style=where.style)
            text.append(" " * (width - text.cell_len - where.cell_len))
            text.append_text(where)
        text.truncate(width, overflow="ellipsis")
        return text

    def _line(self, line: StatusLine, dropped: tuple[str, ...], only_where: bool = False) -> Text:
        style = self.get_component_rich_style
        muted = style("status--muted")
        where = f"{line.branch} · {line.cwd}" if line.branch else line.cwd
        if only_where:
            return Text(where, style=muted)
        text = Text(no_wrap=True, overflow="ellipsis")
        sep = (" │ ", muted)
        if line.activity:
            room = max(ACTIVITY_MIN_CELLS, (self.content_size.width or 80) // 2)
            activity = line.activity if len(line.activity) <= room else line.activity[: room - 1] + "…"
            text.append(activity, style("status--activity"))
            text.append(*sep)
        text.append(line.model, style("status--model"))
        if line.provider and "provider" not in dropped:
            text.append(f" · {line.provider}", muted)
        text.append(*sep)
        text.append(f"{SANDBOX_LABELS.get(line.sandbox, line.sandbox)} · {line.approval}")
        text.append(*sep)
        full = line.context_window and line.context_used / line.context_window >= 0.8
        text.append(self.context_text(), style("status--warn") if full else "")
        text.append(f" · {human_count(line.tokens)} tok")
        if line.tokens_per_second and "speed" not in dropped:
            text.append(f" · {line.tokens_per_second:.0f} tok/s")
        if "where" not in dropped:
            text.append("  ")
            text.append(where, muted)
        return text
