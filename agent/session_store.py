"""Everything a session persists, behind one object the session calls as things happen:
the rollout file (every event and history message), the undo log (snapshots before edits),
and the prompt history used by the composer.

`ephemeral` sessions write no rollout; their undo backups live in a temporary directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent import rollout
from agent.config import Config
from agent.history import PromptHistory
from agent.models.base import Message
from agent.protocol import Event
from agent.undo import UndoLog


@dataclass
class SessionStore:
    thread_id: str
    session_dir: Path
    writer: rollout.RolloutWriter | None
    undo: UndoLog
    prompts: PromptHistory

    @classmethod
    def create(cls, config: Config, thread_id: str, ephemeral: bool = False) -> SessionStore:
        writer = None
        if ephemeral:
            session_dir = Path(tempfile.mkdtemp(prefix=f"codex-{thread_id[:8]}-"))
        else:
            writer = rollout.RolloutWriter(config.codex_home, rollout.new_session_meta(thread_id, config))
            session_dir = session_dir_for(writer.path)
        return cls(thread_id, session_dir, writer, UndoLog(config.cwd, session_dir, thread_id),
                   PromptHistory(config.codex_home, config.history_persistence,
                                 config.history_max_bytes))

    @classmethod
    def reopen(cls, config: Config, loaded: rollout.LoadedRollout) -> SessionStore:
        """Continue a thread: append to its rollout and keep its undo log."""
        session_dir = session_dir_for(loaded.path)
        thread_id = loaded.meta.id
        return cls(thread_id, session_dir, rollout.RolloutWriter.append_to(loaded.path),
                   UndoLog.load(config.cwd, session_dir, thread_id),
                   PromptHistory(config.codex_home, config.history_persistence,
                                 config.history_max_bytes))

    def event(self, event: Event) -> None:
        if self.writer:
            self.writer.event(event)

    def message(self, message: Message) -> None:
        if self.writer:
            self.writer.message(message)

    def prompt(self, text: str) -> None:
        if self.writer:
            self.writer.user_prompt(text)
        self.prompts.append(self.thread_id, text)

    def compacted(self, history: Sequence[Message], summary: str) -> None:
        if self.writer:
            self.writer.compacted(history, summary)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


def session_dir_for(rollout_path: Path) -> Path:
    """Per-session files (undo log, backups) live beside the rollout: rollout-….jsonl → rollout-…/."""
    return rollout_path.with_suffix("")


def undo_last_session(config: Config) -> list[Path]:
    """`codex undo`: revert the last turn's edits of the newest session in this directory."""
    from agent.errors import UserError

    path = rollout.latest_for_cwd(config.codex_home, config.cwd)
    if path is None:
        raise UserError(
            f"Nothing to undo: no session was recorded for {config.cwd} under {config.codex_home / 'sessions'}."
        )
    meta = rollout.load_rollout(path).meta
    return UndoLog.load(config.cwd, session_dir_for(path), meta.id).undo_last()
