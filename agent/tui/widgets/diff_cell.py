"""One edit the agent made (an apply_patch call): a header with the files and their +/− counts, then the
syntax-highlighted diff. Click the header (or Enter when focused) to fold the diff away."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from agent.protocol import FileChangeItem
from agent.terminal_text import visible
from agent.tui.widgets.diff_view import DiffView, parse_stats

KIND_WORDS = {"add": "Added", "delete": "Deleted", "update": "Edited"}


class DiffCell(Vertical, can_focus=True):
    BINDINGS = [Binding("enter,space", "toggle", "Fold diff", show=False)]
    DEFAULT_CSS = """
    DiffCell {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
    }
    DiffCell:focus { background: $boost; }
    DiffCell > .diff-cell--header { color: $text; }
    DiffCell.-failed > .diff-cell--header { color: $text-error; }
    DiffCell > DiffView { margin: 0 0 0 2; }
    DiffCell.-folded > DiffView { display: none; }
    """

    def __init__(self, item: FileChangeItem, cwd_label=lambda path: path, **kwargs):
        super().__init__(**kwargs)
        self.item_id = item.id
        self.item = item
        self.diff: str | None = None
        self._label = cwd_label
        self._header = Static(classes="diff-cell--header")
        self._view: DiffView | None = None

    def compose(self) -> ComposeResult:
        yield self._header

    def on_mount(self) -> None:
        self._render_header()

    def finish(self, item: FileChangeItem, diff: str | None) -> None:
        self.item = item
        self.set_class(item.status in ("failed", "declined"), "-failed")
        if diff and item.status == "completed":
            self.diff = diff
            if self._view is None:
                self._view = DiffView(diff, show_file_headers=len(parse_stats(diff)) > 1)
                self.mount(self._view)
            else:
                self._view.set_diff(diff)
        self._render_header()

    def _render_header(self) -> None:
        item = self.item
        stats = {stat.path: stat for stat in parse_stats(self.diff)} if self.diff else {}
        header = Text()
        icon = {"in_progress": "✎", "completed": "✎", "failed": "✗", "declined": "⊘"}[item.status]
        header.append(f"{icon} ", style="bold")
        if item.status == "in_progress":
            header.append("Editing ", style="bold")
        elif item.status == "failed":
            header.append("Edit failed ", style="bold")
        elif item.status == "declined":
            header.append("Edit not applied ", style="bold")
        for index, change in enumerate(item.changes):
            if index:
                header.append(", ")
            name = self._label(change.path)
            if item.status == "completed":
                header.append(f"{KIND_WORDS.get(change.kind, 'Edited')} ", style="bold")
            header.append(visible(name))
            stat = stats.get(name)
            if stat:
                header.append(f" +{stat.added}", style="bold green")
                header.append(f" −{stat.removed}", style="bold red")
        if item.error:
            header.append(f"\n  {visible(item.error)}", style="italic")
        self._header.update(header)

    def action_toggle(self) -> None:
        self.toggle_class("-folded")

    def on_click(self) -> None:
        self.action_toggle()
