"""`codex exec`: the headless front end. One prompt, one turn, no questions asked.

Progress goes to stderr (or JSONL to stdout with --json), the final message to stdout,
and the exit code says how the turn ended: 0 completed, 1 failed, 2 usage or config error.
Nobody can answer an approval request here, so every request is denied; the declined item
in the event stream says so, and the model is told.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import Config, Overrides, load_config
from agent.errors import UserError
from agent.exec_output import HumanRenderer, JsonRenderer, use_color
from agent.instructions import ProjectDocs, find_repo_root, load_project_docs
from agent.protocol import ApprovalDecision, ApprovalRequested, Event, Status, Warning
from agent.structured_output import load_output_schema

if TYPE_CHECKING:
    from agent.models.base import ModelClient
    from agent.session import Session


class UsageError(UserError):
    exit_code = 2


@dataclass(frozen=True)
class ExecOptions:
    prompt: str | None = None
    json: bool = False
    output_last_message: Path | None = None
    color: str = "auto"
    skip_git_repo_check: bool = False
    ephemeral: bool = False
    resume: str | None = None  # a session id (or prefix), or "--last"
    output_schema: Path | None = None


def read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        if prompt is None and sys.stdin.isatty():
            raise UsageError("No prompt given: pass it as an argument (codex exec \"…\") or pipe it on stdin.")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("The prompt is empty: pass it as an argument (codex exec \"…\") or pipe it on stdin.")
    return prompt


def run_exec(overrides: Overrides, options: ExecOptions) -> int:
    renderer = JsonRenderer() if options.json else HumanRenderer(use_color(options.color, sys.stderr))
    try:
        return _run(overrides, options, renderer)
    except UserError as e:
        renderer.fatal(str(e))
        return e.exit_code


def _run(overrides: Overrides, options: ExecOptions, renderer: JsonRenderer | HumanRenderer) -> int:
    config = load_config(overrides)
    for warning in config.warnings:
        renderer(Warning(warning))
    if not options.skip_git_repo_check and find_repo_root(config.cwd) is None:
        raise UsageError(
            f"{config.cwd} is not inside a git repository, so edits could not be reviewed or undone: "
            "run codex exec inside a repository, or pass --skip-git-repo-check."
        )
    prompt = read_prompt(options.prompt)
    schema = load_output_schema(options.output_schema) if options.output_schema else None
    docs = load_project_docs(config.cwd, config.codex_home, config.project_doc_max_bytes)
    from agent.mcp.startup import start_servers

    mcp = start_servers(config)  # MCP servers start in the background while the model loads
    try:
        return _run_session(config, options, renderer, prompt, schema, docs, mcp)
    finally:
        if mcp is not None:
            mcp.close()


def _run_session(config: Config, options: ExecOptions, renderer: JsonRenderer | HumanRenderer, prompt: str,
                 schema: dict | None, docs: ProjectDocs, mcp: Any) -> int:
    from agent.models import make_client

    client = make_client(config, on_status=lambda line: renderer(Status(line)))
    if isinstance(renderer, HumanRenderer):
        renderer.header(_header(config, client.describe(), docs))

    def emit(event: Event) -> None:
        renderer(event)
        if isinstance(event, ApprovalRequested):  # nobody can answer in exec: deny, and the item reports it
            session.submit(ApprovalDecision(event.request_id, "deny"))

    session = open_session(config, client, emit, docs, options, schema, mcp=mcp)
    session.start()
    try:
        result = session.run_turn(prompt)
    finally:
        if session.store:
            session.store.close()
    if options.output_last_message and result.completed:
        options.output_last_message.write_text(result.last_message, encoding="utf-8")
    return 0 if result.completed else 1


def open_session(config: Config, client: ModelClient, emit: Callable[[Event], None], docs: ProjectDocs,
                 options: ExecOptions, output_schema: dict | None = None, mcp: Any = None) -> Session:
    """A new session, or the thread named by `options.resume`, with its history rebuilt from the rollout."""
    from agent import rollout
    from agent.session import Session
    from agent.session_store import SessionStore

    if options.resume is None:
        store = None if options.ephemeral else SessionStore.create(config, str(uuid.uuid4()))
        return Session(config, client, emit, docs=docs, store=store, output_schema=output_schema, mcp=mcp)
    path = find_session(config, options.resume)
    loaded = rollout.load_rollout(path)
    for warning in loaded.warnings:
        emit(Warning(warning))
    return Session(config, client, emit, docs=docs, store=SessionStore.reopen(config, loaded),
                   history=loaded.history, output_schema=output_schema, mcp=mcp)


def find_session(config: Config, which: str) -> Path:
    from agent import rollout

    if which != "--last":
        return rollout.find_by_id(config.codex_home, which)
    path = rollout.latest_for_cwd(config.codex_home, config.cwd)
    if path is None:
        raise UserError(f"No session to resume for {config.cwd} under {config.codex_home / 'sessions'}: "
                        "start one with codex exec first.")
    return path


def _header(config: Config, model: str, docs: ProjectDocs) -> list[tuple[str, str]]:
    lines = [
        ("codex", f"codex-local {__version__} · {model}"),
        ("policy", f"sandbox {config.sandbox_mode} · approval {config.approval_policy} · cwd {config.cwd}"),
    ]
    if docs.files:
        lines.append(("agents", ", ".join(str(p) for p in docs.files)))
    return lines
