"""How `codex exec` shows the event stream: JSONL on stdout (`--json`), or one plain line per
step on stderr with the final message alone on stdout.

A wait for a silent model server is one line redrawn in place on a terminal ("waiting for the model
(N s)"), and on a log (a pipe, a CI job) a line at 2, 4, 8, … seconds, so a hung server is visible
without flooding the log.

Text from outside (a model's message, a command, a tool's name, a server's error) reaches a terminal with its
control characters shown, not obeyed (`agent/terminal_text.py`): every stderr line, and the final message when
stdout is a terminal. When stdout is a pipe or a file the final message is written byte for byte, since that is
the answer a script reads (`codex exec … > answer.md`). `--json` is JSON: control characters are `\\u` escapes
there, which decode to the exact text.

Renderers only format events; they never change what the session does.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TextIO

from agent.protocol import (
    DISPLAY_ONLY,
    AgentMessage,
    ApprovalRequested,
    CommandExecution,
    ErrorItem,
    Event,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    McpToolCall,
    ModelWaiting,
    Reasoning,
    Status,
    ThreadStarted,
    TodoList,
    TurnCompleted,
    TurnFailed,
    Warning,
    event_to_json,
)
from agent.terminal_text import BIDI_CONTROLS, visible

STYLES = {"dim": "2", "bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "magenta": "35"}
KIND_LETTER = {"add": "A", "update": "M", "delete": "D"}
# json.dumps escapes U+0000-U+001F itself; these it leaves raw with ensure_ascii=False (DEL, C1, bidi controls)
JSON_ESCAPES = {cp: f"\\u{cp:04x}" for cp in [0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS]}


def use_color(choice: str, stream: TextIO, env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    if choice == "always":
        return True
    if choice == "never" or env.get("NO_COLOR"):
        return False
    return stream.isatty()


class WaitLog:
    """When a log shows a wait: at its first report, then each time the wait has doubled; a new wait starts over."""

    def __init__(self) -> None:
        self._next = 0

    def due(self, event: ModelWaiting) -> bool:
        if event.seconds <= 0:
            self._next = 0
            return False
        if event.seconds < self._next:
            return False
        self._next = event.seconds * 2
        return True


class JsonRenderer:
    """`--json`: every event except live deltas, one JSON object per line, nothing else on stdout.

    As Codex 0.163 does: a warning is also an `error` item (`item.completed`), those raised before the thread
    started follow its `thread.started` line; a failed turn's message comes first as a top-level `error` event,
    then `turn.failed`."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out, self.err = out, err
        self._waits = WaitLog()
        self._started = False
        self._pending: list[Warning] = []  # warnings raised before thread.started
        self._warnings = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, ModelWaiting):
            if self._waits.due(event):
                print(f"status: {visible(event.message)}", file=self.err, flush=True)
        elif isinstance(event, Warning | Status):
            print(f"{event.type}: {visible(event.message)}", file=self.err, flush=True)
        if isinstance(event, Warning):
            self._warning(event)
        if isinstance(event, DISPLAY_ONLY):
            return
        if isinstance(event, TurnFailed):
            self._write({"type": "error", "message": event.message})
        self._write(event_to_json(event))
        if isinstance(event, ThreadStarted):
            self._started = True
            for warning in self._pending:
                self._warning(warning)
            self._pending = []

    def _warning(self, warning: Warning) -> None:
        if not self._started:
            self._pending.append(warning)
            return
        self._warnings += 1
        self._write(event_to_json(ItemCompleted(ErrorItem(f"warning_{self._warnings}", warning.message))))

    def _write(self, body: dict) -> None:
        self.out.write(json.dumps(body, ensure_ascii=False).translate(JSON_ESCAPES) + "\n")
        self.out.flush()

    def fatal(self, message: str) -> None:
        self.out.write(json.dumps({"type": "error", "message": message}) + "\n")
        self.out.flush()


