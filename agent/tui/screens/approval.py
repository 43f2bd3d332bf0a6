"""The approval modal: what the agent wants to do, and the user's answer.

For a command: the command, its working directory, why the core asks, the model's justification and any
danger flags. For an edit: the full diff. The screen returns the decision; the app sends it to the session
(the turn waits until then, so nothing runs before the answer). All of it comes from the model, so every part is
`Text` (never markup) with its control characters shown.
"""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from agent.protocol import ApprovalRequested, Decision
from agent.terminal_text import visible
from agent.tui.widgets.command_cell import readable_command
from agent.tui.widgets.diff_view import DiffView, parse_stats

DECISION_WORDS: dict[str, str] = {
    "approve": "approved",
    "approve_session": "approved for this session",
    "deny": "denied",
    "abort": "denied and stopped the turn",
}


class ApprovalScreen(ModalScreen[Decision]):
    BINDINGS = [
        Binding("y", "decide('approve')", "Approve"),
        Binding("a", "decide('approve_session')", "Approve for session"),
        Binding("n", "decide('deny')", "Deny"),
        Binding("escape", "decide('abort')", "Deny and stop"),
    ]
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; background: $background 60%; }
    ApprovalScreen > #dialog {
        width: 100%;
        max-width: 120;
        height: auto;
        max-height: 90%;
        margin: 0 1;
        padding: 0 1;
        border: thick $warning;
        background: $surface;
    }
    ApprovalScreen #title { text-style: bold; color: $text-warning; padding: 0 0 1 0; }
    ApprovalScreen #details { padding: 0 0 1 0; }
    ApprovalScreen #body { height: auto; max-height: 1fr; border: none; }
    ApprovalScreen #command { padding: 0 0 1 0; }
    ApprovalScreen #keys { color: $text-muted; padding: 1 0 0 0; }
    """

    def __init__(self, request: ApprovalRequested, cwd_label: str = ""):
        super().__init__()
        self.request = request
        self.cwd_label = cwd_label or (request.cwd or "")

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="dialog"):
            if request.kind == "command":
                yield Static("Allow this command?", id="title")
                yield Static(self._command_details(), id="details")
            else:
                yield Static(Text(self._patch_title()), id="title")
                yield Static(Text(f"Why asked: {visible(request.reason)}", style="dim"), id="details")
                with VerticalScroll(id="body"):
                    yield DiffView(request.diff or "")
            yield Static(self._keys(), id="keys")

    def on_mount(self) -> None:
        body = self.query("#body")
        if body:
            body.first().focus()

    def _command_details(self) -> Text:
        request = self.request
        text = Text()
        command = visible(readable_command(request.command or ""))
        text.append_text(Syntax(command, "bash", theme="ansi_dark" if self.app.current_theme.dark
                                else "ansi_light", background_color="default").highlight(f"$ {command}"))
        text.rstrip()
        text.append("\n")
        text.append("in ", "dim")
        text.append(visible(self.cwd_label or ""))
        if request.reason:
            text.append("\nwhy asked: ", "dim")
            text.append(visible(request.reason))
        if request.justification:
            text.append("\nthe model says: ", "dim")
            text.append(visible(request.justification), "italic")
        if request.danger_flags:
            text.append("\n⚠ ", "bold red")
            text.append(visible(", ".join(request.danger_flags)), "bold red")
        return text

    def _patch_title(self) -> str:
        stats = parse_stats(self.request.diff or "")
        files = [f"{s.path} +{s.added} −{s.removed}" for s in stats] or list(self.request.paths)
        return "Apply these edits?  " + visible(", ".join(files))

    def _keys(self) -> Text:
        text = Text()
        for key, label in (("y", "approve"), ("a", "approve for this session"), ("n", "deny"),
                           ("esc", "deny and stop the turn")):
            if len(text):
                text.append("   ")
            text.append(key, "bold")
            text.append(f" {label}")
        return text

    def action_decide(self, decision: Decision) -> None:
        self.dismiss(decision)
