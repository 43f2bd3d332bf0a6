"""Everything a session keeps of a thread, behind the one object the turn loop calls as things happen.

The recorder redacts first (secrets never reach the model, the rollout, the audit log or a front end), then
persists: the rollout, the undo log and the prompt history through a `SessionStore`, the tamper-evident audit
log through an `AuditLog`. Either may be absent (`--ephemeral`, `audit.enabled = false`, tests): the loop
does not ask, the recorder does. `Recorder.null()` keeps nothing and only redacts, for tests and throwaway
sessions.

What it does not do: decide anything. Policy is agent/safety's; what to record is the loop's call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from agent.audit import AuditLog
from agent.config import Config
from agent.errors import UserError
from agent.models.base import Message
from agent.protocol import ApprovalDecision, Event, Usage
from agent.redact import Redactor
from agent.session_store import SessionStore

BeforeEdit = Callable[[Sequence[Path]], None]


class Recorder:
    def __init__(self, redactor: Redactor, store: SessionStore | None = None, audit: AuditLog | None = None):
        self.redactor = redactor
        self.store = store
        self.audit = audit

    @classmethod
    def for_session(cls, config: Config, thread_id: str, store: SessionStore | None,
                    warn: Callable[[str], None]) -> Recorder:
        """The recorder of a real session: the store it was given, and the audit log when `audit.enabled`."""
        redactor = Redactor.from_config(config)
        audit = AuditLog.from_config(config, redactor, thread_id, warn=warn) if config.audit_enabled else None
        return cls(redactor, store, audit)

    @classmethod
    def null(cls, config: Config | None = None) -> Recorder:
        """Keeps nothing; redacts as `config` says (the default patterns without one)."""
        return cls(Redactor.from_config(config) if config is not None else Redactor())

    # --- the thread ------------------------------------------------------------------------

    def message(self, message: Message) -> Message:
        """A history message as the model and the rollout will see it (redacted), persisted."""
        message = self.redactor.value(message)
        if self.store:
            self.store.message(message)
        return message

    def event(self, event: Event) -> Event:
        """Audit the event, persist its redacted snapshot and return that snapshot (a deep copy: items are
        mutated as they progress, front ends must never hold a live one)."""
        snapshot = self.redactor.value(event)
        if self.audit:
            self.audit.record_event(event)
        if self.store:
            self.store.event(snapshot)
        return snapshot

    def prompt(self, text: str) -> None:
        if self.store:
            self.store.prompt(self.redactor.text(text))
        if self.audit:
            self.audit.prompt(text)

    def decision(self, op: ApprovalDecision) -> None:
        if self.audit:
            self.audit.record_event(op)

    def model_request(self, config: Config, usage: Usage | None, error: str | None = None,
                      retried: bool = False) -> None:
        """One request to the model (or its failure, with the sentence the user saw)."""
        if self.audit:
            self.audit.model_request(config.provider.id, config.model or "default", config.provider.base_url,
                                     usage, error=error, retried=retried)

    def tool_call(self, name: str, arguments: str) -> None:
        if self.audit:
            self.audit.tool_call(name, arguments)

    def compacted(self, history: Sequence[Message], summary: str) -> None:
        if self.store:
            self.store.compacted(history, summary)

    # --- undo and what front ends are told -------------------------------------------------------

    def before_edit(self, turn_id: str) -> BeforeEdit | None:
        """The hook that snapshots files before a turn's edits (None: this session keeps no undo log)."""
        store = self.store
        return None if store is None else (lambda paths: store.undo.before_edit(turn_id, paths))

    def undo_last(self) -> list[Path]:
        if self.store is None:
            raise UserError("Nothing to undo: this session keeps no undo log.")
        return self.store.undo.undo_last()

    def prompt_history(self) -> tuple[str, ...]:
        return tuple(self.store.prompts.entries()) if self.store else ()

    @property
    def rollout_path(self) -> Path | None:
        return self.store.writer.path if self.store and self.store.writer else None

    def close(self) -> None:
        if self.store:
            self.store.close()
