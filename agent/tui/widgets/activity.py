"""The line above the composer while something is under way: a spinner, what is happening, for how long,
and how to stop it. Hidden when idle."""

from __future__ import annotations

import time

from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget

from agent.terminal_text import visible

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ActivityLine(Widget):
    DEFAULT_CSS = """
    ActivityLine {
        height: 1;
        padding: 0 2;
        color: $text-muted;
        display: none;
    }
    ActivityLine.-active { display: block; }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.label = ""
        self.hint = ""
        self._started = 0.0
        self._frame = 0
        self._timer: Timer | None = None

    @property
    def active(self) -> bool:
        return self.has_class("-active")

    def start(self, label: str, hint: str = "esc to interrupt") -> None:
        if not self.active:
            self._started = time.monotonic()
        self.label, self.hint = label, hint
        self.add_class("-active")
        if self._timer is None:
            self._timer = self.set_interval(0.1, self._tick)
        self.refresh()

    def set_label(self, label: str) -> None:
        self.label = label
        self.refresh()

    def stop(self) -> None:
        self.remove_class("-active")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(FRAMES)
        self.refresh()

    def render(self) -> Text:
        elapsed = int(time.monotonic() - self._started)
        text = Text.assemble((FRAMES[self._frame] + " ", "bold"), (visible(self.label), "bold"), f" · {elapsed}s")
        if self.hint:
            text.append(f" · {self.hint}", "dim")
        text.truncate(max(self.content_size.width, 1), overflow="ellipsis")
        return text
