"""`codex exec`: the headless front end. One prompt, one turn, no questions asked.

Progress goes to stderr (or JSONL to stdout with --json), the final message to stdout,
and the exit code says how the turn ended: 0 completed, 1 failed, 2 usage or config error.
Nobody can answer an approval request here, so every request is denied; the declined item
in the event stream says so, and the model is told.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent import __version__
from agent.config import Config, Overrides, load_config
from agent.errors import UsageError, UserError
from agent.exec_output import HumanRenderer, JsonRenderer, use_color
from agent.git import repo_root
from agent.images import image_data_url
from agent.instructions import ProjectDocs, load_project_docs
from agent.protocol import (
    ApprovalDecision,
    ApprovalRequested,
    Event,
    SessionConfigured,
    Shutdown,
    Status,
    TurnCompleted,
    TurnFailed,
    UserInput,
    Warning,
)
from agent.structured_output import load_output_schema


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
    images: tuple[Path, ...] = ()  # -i/--image
    service_flags: dict[str, str] = field(default_factory=dict)  # flags only OpenAI's service uses; recorded


def read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        if prompt is None and sys.stdin.isatty():
            raise UsageError("No prompt given: pass it as an argument (codex exec \"…\") or pipe it on stdin.")
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("The prompt is empty: pass it as an argument (codex exec \"…\") or pipe it on stdin.")
    return prompt


def run_exec(overrides: Overrides, options: ExecOptions) -> int:
    gc.disable()  # start-up allocates ~0.5 M objects (mostly the openai SDK's import) and frees few of them:
    # collecting during it costs 45-80 ms of CPU and finds nothing; enabled again once the client is built
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
    if not options.skip_git_repo_check and repo_root(config.cwd) is None:
        raise UsageError(
            f"{config.cwd} is not inside a git repository, so edits could not be reviewed or undone: "
            "run codex exec inside a repository, or pass --skip-git-repo-check."
        )
    if options.resume is not None:  # a bad id fails here, before any model or server is touched
        from agent.session_open import find_session

        options = replace(options, resume=f"path:{find_session(config, options.resume)}")
    prompt = read_prompt(options.prompt)
    for path in options.images:
        image_data_url(path)  # an unreadable image is a usage error now, not a failed turn later
    schema = load_output_schema(options.output_schema) if options.output_schema else None
    docs = load_project_docs(config.cwd, config.codex_home, config.project_doc_max_bytes,
                             config.project_doc_fallback_filenames)
    from agent.mcp.startup import start_servers

    mcp = start_servers(config)  # MCP servers start in the background while the model loads
    try:
        return _run_session(config, options, renderer, prompt, schema, docs, mcp, overrides)
    finally:
        if mcp is not None:
            mcp.close()


def _run_session(config: Config, options: ExecOptions, renderer: JsonRenderer | HumanRenderer, prompt: str,
                 schema: dict | None, docs: ProjectDocs, mcp: Any, overrides: Overrides) -> int:
    from agent.models import make_client
    from agent.session_open import SessionOptions, open_session, warm_up  # imported once the MCP servers spawn

    warm_up(config)  # the launcher and the shell snapshot start while the SDK imports
    client = make_client(config, on_status=lambda line: renderer(Status(line)))
    gc.freeze()  # what start-up made lives until exit: out of the collector's way
    gc.enable()
    if isinstance(renderer, HumanRenderer):
        renderer.header(_header(config, client.describe(), docs))

    outcome: list[TurnCompleted | TurnFailed] = []

    def emit(event: Event) -> None:
        renderer(event)
        if isinstance(event, ApprovalRequested):  # nobody can answer in exec: deny, and the item reports it
            session.submit(ApprovalDecision(event.request_id, "deny"))
        elif isinstance(event, TurnCompleted | TurnFailed):
            outcome.append(event)
        elif isinstance(event, SessionConfigured) and event.resumed and isinstance(renderer, HumanRenderer):
            renderer.header([("resumed", f"session {event.status.thread_id}")])

    session_options = SessionOptions(resume=options.resume, ephemeral=options.ephemeral, output_schema=schema,
                                     service_flags=options.service_flags)
    session = open_session(config, client, emit, docs, session_options, mcp=mcp, overrides=overrides)
    session.start()
    try:
        session.submit(UserInput(prompt, tuple(str(path) for path in options.images)))
    finally:
        session.submit(Shutdown())
    completed = bool(outcome) and isinstance(outcome[-1], TurnCompleted)
    if options.output_last_message and completed:
        last = outcome[-1].last_agent_message  # type: ignore[union-attr]
        options.output_last_message.write_text(last or "", encoding="utf-8")
    return 0 if completed else 1


def _header(config: Config, model: str, docs: ProjectDocs) -> list[tuple[str, str]]:
    lines = [
        ("codex", f"codex-local {__version__} · {model}"),
        ("policy", f"sandbox {config.sandbox_mode} · approval {config.approval_policy} · cwd {config.cwd}"),
    ]
    if docs.files:
        lines.append(("agents", ", ".join(str(p) for p in docs.files)))
    return lines
