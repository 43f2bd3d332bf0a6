"""One command the agent ran: the command, its working directory, a live tail of its output, then the exit
code and duration. Collapsed it shows the last few lines; expanded (click, or Enter when focused) the last
`KEPT_LINES` lines. Only a tail of the output is ever kept, so a command printing thousands of lines costs
the same as one printing ten.
"""

from __future__ import annotations

import re
import shlex

from rich.console import Group, RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from agent.protocol import CommandExecution
from agent.terminal_text import visible

KEPT_CHARS = 64 * 1024
KEPT_LINES = 500
RUNNING_LINES = 5
COLLAPSED_LINES = 3
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)")


def clean_output(text: str) -> list[str]:
    """Lines as a terminal would leave them: escape sequences dropped, carriage-return overwrites applied (a CRLF
    line end is a line end); any control character left after that is shown escaped, never sent on."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return [visible(line.rsplit("\r", 1)[-1] if "\r" in line else line) for line in text.split("\n")]


SHELLS = {"bash", "sh", "zsh", "dash"}


def readable_command(command: str) -> str:
    """The command as a person would type it: the script of `bash -lc SCRIPT` as is, not shell-quoted
    (`echo 'hi'` rather than `bash -lc 'echo '"'"'hi'"'"''`); anything else unchanged."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    if len(argv) == 3 and argv[0].rsplit("/", 1)[-1] in SHELLS and argv[1] in ("-c", "-lc", "-cl"):
        return argv[2]
    return command


def format_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m {int(seconds % 60):02d}s"


class CommandCell(Widget, can_focus=True):
    BINDINGS = [Binding("enter,space", "toggle", "Expand output", show=False)]
    COMPONENT_CLASSES = {"command--icon-running", "command--icon-ok", "command--icon-failed", "command--command",
                         "command--meta", "command--output", "command--more"}
    DEFAULT_CSS = """
    CommandCell {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
    }
    CommandCell:focus { background: $boost; }
    CommandCell > .command--icon-running { color: $text-accent; text-style: bold; }
    CommandCell > .command--icon-ok { color: $text-success; text-style: bold; }
    CommandCell > .command--icon-failed { color: $text-error; text-style: bold; }
    CommandCell > .command--command { text-style: bold; }
    CommandCell > .command--meta { color: $text-muted; }
    CommandCell > .command--output { color: $text-muted; }
    CommandCell > .command--more { color: $text-muted; text-style: italic; }
    """

    expanded: reactive[bool] = reactive(False, layout=True)

    def __init__(self, item: CommandExecution, cwd_label: str, **kwargs):
        super().__init__(**kwargs)
        self.item_id = item.id
        self.command = readable_command(item.command)
        self.cwd_label = cwd_label
        self.status = item.status
        self.exit_code: int | None = None
        self.duration_ms: int | None = None
        self.reason: str | None = None
        self.output = ""  # a tail of the output, at most KEPT_CHARS

    # --- updates from the app ----------------------------------------------------------------------

    def append_output(self, chunk: str) -> None:
        self.output = (self.output + chunk)[-KEPT_CHARS:]
        self.refresh(layout=True)

    def finish(self, item: CommandExecution) -> None:
        self.status = item.status
        self.exit_code = item.exit_code
        self.duration_ms = item.duration_ms
        self.reason = item.reason
        if item.aggregated_output:
            self.output = item.aggregated_output[-KEPT_CHARS:]
        self.refresh(layout=True)

    @property
    def running(self) -> bool:
        return self.status == "in_progress"

    # --- interaction --------------------------------------------------------------------------------

    def action_toggle(self) -> None:
        self.expanded = not self.expanded

    def on_click(self) -> None:
        self.action_toggle()

    # --- rendering ----------------------------------------------------------------------------------

    def _lines(self) -> list[str]:
        lines = clean_output(self.output)
        if lines and lines[-1] == "":
            lines.pop()
        return lines[-KEPT_LINES:]

    def render(self) -> RenderableType:
        style = self.get_component_rich_style
        icon, icon_style = {
            "in_progress": ("⠿", "command--icon-running"),
            "completed": ("✓", "command--icon-ok"),
            "failed": ("✗", "command--icon-failed"),
            "declined": ("⊘", "command--icon-failed"),
        }[self.status]
        header = Text.assemble((icon + " ", style(icon_style)), ("$ ", style("command--meta")),
                               (visible(self.command), style("command--command")))
        meta = [f"in {visible(self.cwd_label)}"]
        if self.running:
            meta.append("running…")
        elif self.status == "declined":
            meta.append("not run" + (f": {visible(self.reason)}" if self.reason else ""))
        else:
            if self.exit_code is not None:
                meta.append(f"exit {self.exit_code}")
            if self.duration_ms is not None:
                meta.append(format_duration(self.duration_ms))
        parts: list[RenderableType] = [header, Text("  " + " · ".join(meta), style=style("command--meta"))]
        lines = self._lines()
        shown = lines if self.expanded else lines[-(RUNNING_LINES if self.running else COLLAPSED_LINES):]
        hidden = len(lines) - len(shown)
        if hidden > 0:
            parts.append(Text(f"  … {hidden} more lines (click or Enter to expand)", style=style("command--more")))
        output_style = style("command--output")
        parts.extend(Text("  │ " + line, style=output_style, overflow="ellipsis", no_wrap=True) for line in shown)
        return Group(*parts)
