"""Text from outside (a model's message, a command and its output, a tool's name, a server's error) is shown on the
user's terminal as text: its control characters escaped (`\\x1b`), never obeyed, and in the TUI never read as Rich
markup. An OSC 52 would set the clipboard, `\\r\\x1b[2K` would erase a line to forge another, `[link=…]` would
make a link of the attacker's choice.

`codex exec` is run as a real process against the scripted model server (stdout a pipe, or a real pty), its
renderers also in process; the TUI is driven headless with Pilot, and what Textual would write to the terminal
is taken from its compositor.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.exec_output import HumanRenderer, JsonRenderer
from agent.protocol import (
    AgentMessage,
    ApprovalRequested,
    CommandExecution,
    ErrorItem,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    McpToolCall,
    McpToolCallError,
    ModelWaiting,
    PathChange,
    Reasoning,
    Status,
    ThreadStarted,
    TodoEntry,
    TodoList,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
    Warning,
)
from agent.terminal_text import visible
from agent.tui.app import CodexApp
from agent.tui.screens.approval import ApprovalScreen
from agent.tui.widgets.agent_message import AgentMessage as AgentMessageCell
from agent.tui.widgets.command_cell import CommandCell
from agent.tui.widgets.mcp_cell import McpCell
from agent.tui.widgets.notice import Notice
from agent.tui.widgets.plan_cell import PlanCell
from agent.tui.widgets.reasoning import Reasoning as ReasoningCell
from agent.tui.widgets.session_header import SessionHeader
from agent.tui.widgets.status_bar import StatusBar
from tests.conftest import GIT_ENV, RunCodex, codex_command, git, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall
from tests.tui.conftest import ready, send, shell_call, turn_done, wait_until

# OSC 52 (clipboard), CR + erase line (a forged line), a C1 CSI, a right-to-left override, DEL, a bell
HOSTILE = "\x1b]52;c;cm0gLXJmIH4=\x07\r\x1b[2Kapproval all clear \x9b31m\u202eexe.txt\x7f"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# HumanRenderer's own sequences: the colour around a label or `error:`, and the clearing of the live waiting line
OURS = re.compile(r"\x1b\[1;(?:2|3\d)m[a-z ]{8}\x1b\[0m|\x1b\[1;31merror:\x1b\[0m|\r\x1b\[2K")


def every_kind_of_line(text: str) -> list:
    """One event of each kind the human renderer writes a line for, each carrying `text` from outside."""
    return [
        Warning(f"MCP server x did not start: {text}"),
        Status(text),
        ModelWaiting(text, seconds=3),
        ThreadStarted("thread-1"),
        TurnStarted(),
        ItemCompleted(AgentMessage("item_1", text)),  # not the final one: the next event starts a step
        ItemStarted(CommandExecution("item_2", text)),
        ItemCompleted(CommandExecution("item_2", text, exit_code=0, status="completed", duration_ms=5)),
        ApprovalRequested("r1", "command", text, command=text),
        ItemCompleted(CommandExecution("item_3", text, status="declined", reason=text)),
        ItemCompleted(McpToolCall("item_4", text, text, {"a": text}, error=McpToolCallError(text), status="failed")),
        ItemCompleted(FileChangeItem("item_5", [PathChange(f"/tmp/{text}", "add")], "failed", error=text)),
        ItemCompleted(TodoList("item_6", [TodoEntry(text, False)])),
        ItemCompleted(Reasoning("item_7", text)),
        ItemCompleted(ErrorItem("item_8", text)),
        ItemCompleted(AgentMessage("item_9", text)),
        TurnFailed(text),
    ]


def render_human(events: list, color: bool) -> str:
    err = io.StringIO()
    renderer = HumanRenderer(color, out=io.StringIO(), err=err, live=True)
    for event in events:
        renderer(event)
    renderer.fatal(f"a server said: {HOSTILE}")
    return err.getvalue()


# --- codex exec: the human renderer -----------------------------------------------------------------------------


def test_every_stderr_line_shows_outside_control_characters_escaped():
    err = render_human(every_kind_of_line(HOSTILE), color=False)
    assert not CONTROLS.search(OURS.sub("", err)), repr(err)
    shown = visible(HOSTILE)
    assert shown == ("\\x1b]52;c;cm0gLXJmIH4=\\x07\\x0d\\x1b[2Kapproval all clear \\x9b31m\\u202eexe.txt\\x7f")
    for label in ("warning", "model", "codex", "exec", "approval", "mcp", "patch", "plan", "error"):
        assert any(line.startswith(f"{label:<8} ") and shown in line for line in err.splitlines()), (label, err)
    assert "thinking \\x1b]52;c;cm0gLXJmIH4=\\x07\n" in err  # its first line: a CR ends a line there


def test_newlines_and_tabs_from_outside_are_kept():
    err = render_human([Warning("first\tline\nsecond line")], color=False)
    assert "warning  first\tline\nsecond line\n" in err


def test_our_colour_codes_stay_while_outside_escapes_are_shown():
    err = render_human(every_kind_of_line(HOSTILE), color=True)
    assert "\x1b[1;33mwarning \x1b[0m" in err and "\x1b[1;31merror:\x1b[0m" in err
    assert not CONTROLS.search(OURS.sub("", err)), repr(err)


def exec_process(codex_home: Path, repo: Path, args: list[str], stdout: int) -> subprocess.Popen:
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
    return subprocess.Popen([*codex_command(), "exec", *args], cwd=repo, env=env, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=subprocess.PIPE)


def test_the_final_answer_reaches_a_pipe_byte_for_byte(git_repo: Path, codex_home: Path):
    """A script reads the answer (`codex exec "…" > answer.md`): nothing in it may change."""
    answer = f"Here: {HOSTILE} done."
    with ScriptedServer([Reply(text=answer)]) as server:
        write_provider_config(codex_home, server)
        proc = exec_process(codex_home, git_repo, ["hi"], subprocess.PIPE)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout == (answer + "\n").encode()
    assert not CONTROLS.search(stderr.decode()), stderr


def test_the_final_answer_is_shown_escaped_when_stdout_is_a_terminal(git_repo: Path, codex_home: Path):
    answer = f"Here: {HOSTILE} done."
    with ScriptedServer([Reply(text=answer)]) as server:
        write_provider_config(codex_home, server)
        leader, follower = pty.openpty()
        tty.setraw(follower)  # no "\n" to "\r\n" translation: what the process writes is what we read
        try:
            proc = exec_process(codex_home, git_repo, ["hi"], follower)
        finally:
            os.close(follower)
        seen = read_until_closed(leader)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert seen.decode() == visible(answer) + "\n"


def read_until_closed(fd: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the other side of the pty is closed
        pass
    finally:
        os.close(fd)
    return b"".join(chunks)


# --- codex exec --json -------------------------------------------------------------------------------------------


def test_json_lines_escape_every_control_character_and_decode_to_the_exact_text():
    out, err = io.StringIO(), io.StringIO()
    renderer = JsonRenderer(out=out, err=err)
    for event in [Warning(HOSTILE), Status(HOSTILE), ThreadStarted("t"), TurnStarted(),
                  ItemCompleted(CommandExecution("item_1", HOSTILE, aggregated_output=HOSTILE, exit_code=0,
                                                 status="completed")),
                  ItemCompleted(AgentMessage("item_2", HOSTILE)), TurnCompleted(Usage(), duration_ms=1)]:
        renderer(event)
    lines = out.getvalue().splitlines()
    assert not CONTROLS.search(out.getvalue()), out.getvalue()
    events = [json.loads(line) for line in lines]
    items = [e["item"] for e in events if e["type"] == "item.completed"]
    assert [i.get("text") or i.get("message") or i.get("command") for i in items] == [HOSTILE] * 3
    assert items[1]["aggregated_output"] == HOSTILE
    assert not CONTROLS.search(err.getvalue()), err.getvalue()
    assert f"warning: {visible(HOSTILE)}" in err.getvalue()


def test_json_output_of_a_real_run_carries_the_exact_answer(git_repo: Path, codex_home: Path, run_codex: RunCodex):
    with ScriptedServer([Reply(text=f"ok {HOSTILE}")]) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--json", "hi"], git_repo, timeout=60)
    assert run.returncode == 0, run.stderr
    assert not CONTROLS.search(run.stdout), run.stdout
    [message] = [e["item"]["text"] for e in run.events() if e["type"] == "item.completed"
                 and e["item"]["type"] == "agent_message"]
    assert message == f"ok {HOSTILE}"


# --- the TUI -------------------------------------------------------------------------------------------------------

MARKUP = "[bold red]RED[/bold red] [link=https://evil.invalid]click[/link]"
TEXT = f"{MARKUP} {HOSTILE}"
ESCAPES = ("\\x1b]52;c;cm0gLXJmIH4=\\x07\\x0d\\x1b[2K", "\\x9b31m\\u202e")  # parts of visible(HOSTILE)


REPO_NAME = "re[bold red]po\x1b]0;title\x07"
SHOWN_IN_CELLS: dict[type, tuple[str, ...]] = {  # each widget of the hostile turn, and what it must show as text
    SessionHeader: (visible(REPO_NAME),),
    StatusBar: (visible(REPO_NAME),),
    Notice: ("MCP server loud", MARKUP, *ESCAPES),
    CommandCell: (MARKUP, *ESCAPES, "[link=https://evil.invalid]click[/link]\\x1bP+q544e\\x1b\\  tail"),
    PlanCell: (MARKUP, *ESCAPES),
    McpCell: ("named.echo\\x1b]0;owned\\x07", MARKUP),
    ReasoningCell: (MARKUP, *ESCAPES),
    AgentMessageCell: ("Done. [bold red]RED[/bold red]", *ESCAPES),
}


def shown_in(app, widget) -> str:
    """The screen's text inside the widget's region, line by line (in cells, so wide characters cannot shift it)."""
    region = widget.region
    strips = app.screen._compositor.render_strips()[region.y:region.bottom]
    return "\n".join(strip.crop(region.x, region.right).text for strip in strips)


def terminal_output(app) -> tuple[str, str]:
    """What Textual would write to the terminal for the whole screen now, and the screen's plain text."""
    compositor = app.screen._compositor
    written = compositor.render_full_update().render_segments(app.console)
    plain = "\n".join("".join(segment.text for segment in strip) for strip in compositor.render_strips())
    return written, plain


