"""Opening a session: a new thread, or one resumed from its rollout, with what it keeps and how it reloads.

Every front end (`codex exec`, the TUI, `codex mcp-server`) opens sessions here and then only calls
`start()` and `submit(op)`. This module finds the rollout to resume (`find_session`), turns its stored events
into typed ones for the front end to redraw, builds the session's `Recorder`, and gives it the `Reload` that
loads another model for `OverrideTurnContext` with the command line's own overrides.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import Config, Overrides, load_config
from agent.errors import UsageError
from agent.instructions import ProjectDocs
from agent.models.base import ModelClient
from agent.protocol import Event, OverrideTurnContext, Warning
from agent.recorder import Recorder
from agent.session import Reload, Session, SessionSetup


@dataclass(frozen=True)
class SessionOptions:
    resume: str | None = None  # a session id or prefix, "--last" (newest for the cwd), or "path:<rollout file>"
    ephemeral: bool = False  # keep no rollout (undo backups live in a temporary directory)
    thread_id: str | None = None  # the id of a new thread (tests, snapshots); a random one by default
    output_schema: dict | None = None
    base_instructions: str | None = None  # replaces agent/prompts/base_instructions.md
    service_flags: Mapping[str, str] = field(default_factory=dict)


def open_session(config: Config, client: ModelClient, emit: Callable[[Event], None], docs: ProjectDocs,
                 options: SessionOptions, *, mcp: Any = None, overrides: Overrides | None = None,
                 env: Mapping[str, str] | None = None) -> Session:
    """A new session, or the thread `options.resume` names with its history rebuilt from the rollout.
    `overrides` and `env` are what `config` was loaded from: a model switch reloads with them."""
    from agent.session_store import SessionStore

    setup = SessionSetup(docs=docs, output_schema=options.output_schema, mcp=mcp,
                         base_instructions=options.base_instructions, service_flags=options.service_flags,
                         reload=_reloader(overrides, env) if overrides is not None else None)
    if options.resume is None:
        thread_id = options.thread_id or str(uuid.uuid4())
        store = SessionStore.create(config, thread_id, ephemeral=options.ephemeral)
    else:
        from agent import rollout
        from agent.stored_events import events_from_rollout

        loaded = rollout.load_rollout(find_session(config, options.resume))
        for warning in loaded.warnings:
            emit(Warning(warning))
        store = SessionStore.reopen(config, loaded)
        thread_id = store.thread_id
        setup = dataclasses.replace(setup, history=loaded.history,
                                    initial_events=tuple(events_from_rollout(loaded.events)))
    setup.thread_id = thread_id
    setup.recorder = Recorder.for_session(config, thread_id, store, warn=lambda text: emit(Warning(text)))
    return Session(config, client, emit, setup)


def warm_up(config: Config) -> None:
    """Start what the session's tools prepare in other processes (the next sandbox launcher, the shell
    snapshot) now, in the background: a front end calls this before building the model client, so that work
    overlaps the `openai` import instead of following it. `Session.start` asks again; a second ask is a no-op."""
    from agent.tools import registry

    registry.warm_up(config)


def find_session(config: Config, which: str) -> Path:
    """The rollout `which` names: an id or prefix, "--last", or "path:<file>"; a usage error when none is."""
    from agent import rollout

    if which.startswith("path:"):
        return Path(which[5:])
    if which != "--last":
        return rollout.find_by_id(config.codex_home, which)
    path = rollout.latest_for_cwd(config.codex_home, config.cwd)
    if path is None:
        raise UsageError(f"No session to resume for {config.cwd} under {config.codex_home / 'sessions'}: "
                         "start one with codex exec first.")
    return path


def _reloader(overrides: Overrides, env: Mapping[str, str] | None) -> Reload:
    def reload(op: OverrideTurnContext, config: Config, on_status: Callable[[str], None]
               ) -> tuple[Config, ModelClient]:
        from agent.models import make_client

        changed = dataclasses.replace(overrides, model=op.model, local_provider=op.provider or config.provider.id,
                                      oss=False, sandbox_mode=config.sandbox_mode,
                                      approval_policy=config.approval_policy, full_auto=False,
                                      dangerously_bypass=False)
        new_config = load_config(changed, **({"env": env} if env is not None else {}))
        return new_config, make_client(new_config, on_status=on_status)

    return reload