class HumanRenderer:
    """Progress on stderr, one line per step; the turn's final message goes to stdout at the end.

    An agent message is held back until the next event shows whether it was the final one,
    so the final answer is printed once (stdout) and intermediate ones go to stderr. Outside text on stderr is
    always shown with its control characters escaped; the final message only when stdout is a terminal.
    """

    def __init__(self, color: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr, live: bool | None = None,
                 escape_final: bool | None = None):
        self.color, self.out, self.err = color, out, err
        self.live = _isatty(err) if live is None else live  # redraw the waiting line in place
        self.escape_final = _isatty(out) if escape_final is None else escape_final
        self._held: str | None = None
        self._waits = WaitLog()
        self._live_line = False
        self._denied: list[str] = []  # what needed an approval nobody could give, for the summary at the end

    def __call__(self, event: Event) -> None:
        if isinstance(event, DISPLAY_ONLY) and not isinstance(event, Warning | Status | ApprovalRequested):
            return
        if self._held is not None and _starts_a_step(event):
            self._line("codex", self._held, "magenta")
            self._held = None
        match event:
            case ModelWaiting():
                self._wait(event)
            case Warning(message=message):
                self._line("warning", message, "yellow")
            case Status(message=message):
                self._line("model", message, "dim")
            case ApprovalRequested(reason=reason, command=command, paths=paths):
                target = command or ", ".join(os.path.relpath(p) for p in paths)
                self._denied.append(target if command else f"edit of {target}")
                self._line("approval", f"{target}: {reason}; denied, codex exec cannot ask "
                           "(choose a policy with -a / -s, e.g. --full-auto)", "yellow")
            case ItemCompleted(item=AgentMessage(text=text)):
                self._held = text
            case ItemStarted(item=item) | ItemUpdated(item=item) | ItemCompleted(item=item):
                self._item(event, item)
            case TurnCompleted():
                self._final(self._held)
                self._summarise_denied()
                self._line("done", _usage_line(event), "dim")
            case TurnFailed(message=message):
                if self._held:
                    self._line("codex", self._held, "magenta")
                self._summarise_denied()
                self._line("error", message, "red")

    def fatal(self, message: str) -> None:
        """The one error style of every codex command: `error: <sentence>` (colored when color is on)."""
        self._clear_live_line()
        label = f"\x1b[{STYLES['bold']};{STYLES['red']}merror:\x1b[0m" if self.color else "error:"
        print(f"{label} {visible(message)}", file=self.err, flush=True)

    def header(self, lines: list[tuple[str, str]]) -> None:
        for label, value in lines:
            self._line(label, value, "dim")

    def _item(self, event: Event, item: object) -> None:
        completed = isinstance(event, ItemCompleted)
        match item:
            case CommandExecution() if completed:
                self._line("exec", _command_line(item), "green" if item.status == "completed" else "red")
            case FileChangeItem() if completed:
                self._line("patch", _patch_line(item), "green" if item.status == "completed" else "red")
            case McpToolCall() if completed:
                self._line("mcp", _mcp_line(item), "green" if item.status == "completed" else "red")
            case TodoList():
                marks = "  ".join(f"[{'x' if e.completed else ' '}] {e.text}" for e in item.items)
                self._line("plan", marks, "cyan")
            case Reasoning(text=text) if completed:
                self._line("thinking", text.strip().splitlines()[0] if text.strip() else "", "dim")
            case ErrorItem(message=message):
                self._line("error", message, "red")

    def _final(self, text: str | None) -> None:
        self._held = None
        self._clear_live_line()
        if text:
            text = visible(text) if self.escape_final else text
            self.out.write(text if text.endswith("\n") else text + "\n")
            self.out.flush()

    def _wait(self, event: ModelWaiting) -> None:
        if not self.live:
            if self._waits.due(event):
                self._line("model", event.message, "dim")
            return
        self._clear_live_line()
        if event.seconds > 0:
            self.err.write(self._label("model", "dim") + " " + visible(event.message))
            self.err.flush()
            self._live_line = True

    def _summarise_denied(self) -> None:
        if not self._denied:
            return
        count = len(self._denied)
        shown = "; ".join(self._denied[:5]) + ("; …" if count > 5 else "")
        self._line("declined", f"{count} action{'s' if count != 1 else ''} needed an approval that codex exec "
                   f"cannot ask for, and did not run: {shown}. To allow them, rerun with --full-auto or "
                   "-a never, or use the TUI.", "yellow")
        self._denied = []

    def _clear_live_line(self) -> None:
        if self._live_line:
            self.err.write("\r\x1b[2K")
            self.err.flush()
            self._live_line = False

    def _label(self, label: str, style: str) -> str:
        label = f"{label:<8}"
        return f"\x1b[{STYLES['bold']};{STYLES[style]}m{label}\x1b[0m" if self.color else label

    def _line(self, label: str, text: str, style: str) -> None:
        self._clear_live_line()
        print(f"{self._label(label, style)} {visible(text)}", file=self.err, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _starts_a_step(event: Event) -> bool:
    """True when an agent message held before this event was not the turn's final one."""
    if isinstance(event, ItemStarted):
        return True
    return isinstance(event, ItemCompleted) and not isinstance(event.item, TodoList)


def _command_line(item: CommandExecution) -> str:
    if item.status == "declined":
        return f"{item.command}  declined: {item.reason}"
    seconds = (item.duration_ms or 0) / 1000
    return f"{item.command}  exit {item.exit_code}  {seconds:.1f}s"


def _patch_line(item: FileChangeItem) -> str:
    files = ", ".join(f"{KIND_LETTER[c.kind]} {os.path.relpath(c.path)}" for c in item.changes) or "(no files)"
    if item.status == "completed":
        return files
    return f"{files}  {item.status}: {item.error}"


def _mcp_line(item: McpToolCall) -> str:
    seconds = (item.duration_ms or 0) / 1000
    call = f"{item.server}.{item.tool}({json.dumps(item.arguments, ensure_ascii=False)})"
    if item.error is not None:
        return f"{call}  failed: {item.error.message}"
    return f"{call}  {item.status}  {seconds:.1f}s"


def _usage_line(event: TurnCompleted) -> str:
    usage = event.usage
    parts = [f"tokens in {usage.input_tokens} (cached {usage.cached_input_tokens}), out {usage.output_tokens}"]
    if event.tokens_per_second:
        parts.append(f"{event.tokens_per_second:.1f} tok/s")
    parts.append(f"{event.duration_ms / 1000:.1f}s")
    return " · ".join(parts)