def assert_shown_as_text(written: str, plain: str, *shown: str) -> None:
    """No escape sequence from outside reaches the terminal, no markup became a link, and each text is on screen."""
    # (found by a list first: pytest's explanation of a failed `in` on a whole screen takes minutes)
    reached = [s for s in ("\x1b]52", "\x1b]0;", "\x1b[2K", "\x1bP", "\x9b", "\u202e", "\x07", "\r") if s in written]
    links = re.findall(r"\x1b\]8;[^;]*;https://evil[^\x1b]*", written)  # a [link] from outside made a real link
    missing = [text for text in shown if text not in plain]
    assert not (reached or links or missing), f"reached the terminal: {reached + links}; not on screen as text: " \
        f"{missing}\n{plain}"


@pytest.mark.asyncio
async def test_tui_cells_show_outside_text_as_text(git_repo: Path, codex_home: Path, tmp_path: Path):
    """A command and its output, a plan, reasoning, a reply, an MCP tool's name and a server's error, all with markup
    and escape sequences in them, in a repository whose directory name has both too."""
    repo = tmp_path / REPO_NAME
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    output = f"printf '%s\\033P+q544e\\033\\\\ \\033]52;c;cm0=\\007 tail\\n' {json.dumps(MARKUP)}"
    script = [
        Reply(tool_calls=(shell_call(f"# {TEXT}\n{output}"),)),
        Reply(tool_calls=(ToolCall("update_plan", {"explanation": TEXT, "plan": [{"step": TEXT,
                                                                                "status": "pending"}]}),)),
        Reply(tool_calls=(ToolCall("mcp__named__echo__0_owned_", {"text": TEXT}),)),
        Reply(text=f"Done. {TEXT}", reasoning=f"Thinking {TEXT}"),
    ]
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"name": "echo\x1b]0;owned\x07", "description": "Echo.",
                                  "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]))
    mcp = (_stdio_table("loud", "--initialize-error", TEXT) + _stdio_table("named", "--tools", str(tools)))
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server, extra=mcp)
        app = _app(repo, codex_home, tmp_path, sandbox_mode="danger-full-access", approval_policy="never")
        async with app.run_test(size=(240, 90)) as pilot:
            await ready(pilot)
            await send(pilot, "go")
            await turn_done(pilot)
            for cell in app.transcript.query(ReasoningCell):
                cell.collapsed = False
            await pilot.pause(0.2)
            written, plain = terminal_output(app)
            cells = {kind: "\n".join(shown_in(app, cell) for cell in app.query(kind)) for kind in SHOWN_IN_CELLS}
    assert_shown_as_text(written, plain)
    missing = [(kind.__name__, text) for kind, texts in SHOWN_IN_CELLS.items() for text in texts
               if text not in cells[kind]]
    assert not missing, f"not shown as text: {missing}\n{plain}"


