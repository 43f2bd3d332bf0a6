"""The `notify` setting: run the user's program after each completed turn, as Codex does.

Codex appends one JSON argument, its `agent-turn-complete` notification, to the configured argv:

    {"type": "agent-turn-complete", "thread-id": "...", "turn-id": "...", "cwd": "...", "client": "...",
     "input-messages": ["<the prompt>"], "last-assistant-message": "<the final answer>" | null}

The program runs outside the sandbox with the session's environment, its stdin and stdout detached, and is not
waited for (a slow notifier never delays the next turn); a thread reaps it. A program that cannot be started is
reported with one sentence naming the `notify` setting.

This module does not decide when a turn is complete (the session calls it) and does not show desktop
notifications itself.
"""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from agent.errors import UserError


class NotifyError(UserError):
    """The notify program could not be started; the session shows it as a warning and carries on."""


@dataclass(frozen=True)
class TurnComplete:
    """What Codex's `agent-turn-complete` notification says about one turn."""

    thread_id: str
    turn_id: str
    cwd: Path
    input_messages: tuple[str, ...]
    last_assistant_message: str | None
    client: str = "codex_exec"

    def to_json(self) -> str:
        return json.dumps({
            "type": "agent-turn-complete",
            "thread-id": self.thread_id,
            "turn-id": self.turn_id,
            "cwd": str(self.cwd),
            "client": self.client,
            "input-messages": list(self.input_messages),
            "last-assistant-message": self.last_assistant_message,
        }, ensure_ascii=False, separators=(",", ":"))


def run_notify(argv: tuple[str, ...], notification: TurnComplete) -> subprocess.Popen[bytes] | None:
    """Start argv + [the notification's JSON] without waiting for it; None when notify is not configured."""
    if not argv:
        return None
    try:
        process = subprocess.Popen([*argv, notification.to_json()], cwd=notification.cwd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise NotifyError(f"notify program {argv[0]!r} could not be started ({exc.strerror or exc}); fix the "
                          "`notify` setting in config.toml or remove it") from None
    threading.Thread(target=process.wait, name="notify-reaper", daemon=True).start()
    return process
