"""`codex exec`: the headless front end. One prompt, one turn, no questions asked.

Progress goes to stderr (or JSONL to stdout with --json), the final message to stdout,
and the exit code says how the turn ended: 0 completed, 1 failed, 2 usage or config error.
Nobody can answer an approval request here, so every request is denied; the declined item
in the event stream says so, and the model is told.
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import Config, Overrides, load_config
from agent.errors import UsageError, UserError
from agent.exec_output import HumanRenderer, JsonRenderer, use_color
from agent.instructions import ProjectDocs, find_repo_root, load_project_docs
from agent.protocol import ApprovalDecision, ApprovalRequested, Event, ServiceFlag, Status, Warning
from agent.structured_output import load_output_schema

if TYPE_CHECKING:
    from agent.models.base import ModelClient
    from agent.session import Session


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


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}


def image_data_url(path: Path) -> str:
    """The `data:` URL an endpoint receives for `--image PATH` (an `input_image` / `image_url` part)."""
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--image {path}: not a PNG, JPEG, GIF or WebP file name; pass an image with one of "
                         f"the suffixes {', '.join(IMAGE_TYPES)}.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"--image {path}: cannot be read ({e.strerror or e}); pass the path of an existing "
                         "image.") from e
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


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
    if options.resume is not None:
        find_session(config, options.resume)  # a bad id fails here, before any model or server is touched
    prompt = read_prompt(options.prompt)
    images = tuple(image_data_url(path) for path in options.images)
    schema = load_output_schema(options.output_schema) if options.output_schema else None
    docs = load_project_docs(config.cwd, config.codex_home, config.project_doc_max_bytes,
                             config.project_doc_fallback_filenames)
    from agent.mcp.startup import start_servers

    mcp = start_servers(config)  # MCP servers start in the background while the model loads
    try:
        return _run_session(config, options, renderer, prompt, images, schema, docs, mcp)
    finally:
        if mcp is not None:
            mcp.close()


def _run_session(config: Config, options: ExecOptions, renderer: JsonRenderer | HumanRenderer, prompt: str,
                 images: tuple[str, ...], schema: dict | None, docs: ProjectDocs, mcp: Any) -> int:
    from agent.models import make_client

    client = make_client(config, on_status=lambda line: renderer(Status(line)))
    if isinstance(renderer, HumanRenderer):
        renderer.header(_header(config, client.describe(), docs))

    def emit(event: Event) -> None:
        renderer(event)
        if isinstance(event, ApprovalRequested):  # nobody can answer in exec: deny, and the item reports it
            session.submit(ApprovalDecision(event.request_id, "deny"))

    session = open_session(config, client, emit, docs, options, schema, mcp=mcp)
    if options.resume is not None and isinstance(renderer, HumanRenderer):
        renderer.header([("resumed", f"session {session.thread_id}")])
    session.start()
    for flag, value in options.service_flags.items():
        session.emit(ServiceFlag(flag, value))  # kept in the rollout
        session.emit(Status(f"{flag} {value} recorded; only OpenAI's service uses it, so it changes nothing here"))
    if images and config.provider.base_url is None:
        names = ", ".join(str(path) for path in options.images)
        session.emit(Warning(f"The embedded engine's model cannot see images, so --image {names} was not sent to "
                             "it; use an endpoint with a vision model for images."))
        images = ()
    try:
        result = session.run_turn(prompt, images)
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
        raise UsageError(f"No session to resume for {config.cwd} under {config.codex_home / 'sessions'}: "
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
