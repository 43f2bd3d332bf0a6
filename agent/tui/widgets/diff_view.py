"""A unified diff as the user reads it: per file a header with +/− counts, then each hunk with line numbers,
syntax-highlighted code and added/removed lines tinted. Parsed with unidiff; text that does not parse is
shown with plain +/− colouring instead of failing. Control characters in it (a file's own ESC bytes) are shown
escaped, never sent to the terminal. Used by the transcript's diff cells, the approval modal and /diff.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.widget import Widget
from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from agent.terminal_text import visible

MAX_LINES = 4000  # beyond this a diff is cut (with a note), so /diff of a huge change stays responsive


@dataclass(frozen=True)
class FileStat:
    path: str
    added: int
    removed: int
    kind: str  # "add", "delete", "update", "rename"


def parse_stats(diff: str) -> list[FileStat]:
    """Per-file +/− counts of a unified diff ([] when it does not parse)."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return []
    return [FileStat(_path(f), f.added, f.removed, _kind(f)) for f in patch]


def _path(file: PatchedFile) -> str:
    path = file.path
    return path[2:] if path.startswith(("a/", "b/")) else path


def _kind(file: PatchedFile) -> str:
    if file.is_added_file:
        return "add"
    if file.is_removed_file:
        return "delete"
    if file.is_rename:
        return "rename"
    return "update"


class DiffView(Widget):
    """Renders one unified diff (any number of files)."""

    COMPONENT_CLASSES = {
        "diff--file", "diff--added", "diff--removed", "diff--added-sign", "diff--removed-sign", "diff--hunk",
        "diff--gutter", "diff--note",
    }
    DEFAULT_CSS = """
    DiffView {
        height: auto;
        width: 1fr;
    }
    DiffView > .diff--file { text-style: bold; color: $text; }
    DiffView > .diff--added { background: $success 15%; }
    DiffView > .diff--removed { background: $error 15%; }
    DiffView > .diff--added-sign { color: $text-success; text-style: bold; }
    DiffView > .diff--removed-sign { color: $text-error; text-style: bold; }
    DiffView > .diff--hunk { color: $text-accent; }
    DiffView > .diff--gutter { color: $text-muted; }
    DiffView > .diff--note { color: $text-muted; text-style: italic; }
    """

    def __init__(self, diff: str, *, show_file_headers: bool = True, name: str | None = None,
                 id: str | None = None, classes: str | None = None):
        super().__init__(name=name, id=id, classes=classes)
        self.diff = diff
        self.show_file_headers = show_file_headers
        self._cache: tuple[str, RenderableType] | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _theme: self._invalidate(), init=False)

    def _invalidate(self) -> None:
        self._cache = None
        self.refresh(layout=True)

    def set_diff(self, diff: str) -> None:
        self.diff = diff
        self._invalidate()

    def render(self) -> RenderableType:
        theme = self.app.theme
        if self._cache is None or self._cache[0] != theme:
            self._cache = (theme, self._build())
        return self._cache[1]

    # --- building ---------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _build(self) -> RenderableType:
        if not self.diff.strip():
            return Text("(no changes)", style=self._style("diff--note"))
        try:
            patch = PatchSet(visible(self.diff))
        except UnidiffParseError:
            return self._plain()
        if not len(patch):
            return self._plain()
        dark = self.app.current_theme.dark
        parts: list[RenderableType] = []
        budget = MAX_LINES
        for file in patch:
            if self.show_file_headers:
                parts.append(self._file_header(file))
            table, budget = self._file_table(file, budget, dark)
            parts.append(table)
            if budget <= 0:
                parts.append(Text(f"… diff cut after {MAX_LINES} lines", style=self._style("diff--note")))
                break
        return Group(*parts)

    def _file_header(self, file: PatchedFile) -> Text:
        labels = {"add": "added", "delete": "deleted", "rename": "renamed", "update": ""}
        header = Text(_path(file), style=self._style("diff--file"))
        header.append(f"  +{file.added}", style=self._style("diff--added-sign"))
        header.append(f" −{file.removed}", style=self._style("diff--removed-sign"))
        if label := labels[_kind(file)]:
            header.append(f"  {label}", style=self._style("diff--note"))
        return header

    def _file_table(self, file: PatchedFile, budget: int, dark: bool) -> tuple[Table, int]:
        numbers = [line.target_line_no or line.source_line_no or 0 for hunk in file for line in hunk]
        gutter_width = max((len(str(n)) for n in numbers), default=1)
        table = Table.grid(expand=True)
        table.add_column(width=gutter_width, justify="right", no_wrap=True)
        table.add_column(width=3, no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        syntax = Syntax("", Syntax.guess_lexer(_path(file)), theme="ansi_dark" if dark else "ansi_light",
                        background_color="default")
        gutter, added, removed = self._style("diff--gutter"), self._style("diff--added"), self._style("diff--removed")
        added_sign, removed_sign = self._style("diff--added-sign"), self._style("diff--removed-sign")
        for index, hunk in enumerate(file):
            if budget <= 0:
                break
            if index:
                table.add_row("", "", Text("⋮", style=self._style("diff--hunk")))
            new_side = _highlight(syntax, [line.value for line in hunk if not line.is_removed])
            old_side = _highlight(syntax, [line.value for line in hunk if not line.is_added])
            new_at = old_at = 0
            for line in hunk:
                if budget <= 0:
                    break
                budget -= 1
                if line.is_added:
                    code, new_at = new_side[new_at], new_at + 1
                    table.add_row(Text(str(line.target_line_no), gutter), Text(" + ", added_sign), code, style=added)
                elif line.is_removed:
                    code, old_at = old_side[old_at], old_at + 1
                    table.add_row(Text(str(line.source_line_no), gutter), Text(" - ", removed_sign), code,
                                  style=removed)
                else:
                    code, new_at, old_at = new_side[new_at], new_at + 1, old_at + 1
                    table.add_row(Text(str(line.target_line_no or ""), gutter), Text("   "), code)
        if file.is_binary_file or (not len(file) and file.is_rename):
            note = "binary file" if file.is_binary_file else f"renamed from {file.source_file}"
            table.add_row("", "", Text(note, style=self._style("diff--note")))
        return table, budget

    def _plain(self) -> Text:
        text = Text()
        for line in visible(self.diff).splitlines()[:MAX_LINES]:
            if line.startswith("+") and not line.startswith("+++"):
                text.append(line + "\n", style=self._style("diff--added-sign"))
            elif line.startswith("-") and not line.startswith("---"):
                text.append(line + "\n", style=self._style("diff--removed-sign"))
            elif line.startswith("@@"):
                text.append(line + "\n", style=self._style("diff--hunk"))
            else:
                text.append(line + "\n")
        return text


def _highlight(syntax: Syntax, lines: list[str]) -> list[Text]:
    """Highlight the lines as one piece of code (so strings and comments spanning lines stay right)."""
    code = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    text = syntax.highlight(code)
    text.style = ""
    rows = text.split("\n", allow_blank=True)
    while len(rows) < len(lines):
        rows.append(Text(""))
    for row in rows:
        row.expand_tabs(4)
    return rows[: len(lines)]