@pytest.mark.asyncio
async def test_tui_approval_shows_the_command_and_the_models_words_as_text(git_repo: Path, codex_home: Path,
                                                                             tmp_path: Path):
    """The command, its justification, the patch's file name and content: with markup and escapes in each."""
    command = ToolCall("shell", {"command": ["bash", "-lc", f"rm -rf /tmp/nothing-here # {TEXT}"],
                                 "justification": f"Trust me {TEXT}", "with_escalated_permissions": True})
    name = "[bold red]RED[/bold red][link=x]y[/link].txt"
    patch = ToolCall("apply_patch", {"input": f"*** Begin Patch\n*** Add File: {name}\n+{TEXT}\n*** End Patch\n"})
    with ScriptedServer([Reply(tool_calls=(command,)), Reply(tool_calls=(patch,)), Reply(text="ok")]) as server:
        write_provider_config(codex_home, server)
        app = _app(git_repo, codex_home, tmp_path, sandbox_mode="read-only", approval_policy="untrusted")
        async with app.run_test(size=(160, 60)) as pilot:
            await ready(pilot)
            await send(pilot, "go")
            answered: list = []
            screens = []
            for _ in range(2):  # each modal is answered before anything is checked: a pending one would hang the app
                await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen not in answered,
                                 what="the approval modal")
                await pilot.pause(0.2)
                screens.append(terminal_output(app))
                answered.append(app.screen)
                await pilot.press("n")
            await turn_done(pilot)
    for (written, plain), expected in zip(screens, ("Trust me [bold red]RED[/bold red]", f"edits?  {name}"),
                                          strict=True):
        assert_shown_as_text(written, plain, expected, visible(HOSTILE)[:30])


def _stdio_table(name: str, *args: str) -> str:
    server = Path(__file__).parent / "mcp" / "servers" / "hostile_stdio.py"
    return (f"[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\n"
            f"args = {json.dumps([str(server), *args])}\n")


def _app(repo: Path, codex_home: Path, tmp_path: Path, **overrides) -> CodexApp:
    env = {"CODEX_HOME": str(codex_home), "HOME": str(tmp_path)}
    options = Overrides(cwd=repo, **overrides)
    return CodexApp(load_config(options, env=env), overrides=options, env=env)
