"""The Textual app behind `codex [PROMPT]`: it renders a session's events and sends it ops, nothing more.

Flow, in one place (widgets only draw and post messages):

- start-up: if `agent.trust` says the folder must be trusted first, ask; pick a session to resume (if asked);
  then a thread worker builds the model client (which may take seconds: its status lines show meanwhile),
  opens the session with `agent.session_open.open_session` and calls `start()`;
- every event the session emits goes into an `EventPump` (on the session's thread), which wakes the UI; the UI
  drains it at most ~30 times a second and updates cells. `SessionConfigured` comes first: it redraws a resumed
  thread's transcript (`initial_events`), fills the composer's history and the status bar, and only then is
  the session the one prompts go to;
- a prompt runs as `session.submit(UserInput(text))` in a thread worker; `ApprovalRequested` pushes a modal whose
  answer goes back as `ApprovalDecision`; Esc sends `Interrupt`; after each turn `GetStatus` refreshes the status
  bar's context figure from `StatusReport`;
- slash commands (also in the command palette) are ops too: /compact `Compact`, /undo `Undo`, /approvals and
  /model `OverrideTurnContext` (answered by `TurnContextChanged` or `OperationFailed`), /status `GetStatus`,
  /new `Shutdown` and a new session; quitting sends `Shutdown`, whose `ShutdownComplete` says how to resume.

Policy is never decided here: what needs approval, what runs sandboxed, what an interrupt kills, which folders
need trust, which presets exist, all of that is the core's, and arrives as events or comes from
`agent.trust`, `agent.safety.approval` and `agent.models.listing`. The app reaches no attribute of the session:
it only submits ops to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from agent import trust
from agent.config import DEFAULT_MODELS, Config, Overrides, load_config
from agent.errors import UserError
from agent.git import repo_root
from agent.protocol import (
    AgentMessage,
    ApprovalDecision,
    ApprovalRequested,
    CommandExecution,
    Compact,
    ContextCompacted,
    Error,
    ErrorItem,
    Event,
    FileChangeItem,
    GetStatus,
    Interrupt,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    McpToolCall,
    ModelWaiting,
    OperationFailed,
    OutputDelta,
    OverrideTurnContext,
    Reasoning,
    SessionConfigured,
    SessionStatus,
    Shutdown,
    ShutdownComplete,
    Status,
    StatusReport,
    TextDelta,
    ThreadStarted,
    TodoList,
    TurnCompleted,
    TurnContextChanged,
    TurnFailed,
    TurnStarted,
    Undo,
    UndoCompleted,
    UserInput,
    UserPrompt,
    Warning,
)
from agent.safety.approval import APPROVAL_PRESETS, ApprovalPreset, preset_named
from agent.tui import slash_commands
from agent.tui.event_pump import EventPump
from agent.tui.palette import SlashCommandsProvider
from agent.tui.screens.picker import Choice, FreeText, PickerScreen
from agent.tui.widgets.activity import ActivityLine
from agent.tui.widgets.command_cell import CommandCell, readable_command
from agent.tui.widgets.composer import Composer
from agent.tui.widgets.notice import Notice, NoticeKind
from agent.tui.widgets.plan_cell import PlanCell
from agent.tui.widgets.reasoning import Reasoning as ReasoningCell
from agent.tui.widgets.session_header import HeaderInfo, SessionHeader
from agent.tui.widgets.status_bar import StatusBar, StatusLine
from agent.tui.widgets.transcript import Transcript
from agent.tui.widgets.user_message import UserMessage

if TYPE_CHECKING:
    from agent.instructions import ProjectDocs
    from agent.models.base import ModelClient
    from agent.models.listing import ModelListing
    from agent.protocol import Op
    from agent.session import Session
    from agent.tui.screens.approval import ApprovalScreen
    from agent.tui.widgets.agent_message import AgentMessage as AgentMessageCell

FRAME_SECONDS = 1 / 30  # at most this many transcript updates a second while streaming
CTRL_C_WINDOW = 2.0  # a second Ctrl+C within this many seconds quits
STARTUP_PAUSE = 0.05  # seconds between the first frame and starting the session

INIT_PROMPT = """\
Write an AGENTS.md file at the root of this repository: a short guide for coding agents (and people) who \
will work on this code after you.

First look around: the directory layout, the build, test and lint commands (check the project files, CI \
configuration and scripts), the language and style conventions the code actually follows, and anything \
surprising a newcomer should know. Then write the file with apply_patch (an "*** Add File: AGENTS.md" patch).

