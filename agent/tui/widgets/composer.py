"""Where the user writes: a multi-line prompt with history, paste handling, slash completion and `@` mentions.

Keys: Enter sends; Shift+Enter or Ctrl+J inserts a newline; Up/Down walk the prompt history when the cursor
is on the first/last line (or move the slash-completion highlight); Tab completes a slash command; `@` at
the start of a word asks the app for a file picker, unless more keys follow it at once (a paste, a fast typist).
Menus never take keys meant for the text: the slash menu is brought up to date before any key acts on it. A
large paste is kept out of the editor as a short placeholder and expanded again when the prompt is sent. The
composer only posts messages; what a prompt or a command does is the app's business.
"""

from __future__ import annotations

import re

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import TextArea

from agent.tui import slash_commands
from agent.tui.widgets.slash_completions import SlashCompletions

LARGE_PASTE_CHARS = 1000
MENTION_AFTER_S = 0.05  # an "@" followed by no other key for this long opens the file picker
LARGE_PASTE_LINES = 15
_PLACEHOLDER = re.compile(r"\[Pasted text #(\d+), \d+ lines?\]")


SEND_KEYS = ("enter",)
NEWLINE_KEYS = ("shift+enter", "ctrl+j", "newline", "alt+enter")


class PromptInput(TextArea):
    """The editor part of the composer; hands special keys to its `Composer`."""

    BINDINGS = [
        Binding("enter", "submit", "Send"),
        Binding("shift+enter,ctrl+j,alt+enter", "newline", "Newline"),
    ]

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 1;
        max-height: 12;
        border: none;
        padding: 0;
        background: transparent;
    }
    PromptInput:focus { border: none; }
    PromptInput > .text-area--cursor-line { background: transparent; }
    """

    # Textual calls these before TextArea's own handlers (which run unless we prevent_default).

    async def _on_key(self, event: events.Key) -> None:
        composer = self.parent
        if isinstance(composer, Composer) and composer.own_key(event):
            event.stop()
            event.prevent_default()
        elif event.key in SEND_KEYS or event.key in NEWLINE_KEYS:
            event.prevent_default()  # not TextArea's newline: our bindings act on these keys

    def action_submit(self) -> None:
        composer = self.parent
        if isinstance(composer, Composer):
            composer.submit()

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_paste(self, event: events.Paste) -> None:
        composer = self.parent
        text = event.text.replace("\r\n", "\n").replace("\r", "\n")
        if isinstance(composer, Composer) and composer.is_large(text):
            event.stop()
            event.prevent_default()
            composer.insert_paste(text)
        elif text != event.text:
            event.stop()
            event.prevent_default()
            self.insert(text)


class Composer(Vertical):
    DEFAULT_CSS = """
    Composer {
        height: auto;
        padding: 0 1;
        border: round $primary 50%;
        border-title-color: $text-muted;
    }
    Composer:focus-within { border: round $primary; }
    Composer.-busy { border: round $secondary 60%; }
    """
    PLACEHOLDER = "Ask Codex to do anything   (/ commands · @ files · Shift+Enter newline)"

    class Submitted(Message):
        """The user sent the prompt (placeholders already expanded)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class MentionRequested(Message):
        """The user typed `@` at the start of a word (or ran /mention): show the file picker."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._history_at: int | None = None  # index into history while browsing
        self._draft = ""
        self._pastes: dict[int, str] = {}
        self._completion_dismissed = False
        self._completions_for = ""  # the text the menu was last made for
        self._mention_text: str | None = None  # the text before an "@" that may open the file picker

    def compose(self) -> ComposeResult:
        yield SlashCompletions()
        yield PromptInput(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", compact=True,
                          highlight_cursor_line=False, placeholder=self.PLACEHOLDER)

    @property
    def input(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def completions(self) -> SlashCompletions:
        return self.query_one(SlashCompletions)

    @property
    def text(self) -> str:
        return self.input.text

    def focus_input(self) -> None:
        self.input.focus()

    # --- editing -----------------------------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        self.input.load_text(text)
        self.input.move_cursor(self.input.document.end)

    def insert_text(self, text: str) -> None:
        self.input.insert(text)
        self.input.focus()

    def clear(self) -> None:
        self.input.load_text("")
        self._pastes.clear()
        self._history_at = None
        self.completions.hide()

    def is_large(self, text: str) -> bool:
        return len(text) > LARGE_PASTE_CHARS or text.count("\n") >= LARGE_PASTE_LINES

    def insert_paste(self, text: str) -> None:
        number = len(self._pastes) + 1
        self._pastes[number] = text
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        self.input.insert(f"[Pasted text #{number}, {lines} line{'s' if lines != 1 else ''}]")

    def expanded_text(self) -> str:
        return _PLACEHOLDER.sub(lambda m: self._pastes.get(int(m.group(1)), m.group(0)), self.text)

    # --- history -------------------------------------------------------------------------------------------

    def set_history(self, entries: list[str]) -> None:
        self.history = list(entries)
        self._history_at = None

    def _recall(self, step: int) -> bool:
        if not self.history:
            return False
        if self._history_at is None:
            if step > 0:
                return False
            self._draft = self.text
            at = len(self.history) - 1
        else:
            at = self._history_at + step
        if at >= len(self.history):
            self._history_at = None
            self.set_text(self._draft)
            return True
        self._history_at = max(at, 0)
        self.set_text(self.history[self._history_at])
        return True

    # --- keys ------------------------------------------------------------------------------------------

    def own_key(self, event: events.Key) -> bool:
        """Handle the composer's own keys; False lets the editor (and then the app's bindings) have the key."""
        key, area = event.key, self.input
        completions = self.completions
        self._sync_completions()  # keys typed or pasted in a burst arrive before the menu's own update
        if completions.visible:
            if key in ("up", "down"):
                completions.move(-1 if key == "up" else 1)
                return True
            if key == "tab" and completions.chosen:
                self.set_text(f"/{completions.chosen} ")
                return True
            if key == "enter" and completions.chosen:
                name = completions.chosen
                typed = self.text.strip()
                self.clear()
                self.post_message(self.Submitted(typed if typed == f"/{name}" else f"/{name}"))
                return True
            if key == "escape":
                self._completion_dismissed = True
                completions.hide()
                return True
        browsing = self._history_at is not None and self.text == self.history[self._history_at]
        if key == "up" and (browsing or (area.cursor_at_first_line and not self.text)):
            return self._recall(-1)
        if key == "down" and browsing:
            return self._recall(1)
        if event.character == "@" and self._at_word_start():
            # The "@" goes in like any character; the picker opens only if nothing follows it at once, so a
            # burst ("see @README.md", pasted or typed fast) is never sent into the picker.
            self._mention_text = self.text  # what the editor holds before the "@" lands
            self.set_timer(MENTION_AFTER_S, self._open_mention)
        return False

    def _open_mention(self) -> None:
        row, column = self.input.cursor_location
        typed_alone = column > 0 and self.input.document[row][column - 1] == "@"
        if self._mention_text is None or not typed_alone or len(self.text) != len(self._mention_text) + 1:
            self._mention_text = None
            return
        self._mention_text = None
        self.input.action_delete_left()  # the picker puts the path (or, when cancelled, the "@") back
        self.post_message(self.MentionRequested())

    def _at_word_start(self) -> bool:
        row, column = self.input.cursor_location
        line = self.input.document[row]
        return column == 0 or line[column - 1].isspace()

    def submit(self) -> None:
        text = self.expanded_text()
        if not text.strip():
            return
        if text.strip() not in self.history[-1:]:
            self.history.append(text.strip())
        self.clear()
        self.post_message(self.Submitted(text.strip()))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._sync_completions()

    def _sync_completions(self) -> None:
        """Make the menu match the text now. `TextArea.Changed` reaches the composer only after the editor has
        handled every key already queued, so a burst (`/status` + Enter, pasted or typed fast) would otherwise
        meet a menu still showing what matched `/`, and Enter would run its first entry."""
        text = self.text
        if text == self._completions_for:
            return
        self._completions_for = text
        matches = slash_commands.complete(text) if "\n" not in text else []
        if not text:
            self._completion_dismissed = False
        if matches and not self._completion_dismissed:
            self.completions.show_commands(matches)
        else:
            self.completions.hide()