Keep it concrete and brief, about 200 to 400 words, in Markdown with sections such as "Project layout", \
"Build and test", "Code style" and "Making changes". State only what you verified in the repository; when \
something is unclear, leave it out rather than guess. Give exact commands in code spans.
"""


class CodexApp(App[int]):
    """The interactive front end of one `Session` (replaced by /new)."""

    TITLE = "Codex"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    COMMANDS = App.COMMANDS | {SlashCommandsProvider}
    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt"),
        Binding("ctrl+c", "ctrl_c", "Quit (twice)", priority=True),
        Binding("ctrl+o", "mention", "Mention file", show=False),
    ]

    class EventsReady(Message):
        """The session's thread queued events in the pump."""

    def __init__(self, config: Config, *, overrides: Overrides | None = None, env: Mapping[str, str] | None = None,
                 prompt: str | None = None, resume: str | None = None, ephemeral: bool = False,
                 thread_id: str | None = None):
        super().__init__()
        self.config = config  # what the front end draws and lists from; the session keeps its own
        self.overrides = overrides or Overrides(cwd=config.cwd)
        self.env = env
        self.initial_prompt = prompt
        self.resume = resume
        self.ephemeral = ephemeral
        self.fixed_thread_id = thread_id
        self.session: Session | None = None  # what ops are submitted to, once it sent SessionConfigured
        self.session_status: SessionStatus | None = None  # the latest the session reported
        self.client: ModelClient | None = None  # the model the app loaded (None after /model: the session's)
        self.docs: ProjectDocs | None = None
        self.mcp: Any = None  # the MCP servers (agent/mcp/startup.py), kept across /new and /model
        self.branch: str | None = None
        self.fatal_error: str | None = None
        self.turn_running = False
        self.busy_with: str | None = None  # a slash command's work (compact, undo, model switch)
        self.pending_prompts: list[tuple[str, str]] = []  # (prompt, what the transcript shows)
        self.tokens_per_second: float | None = None
        self.pump = EventPump(self._wake)
        self._opening: Session | None = None  # opened, its SessionConfigured not yet drawn
        self._announce_new = False  # the session being opened replaces another (/new)
        self._status_wanted = False  # /status waits for the next StatusReport
        self._override: tuple[OverrideTurnContext, str] | None = None  # sent, and the notice for its success
        self._resume_hint: str | None = None
        self._last_drain = 0.0
        self._drain_timer: Timer | None = None
        self._last_ctrl_c = 0.0
        self._approvals: dict[str, ApprovalScreen] = {}
        self._open_agent_cells: dict[str, AgentMessageCell] = {}
        self._reasoning_cells: dict[str, ReasoningCell] = {}
        self._init_target: Path | None = None  # the AGENTS.md the running /init turn should write

    # ------------------------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Transcript()
        yield ActivityLine()
        yield Composer()
        yield StatusBar()
        yield Footer(compact=True)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def activity(self) -> ActivityLine:
        return self.query_one(ActivityLine)

    def on_mount(self) -> None:
        self.status_bar.show(self._status_line())
        self.transcript.mount(SessionHeader(self._header_info()))
        self.composer.focus_input()

    def _header_info(self) -> HeaderInfo:
        from agent import __version__

        config = self.config
        return HeaderInfo(__version__, _model_label(config, self.client), config.provider.name, self._where(),
                          config.sandbox_mode, config.approval_policy)

    def on_ready(self) -> None:
        """After the first frame: the heavy imports and the model load must not delay it (the driver writes the
        frame on its own thread, which an importing worker would starve of the GIL, hence the short pause)."""
        self.set_timer(STARTUP_PAUSE, self._start)

    def _start(self) -> None:
        if trust.must_ask(self.config):
            self._ask_trust()
        else:
            self._choose_session()

    def cwd_label(self, path: str | Path | None = None) -> str:
        """A path as the transcript shows it: relative to the working directory, else with ~ for home."""
        path = Path(path) if path else self.config.cwd
        cwd = self.config.cwd
        if path == cwd:
            return "."
        if path.is_relative_to(cwd):
            return str(path.relative_to(cwd))
        home = Path(self.env.get("HOME", "~") if self.env is not None else os.path.expanduser("~"))
        if path.is_relative_to(home):
            return "~/" + str(path.relative_to(home))
        return str(path)

    def _where(self) -> str:
        cwd, home = self.config.cwd, Path(os.path.expanduser("~"))
        return "~/" + str(cwd.relative_to(home)) if cwd.is_relative_to(home) and cwd != home else str(cwd)

    # ------------------------------------------------------------------------------------------- start-up

    def _ask_trust(self) -> None:
        choices = [Choice("Yes, trust this folder", True, "remember it and continue"),
                   Choice("No, quit", False, "leave without running anything")]
        subtitle = (f"{self.config.cwd} is not a git repository, so Codex's edits here could not be reviewed "
                    "with git or undone from git history. Do you trust the files in this folder?")

        def answered(trusted: Any) -> None:
            if not trusted:
                self.exit(1)
                return
            try:
                trust.remember(self.config)
            except UserError as e:
                self.add_notice(str(e), "warning")
            self._choose_session()

        self.push_screen(PickerScreen("Trust this folder?", choices, subtitle=subtitle), answered)

    def _choose_session(self) -> None:
        if self.resume != "picker":
            self._setup(self.resume)
            return
        from agent import rollout

        found = rollout.find_rollouts(self.config.codex_home, self.config.cwd)
        choices = [Choice("New session", None, "start fresh")]
        for summary in found[:50]:
            prompt = (summary.first_prompt or "(no prompt)").strip().splitlines()[0][:80]
            choices.append(Choice(_local_time(summary.started_at), str(summary.path), prompt))
        self.push_screen(PickerScreen("Resume a session", choices, current=1 if found else 0,
                                      subtitle=f"sessions started in {self.config.cwd}, newest first",
                                      filter_placeholder="filter…"),
                         lambda path: self._setup(f"path:{path}" if path else None))

    @work(thread=True, exclusive=True, group="setup", exit_on_error=False)
    def _setup(self, resume: str | None) -> None:
        """Build the model client, open the session and start it (thread: loading a model can take seconds)."""
        self.pump.push(Status("loading model…"))
        # Widgets the first events need, imported here rather than before the first frame.
        import agent.tui.screens.approval  # noqa: F401
        import agent.tui.widgets.agent_message  # noqa: F401
        import agent.tui.widgets.diff_cell  # noqa: F401

        try:
            from agent.git import current_branch
            from agent.instructions import load_project_docs
            from agent.models import make_client

            try:
                branch = current_branch(self.config.cwd)
            except Exception:  # a broken repository must not stop the app
                branch = None
            docs = load_project_docs(self.config.cwd, self.config.codex_home, self.config.project_doc_max_bytes,
                                     self.config.project_doc_fallback_filenames)
            if self.mcp is None:
                from agent.mcp.startup import start_servers

                self.mcp = start_servers(self.config)  # they start while the model loads
            client = make_client(self.config, on_status=lambda line: self.pump.push(Status(line)))
            session = self._open_session(client, docs, resume)
        except UserError as e:
            self.call_from_thread(self._setup_failed, str(e))
            return
        self.call_from_thread(self._session_opened, session, client, docs, branch)
        session.start()  # SessionConfigured: drawn by `_configured`

    def _open_session(self, client: ModelClient, docs: ProjectDocs, resume: str | None) -> Session:
        from agent.session_open import SessionOptions, open_session

        options = SessionOptions(resume=resume, ephemeral=self.ephemeral,
                                 thread_id=None if resume else self.fixed_thread_id)
        return open_session(self.config, client, self._emit, docs, options, mcp=self.mcp, overrides=self.overrides,
                            env=self.env)

    def _emit(self, event: Event) -> None:
        """The session's event sink (runs on the session's thread)."""
        self.pump.push(event)

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the app's loop is gone (shutting down)
            self.post_message(self.EventsReady())

    def _session_opened(self, session: Session, client: ModelClient, docs: ProjectDocs, branch: str | None) -> None:
        """The session exists; it becomes the one prompts go to when its SessionConfigured is drawn."""
        self._opening, self.client, self.docs, self.branch = session, client, docs, branch
        for header in self.transcript.query(SessionHeader):
            header.show(self._header_info())  # now with the model really loaded

    async def _configured(self, event: SessionConfigured) -> None:
        session, self._opening = self._opening, None
        if session is None:
            return
        self.session_status, self._resume_hint = event.status, None
        for stored in event.initial_events:  # a resumed thread's transcript, drawn before any prompt is sent
            await self.apply_event(stored)
        self._open_agent_cells.clear()
        self.session = session
        thread_id = event.status.thread_id
        if event.resumed:
            self.add_notice(f"resumed session {thread_id}")
        if self._announce_new:
            self._announce_new = False
            self.add_notice(f"new session {thread_id}", "info")
        self.composer.set_history(list(event.prompt_history))
        self.activity.stop()
        self._refresh_status()
        if self.initial_prompt:
            prompt, self.initial_prompt = self.initial_prompt, None
            self.pending_prompts.insert(0, (prompt, prompt))
        self._next_prompt()

    def _setup_failed(self, message: str) -> None:
        self.activity.stop()
        self.status_bar.show(activity="")
        self.add_notice(message, "error")
        self.add_notice("fix it and restart, or pick another model with /model", "info")

    # ------------------------------------------------------------------------------------------- events

    @on(EventsReady)
    async def _events_ready(self) -> None:
        wait = self._last_drain + FRAME_SECONDS - time.monotonic()
        if wait > 0:
            if self._drain_timer is None:
                self._drain_timer = self.set_timer(wait, self._drain)
            return
        await self._drain()

    async def _drain(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.stop()
            self._drain_timer = None
        self._last_drain = time.monotonic()
        while events := self.pump.drain():  # what drawing these makes the session emit (a StatusReport) too
            for event in events:
                await self.apply_event(event)

    async def show_events(self, events: list[Event]) -> None:
        """Render events as if the session had emitted them (also used by tests and snapshots)."""
        for event in events:
            await self.apply_event(event)

    async def apply_event(self, event: Event) -> None:
        match event:
            case ThreadStarted() | ItemUpdated(item=CommandExecution()):
                pass
            case TurnStarted():
                self.activity.start("Working")
            case TextDelta(kind="reasoning", item_id=item_id, delta=delta):
                (await self._reasoning_cell(item_id)).append(delta)
            case TextDelta(item_id=item_id, delta=delta):
                self.activity.set_label("Writing")
                await (await self._agent_cell(item_id)).append(delta)
            case OutputDelta(item_id=item_id, chunk=chunk):
                if cell := self.transcript.find_cell(CommandCell, item_id):
                    cell.append_output(chunk)
            case ItemStarted(item=item) | ItemUpdated(item=item) | ItemCompleted(item=item):
                await self._item_event(event, item)
            case TurnCompleted(tokens_per_second=speed):
                if speed:
                    self.tokens_per_second = speed
                await self._turn_ended()
            case TurnFailed(message=message, reason=reason):
                await self._keep_unfinished_replies()
                self.add_notice(message, "interrupted" if reason == "interrupted" else "error")
                await self._turn_ended()
            case Warning(message=message):
                self.add_notice(message, "warning")
            case ModelWaiting(seconds=0):  # a wait is over (or was too short to show)
                if self.status_bar.line.activity:
                    self.status_bar.show(activity="")
                    if self.turn_running:
                        self.activity.start("Working")
            case Status(message=message):
                self.activity.start(message, hint="")
                self.status_bar.show(activity=message)
            case ApprovalRequested():
                self._ask_approval(event)
            case Error(message=message):
                self.add_notice(message, "error")
            case UserPrompt(text=text):  # a resumed thread's earlier prompt
                await self.transcript.mount(UserMessage(text))
            case SessionConfigured():
                await self._configured(event)
            case StatusReport(status=status):
                self.session_status = status
                self._refresh_status()
                if self._status_wanted:
                    self._status_wanted = False
                    self._show_status(status)
            case TurnContextChanged(status=status):
                self._context_changed(status)
            case ContextCompacted():
                self._compacted(event)
            case UndoCompleted():
                self.add_notice(f"undid the last turn's edits: {self._undone(event)}", "info")
            case OperationFailed():
                self._operation_failed(event)
            case ShutdownComplete(resume_hint=hint):
                self._resume_hint = hint

    async def _item_event(self, event: Event, item: Any) -> None:
        completed = isinstance(event, ItemCompleted)
        if not isinstance(item, AgentMessage | Reasoning):
            await self._drop_unfinished_replies()
        match item:
            case AgentMessage(id=item_id, text=text):
                cell = await self._agent_cell(item_id)
                await cell.finish(text)
                self._open_agent_cells.pop(item_id, None)
            case Reasoning(id=item_id, text=text):
                (await self._reasoning_cell(item_id)).finish(text)
                self._reasoning_cells.pop(item_id, None)
            case CommandExecution():
                self.activity.set_label("Running a command")
                cell = self.transcript.find_cell(CommandCell, item.id)
                if cell is None:
                    cell = CommandCell(item, self.cwd_label(item.cwd))
                    await self.transcript.mount(cell)
                if completed:
                    cell.finish(item)
            case FileChangeItem():
                from agent.tui.widgets.diff_cell import DiffCell

                cell = self.transcript.find_cell(DiffCell, item.id)
                if cell is None:
                    cell = DiffCell(item, cwd_label=self.cwd_label)
                    await self.transcript.mount(cell)
                if completed:
                    cell.finish(item, item.diff)
            case TodoList():
                cell = self.transcript.find_cell(PlanCell, item.id)
                if cell is None:
                    await self.transcript.mount(PlanCell(item))
                else:
                    cell.show(item)
            case ErrorItem(message=message):
                self.add_notice(message, "error")
            case McpToolCall():
                await self._mcp_cell(item)

    async def _mcp_cell(self, item: McpToolCall) -> None:
        from agent.tui.widgets.mcp_cell import McpCell

        self.activity.set_label(f"Calling {item.server}.{item.tool}")
        cell = self.transcript.find_cell(McpCell, item.id)
        if cell is None:
            await self.transcript.mount(McpCell(item))
        else:
            cell.show(item)

    async def _agent_cell(self, item_id: str) -> AgentMessageCell:
        from agent.tui.widgets.agent_message import AgentMessage as AgentMessageCell

        cell = self._open_agent_cells.get(item_id)
        if cell is None:
            cell = AgentMessageCell()
            self._open_agent_cells[item_id] = cell
            await self.transcript.mount(cell)
        return cell

    async def _reasoning_cell(self, item_id: str) -> ReasoningCell:
        cell = self._reasoning_cells.get(item_id)
        if cell is None:
            cell = ReasoningCell()
            self._reasoning_cells[item_id] = cell
            await self.transcript.mount(cell)
        return cell

    async def _drop_unfinished_replies(self) -> None:
        """Streamed text that never became a message (a tool call the model printed as text) disappears."""
        for item_id, cell in list(self._open_agent_cells.items()):
            del self._open_agent_cells[item_id]
            await cell.remove()

    async def _keep_unfinished_replies(self) -> None:
        """A reply cut short (an interrupt, an error) stays as far as it got."""
        for item_id, cell in list(self._open_agent_cells.items()):
            del self._open_agent_cells[item_id]
            await cell.finish(cell.text)

    def add_notice(self, message: str, kind: NoticeKind = "info") -> Notice:
        notice = Notice(message, kind)
        self.transcript.mount(notice)
        return notice

    async def _turn_ended(self) -> None:
        await self._drop_unfinished_replies()
        if self._init_target is not None and not self._init_target.exists():
            self.add_notice(f"/init ended without writing {self._init_target}: the model did not create it; try "
                            "again, pick a larger model with /model, or write the file yourself", "warning")
        self._init_target = None
        if self.session is not None and self.turn_running:
            self.session.submit(GetStatus())  # the context figure after this turn (drawn in the same drain)
        self.turn_running = False
        self.activity.stop()
        self.composer.remove_class("-busy")
        for request_id, screen in list(self._approvals.items()):  # the core no longer waits for them
            del self._approvals[request_id]
            if screen.is_attached:
                screen.dismiss(None)
        self._refresh_status()
        self._next_prompt()

    def _refresh_status(self) -> None:
        self.status_bar.show(self._status_line())

    def _status_line(self) -> StatusLine:
        config = self.config
        line = StatusLine(model=_model_label(config, self.client), provider=config.provider.name,
                          sandbox=config.sandbox_mode, approval=config.approval_policy, branch=self.branch,
                          cwd=self._where(), tokens_per_second=self.tokens_per_second,
                          activity="" if self.session or self.client else "loading model…")
        if (status := self.session_status) is not None:
            line = dataclasses.replace(line, context_used=status.context_used,
                                       context_window=status.context_window,
                                       tokens=status.usage.input_tokens + status.usage.output_tokens)
        return line

    # ------------------------------------------------------------------------------------------- approvals

    def _ask_approval(self, request: ApprovalRequested) -> None:
        from agent.tui.screens.approval import DECISION_WORDS, ApprovalScreen

        screen = ApprovalScreen(request, self.cwd_label(request.cwd))
        self._approvals[request.request_id] = screen
        self.activity.set_label("Waiting for your approval")

        def decided(decision: Any) -> None:
            if self._approvals.pop(request.request_id, None) is None or decision is None:
                return  # the turn ended first
            if self.session is not None:
                self.session.submit(ApprovalDecision(request.request_id, decision))
            if request.kind == "command":
                what = f"the command `{readable_command(request.command or '')}`"
            else:
                what = "the edit of " + ", ".join(self.cwd_label(p) for p in request.paths)
            self.add_notice(f"You {DECISION_WORDS[decision]} {what}", "decision")
            self.activity.set_label("Working")

        self.push_screen(screen, decided)

    # ------------------------------------------------------------------------------------------- prompts

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        text = message.text
        parsed = slash_commands.parse(text)
        if parsed is not None:
            self.run_slash(parsed[0].name, parsed[1])
        elif text.startswith("/") and " " not in text.split("\n")[0] and "/" not in text[1:]:
            self.add_notice(f"unknown command {text}: type / to see the commands", "error")
        else:
            self.send_prompt(text)

    @on(Composer.MentionRequested)
    def _mention_requested(self) -> None:
        self.action_mention(insert_at_on_cancel=True)

    def send_prompt(self, text: str, shown: str | None = None) -> None:
        self.pending_prompts.append((text, shown or text))
        if self.session is None or self.turn_running or self.busy_with:
            self.add_notice("queued: it will be sent when the current work ends", "info")
            return
        self._next_prompt()

    def _next_prompt(self) -> None:
        if not self.pending_prompts or self.session is None or self.turn_running or self.busy_with:
            return
        text, shown = self.pending_prompts.pop(0)
        self._init_target = self._agents_md() if text == INIT_PROMPT else None
        self.transcript.mount(UserMessage(shown))
        self.transcript.anchor()  # follow the new turn even if the user had scrolled up
        self.turn_running = True
        self.composer.add_class("-busy")
        self.activity.start("Working")
        self._run_turn(self.session, text)

    @work(thread=True, group="turn", exit_on_error=False)
    def _run_turn(self, session: Session, text: str) -> None:
        session.submit(UserInput(text))

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        await self._drain()
        if worker.group == "turn" and self.turn_running:
            if worker.error is not None:
                self.add_notice(f"the turn stopped with an unexpected error: {worker.error}", "error")
            await self._turn_ended()
        elif worker.group == "setup" and worker.error is not None:
            self._setup_failed(f"could not start the session: {worker.error}")
        elif worker.group == "diff" and worker.error is not None:
            self.add_notice(f"/diff failed: {worker.error}", "error")
        elif worker.group == "slash":
            if worker.error is not None:
                self.add_notice(f"{self.busy_with or 'the command'} failed: {worker.error}", "error")
            self.busy_with = None
            self.activity.stop()
            self._refresh_status()
            self._next_prompt()

    # ------------------------------------------------------------------------------------------- keys

    def action_interrupt(self) -> None:
        if self.composer.completions.visible:
            self.composer.completions.hide()
            return
        if (self.turn_running or self.busy_with == "compact") and self.session is not None:
            self.session.submit(Interrupt())
            self.activity.set_label("Interrupting")

    def action_ctrl_c(self) -> None:
        now = time.monotonic()
        if now - self._last_ctrl_c < CTRL_C_WINDOW:
            self.action_quit_app()
            return
        self._last_ctrl_c = now
        if self._approvals:
            for screen in list(self._approvals.values()):
                screen.dismiss("abort")
        elif self.turn_running:
            self.action_interrupt()
        elif self.composer.text:
            self.composer.clear()
        self.notify("Press Ctrl+C again to quit", timeout=CTRL_C_WINDOW)

    def action_quit_app(self) -> None:
        if self.session is not None:
            self.session.submit(Interrupt())  # lets a running turn's thread end, so the process can exit
        self.exit(0)

    def action_mention(self, insert_at_on_cancel: bool = False) -> None:
        from agent.tui.screens.file_picker import FilePickerScreen

        def chosen(path: str | None) -> None:
            if path:
                self.composer.insert_text(path + " ")
            elif insert_at_on_cancel:
                self.composer.insert_text("@")
            self.composer.focus_input()

        self.push_screen(FilePickerScreen(self.config.cwd), chosen)

    def resume_hint(self) -> str | None:
        """What to print after quitting: `ShutdownComplete`'s hint (None if the session kept nothing)."""
        return self._resume_hint

    def close_session(self) -> None:
        """End the session (after the app has exited): `Shutdown` closes its files and says how to resume."""
        session, self.session, self._opening = self.session or self._opening, None, None
        if session is not None:
            session.submit(Shutdown())
            for event in self.pump.drain():  # the app's loop is gone: read the answer here
                if isinstance(event, ShutdownComplete):
                    self._resume_hint = event.resume_hint
        self.pump.close()
        if self.mcp is not None:
            self.mcp.close()
            self.mcp = None

    # ------------------------------------------------------------------------------------------- slash commands

    def run_slash(self, name: str, argument: str = "") -> None:
        command = slash_commands.BY_NAME[name]
        if command.needs_idle and (self.turn_running or self.busy_with):
            self.add_notice(f"/{name} waits for the current work to end: press Esc to interrupt it first", "warning")
            return
        getattr(self, f"_slash_{name}")(argument)

    def _needs_session(self, name: str) -> Session | None:
        if self.session is None:
            self.add_notice(f"/{name} needs a running session; the model is still loading or failed to load", "error")
        return self.session

    def _submit_now(self, op: Op) -> None:
        """Submit an op that returns at once (GetStatus) or does no slow work, and draw what it emitted."""
        assert self.session is not None
        self.session.submit(op)
        self.call_next(self._drain)

    @work(thread=True, group="slash", exit_on_error=False)
    def _submit_in_worker(self, session: Session, op: Op) -> None:
        """Run a slow op (a compaction, a model load) off the UI thread, then refresh the status figures."""
        session.submit(op)
        session.submit(GetStatus())

    def _slash_quit(self, _argument: str) -> None:
        self.action_quit_app()

    def _slash_mention(self, _argument: str) -> None:
        self.action_mention()

    def _slash_status(self, _argument: str) -> None:
        if self._needs_session("status"):
            self._status_wanted = True
            self._submit_now(GetStatus())

    def _show_status(self, status: SessionStatus) -> None:
        from agent.tui.screens.status_view import StatusExtras, StatusScreen

        self.push_screen(StatusScreen(status, StatusExtras(str(self.config.cwd), self.branch, self.tokens_per_second)))

    def _slash_approvals(self, argument: str) -> None:
        if argument:
            preset = preset_named(argument)
            if preset is None:
                names = ", ".join(p.label for p in APPROVAL_PRESETS)
                self.add_notice(f"no approval preset '{argument}': use one of {names}", "error")
                return
            self._set_approvals(preset)
            return
        current = next((i for i, p in enumerate(APPROVAL_PRESETS)
                        if (p.sandbox_mode, p.approval_policy) == (self.config.sandbox_mode,
                                                                   self.config.approval_policy)), 0)
        choices = [Choice(p.label, p, f"{p.sandbox_mode} + {p.approval_policy}: {p.description}")
                   for p in APPROVAL_PRESETS]
        self.push_screen(PickerScreen("Approvals: what may Codex do without asking?", choices, current=current),
                         lambda preset: preset and self._set_approvals(preset))

    def _set_approvals(self, preset: ApprovalPreset) -> None:
        notice = f"approvals: {preset.label} (sandbox {preset.sandbox_mode}, approval {preset.approval_policy})"
        op = OverrideTurnContext(approval_policy=preset.approval_policy, sandbox_mode=preset.sandbox_mode)
        if self.session is None:  # no session yet: the next one opens with these policies
            self._policies_changed(preset.sandbox_mode, preset.approval_policy)
            self.add_notice(notice, "info")
            self._refresh_status()
            return
        self._override = (op, notice)
        self._submit_now(op)  # no model to load: done before the next frame

    def _policies_changed(self, sandbox: str, approval: str) -> None:
        self.config = dataclasses.replace(self.config, sandbox_mode=sandbox, approval_policy=approval)
        self.overrides = dataclasses.replace(self.overrides, sandbox_mode=sandbox, approval_policy=approval,
                                             full_auto=False, dangerously_bypass=False)

    def _slash_model(self, argument: str) -> None:
        if argument:
            first, _, rest = argument.partition(" ")
            if first in self.config.providers:  # /model PROVIDER [NAME]
                model = rest.strip() or (self.config.model if first == self.config.provider.id
                                         else DEFAULT_MODELS.get(first))
                self._switch_model(first, model)
            else:
                self._switch_model(self.config.provider.id, argument)
            return
        self.busy_with = "model"
        self.activity.start("Listing models", hint="")
        self._list_models()

    @work(thread=True, group="slash", exit_on_error=False)
    def _list_models(self) -> None:
        from agent.models.listing import models_to_choose

        self.call_from_thread(self._pick_model, models_to_choose(self.config))

    def _pick_model(self, listing: ModelListing) -> None:
        if listing.problem:
            self.add_notice(listing.problem, "warning")
        choices = [Choice(c.label, (c.provider, c.model), c.detail) for c in listing.choices]
        current = next((i for i, c in enumerate(choices)
                        if c.value == (self.config.provider.id, self.config.model)), 0)

        def chosen(value: Any) -> None:
            if isinstance(value, FreeText):
                self._switch_model(self.config.provider.id, value.text)
            elif value:
                self._switch_model(*value)

        self.push_screen(PickerScreen("Model: choose a model or provider", choices, current=current,
                                      filter_placeholder="filter, or type a model name and press Enter",
                                      free_text=True), chosen)

    def _switch_model(self, provider: str, model: str | None) -> None:
        self.busy_with = "model"
        self.activity.start(f"Switching to {model or 'the default model'} ({provider})", hint="")
        op = OverrideTurnContext(provider=provider, model=model)
        if self.session is None:  # the session failed to start: start one with this model
            self._load_model(op)
            return
        self._override = (op, "")
        self._submit_in_worker(self.session, op)

    def _model_overrides(self, op: OverrideTurnContext) -> Overrides:
        """The command line's overrides with the model switched to, as the session reloads them."""
        return dataclasses.replace(self.overrides, model=op.model, local_provider=op.provider, oss=False,
                                   sandbox_mode=self.config.sandbox_mode, approval_policy=self.config.approval_policy,
                                   full_auto=False, dangerously_bypass=False)

    @work(thread=True, group="slash", exit_on_error=False)
    def _load_model(self, op: OverrideTurnContext) -> None:
        overrides = self._model_overrides(op)
        try:
            config = load_config(overrides, **({"env": self.env} if self.env is not None else {}))
        except UserError as e:
            self.call_from_thread(self.add_notice, str(e), "error")
            return
        self.call_from_thread(self._start_with, overrides, config)

    def _start_with(self, overrides: Overrides, config: Config) -> None:
        self.overrides, self.config = overrides, config
        self.add_notice(f"model: {config.model or 'the default model'} ({config.provider.name}); starting the "
                        "session", "info")
        self._setup(None)

    def _context_changed(self, status: SessionStatus) -> None:
        """TurnContextChanged: the session took the op the app sent; the app's own config follows it."""
        self.session_status = status
        sent, self._override = self._override, None
        if sent is None:
            return
        op, notice = sent
        if op.provider is None and op.model is None:
            self._policies_changed(status.sandbox, status.approval)
            self.add_notice(notice, "info")
        else:
            overrides = self._model_overrides(op)
            with contextlib.suppress(UserError):  # the session loaded it, so it loads; a race with an edit stays
                self.config = load_config(overrides, **({"env": self.env} if self.env is not None else {}))
            self.overrides, self.client = overrides, None  # the session holds the new model's client now
            self.add_notice(f"model: {status.model}", "info")
        self._refresh_status()

    def _slash_new(self, _argument: str) -> None:
        if self.docs is None:
            self._needs_session("new")
            return
        self.busy_with = "new"
        self._new_session()

    @work(thread=True, group="slash", exit_on_error=False)
    def _new_session(self) -> None:
        from agent.models import make_client

        assert self.docs is not None
        if self.session is not None:
            self.session.submit(Shutdown())
        client = self.client or make_client(self.config, on_status=lambda line: self.pump.push(Status(line)))
        session = self._open_session(client, self.docs, None)
        self.call_from_thread(self._session_replacing, session, client)
        session.start()

    async def _session_replacing(self, session: Session, client: ModelClient) -> None:
        await self._drain()
        self._opening, self.client, self._announce_new = session, client, True
        await self.transcript.remove_children()
        await self.transcript.mount(SessionHeader(self._header_info()))
        self._open_agent_cells.clear()
        self._reasoning_cells.clear()
        self.tokens_per_second = None

    def _slash_compact(self, _argument: str) -> None:
        if session := self._needs_session("compact"):
            self.busy_with = "compact"
            self.activity.start("Compacting the conversation")
            self._submit_in_worker(session, Compact())

    def _compacted(self, event: ContextCompacted) -> None:
        before = _context_figure(event.tokens_before, event.context_window)
        after = _context_figure(event.tokens_after, event.context_window)
        self.add_notice(f"conversation compacted into a summary: context {before} → {after}", "info")

    def _slash_undo(self, _argument: str) -> None:
        if session := self._needs_session("undo"):
            self.busy_with = "undo"
            self.activity.start("Undoing the last turn's edits", hint="")
            self._submit_in_worker(session, Undo())

    def _undone(self, event: UndoCompleted) -> str:
        """What an undo did, per file: files the turn added are gone again ("removed"), the others "restored"."""
        parts = [f"{verb} {', '.join(self.cwd_label(p) for p in paths)}"
                 for verb, paths in (("restored", event.restored), ("removed", event.removed)) if paths]
        return "; ".join(parts) or "nothing to change"

    def _operation_failed(self, event: OperationFailed) -> None:
        if event.operation == "compact":
            self.add_notice(f"compaction failed: {event.message}", "error")
        else:
            self.add_notice(event.message, "error")
        if event.operation == "override_turn_context":
            self._override = None
        elif event.operation == "status":
            self._status_wanted = False

    def _slash_diff(self, _argument: str) -> None:
        self._git_diff()

    @work(thread=True, group="diff", exit_on_error=False)
    def _git_diff(self) -> None:
        from agent.git import diff_including_untracked, repo_root

        root = repo_root(self.config.cwd)
        if root is None:
            self.call_from_thread(self.add_notice, f"/diff: {self.config.cwd} is not inside a git repository",
                                  "error")
            return
        diff = diff_including_untracked(root)
        self.call_from_thread(self._show_diff, diff)

    def _show_diff(self, diff: str) -> None:
        from agent.tui.screens.diff_screen import DiffScreen

        if not diff.strip():
            self.add_notice("/diff: no changes against HEAD", "info")
            return
        self.push_screen(DiffScreen(diff))

    def _agents_md(self) -> Path:
        return (repo_root(self.config.cwd) or self.config.cwd) / "AGENTS.md"

    def _slash_init(self, _argument: str) -> None:
        existing = self._agents_md()
        if existing.exists():
            self.add_notice(f"{existing} already exists; edit it, or delete it and run /init again", "warning")
            return
        self.send_prompt(INIT_PROMPT, "/init: write an AGENTS.md for this repository")


# ----------------------------------------------------------------------------------------------- helpers


def _model_label(config: Config, client: Any) -> str:
    model = getattr(client, "model", None)
    if model is not None and not isinstance(model, str):
        model = getattr(model, "name", None)
    return model or config.model or "default model"


def _context_figure(tokens: int, window: int | None) -> str:
    """The context used, in the status bar's unit (percent of the window, tokens when it is unknown)."""
    from agent.context_budget import percent_used

    return f"{percent_used(tokens, window)}%" if window else f"{tokens} tokens"


def _local_time(started_at: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return started_at
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")
