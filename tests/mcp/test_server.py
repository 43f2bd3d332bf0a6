"""`codex mcp-server` as a real process, driven by the `mcp` SDK's stdio client against the scripted model server:
the tools as Codex names them, a session started and continued, approvals as elicitations (answered, declined,
and denied where the client cannot be asked), several sessions in one process."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp import types as mcp_types
from mcp.client.stdio import stdio_client

from tests.conftest import GIT_ENV, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

Elicit = Callable[[Any, mcp_types.ElicitRequestParams], Awaitable[mcp_types.ElicitResult]]


def server_params(codex_home: Path, cwd: Path) -> StdioServerParameters:
    codex = shutil.which("codex")
    command, args = (codex, ["mcp-server"]) if codex else (sys.executable, ["-m", "agent.cli", "mcp-server"])
    return StdioServerParameters(command=command, args=args, cwd=str(cwd),
                                 env={**GIT_ENV, "CODEX_HOME": str(codex_home), "PATH": os.environ["PATH"]})


def drive(codex_home: Path, cwd: Path, steps: Callable[[ClientSession], Awaitable[Any]],
          elicit: Elicit | None = None) -> Any:
    async def main() -> Any:
        with open(os.devnull, "w") as errlog:
            async with stdio_client(server_params(codex_home, cwd), errlog=errlog) as (read, write), \
                    ClientSession(read, write, elicitation_callback=elicit) as session:
                await session.initialize()
                with anyio.fail_after(60):
                    return await steps(session)

    return anyio.run(main)


def add_file(name: str) -> ToolCall:
    return ToolCall("apply_patch", {"input": f"*** Begin Patch\n*** Add File: {name}\n+hello\n*** End Patch\n"})


def text_of(result: mcp_types.CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, mcp_types.TextContent))


def test_the_tools_are_codex_and_codex_reply_with_codexs_parameters(git_repo: Path, codex_home: Path):
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server)
        tools = drive(codex_home, git_repo, lambda s: s.list_tools()).tools
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"codex", "codex-reply"}
    assert set(by_name["codex"].input_schema["properties"]) == {
        "prompt", "model", "profile", "cwd", "approval-policy", "sandbox", "config", "base-instructions",
        "developer-instructions", "compact-prompt"}
    assert by_name["codex"].input_schema["required"] == ["prompt"]
    assert set(by_name["codex-reply"].input_schema["properties"]) == {"threadId", "conversationId", "prompt"}


def test_a_session_is_started_and_continued_by_its_thread_id(git_repo: Path, codex_home: Path):
    script = [Reply(text="First answer."), Reply(text="Second answer.")]

    async def steps(session: ClientSession) -> tuple:
        first = await session.call_tool("codex", {"prompt": "hello", "developer-instructions": "Be brief."})
        thread_id = first.structured_content["threadId"]
        second = await session.call_tool("codex-reply", {"threadId": thread_id, "prompt": "and then?"})
        unknown = await session.call_tool("codex-reply", {"threadId": "no-such-thread", "prompt": "x"})
        return first, second, unknown

    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        first, second, unknown = drive(codex_home, git_repo, steps)
        requests = [r.body for r in server.requests if r.method == "POST"]
    assert text_of(first) == "First answer." and not first.is_error
    assert first.structured_content == {"threadId": first.structured_content["threadId"], "content": "First answer."}
    assert second.structured_content == {"threadId": first.structured_content["threadId"],
                                         "content": "Second answer."}
    assert "hello" in str(requests[1]) and "and then?" in str(requests[1]), "the same thread continued"
    assert "Be brief." in str(requests[0])
    assert unknown.is_error and "no session no-such-thread" in text_of(unknown)


def test_approvals_reach_the_client_as_elicitations_answered_and_declined(git_repo: Path, codex_home: Path):
    script = [Reply(tool_calls=(add_file("approved.txt"),)), Reply(text="Added it."),
              Reply(tool_calls=(add_file("declined.txt"),)), Reply(text="Was not allowed.")]
    asked: list[str] = []

    async def elicit(context: Any, params: mcp_types.ElicitRequestParams) -> mcp_types.ElicitResult:
        asked.append(params.message)
        action = "accept" if "approved.txt" in params.message else "decline"
        return mcp_types.ElicitResult(action=action, content={} if action == "accept" else None)

    async def steps(session: ClientSession) -> tuple:
        one = await session.call_tool("codex", {"prompt": "add approved.txt", "approval-policy": "untrusted"})
        two = await session.call_tool("codex", {"prompt": "add declined.txt", "approval-policy": "untrusted"})
        return one, two

    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        one, two = drive(codex_home, git_repo, steps, elicit)
    assert len(asked) == 2 and "approved.txt" in asked[0] and "declined.txt" in asked[1]
    assert (git_repo / "approved.txt").read_text() == "hello\n"
    assert not (git_repo / "declined.txt").exists()
    assert text_of(one) == "Added it." and text_of(two) == "Was not allowed."
    assert one.structured_content["threadId"] != two.structured_content["threadId"], "two sessions, one process"


def test_a_client_without_elicitation_gets_approvals_denied_and_told_so(git_repo: Path, codex_home: Path):
    script = [Reply(tool_calls=(add_file("never.txt"),)), Reply(text="Could not add it.")]

    async def steps(session: ClientSession) -> mcp_types.CallToolResult:
        return await session.call_tool("codex", {"prompt": "add never.txt", "approval-policy": "untrusted"})

    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        result = drive(codex_home, git_repo, steps)
    assert not (git_repo / "never.txt").exists()
    assert text_of(result).startswith("Could not add it.")
    assert "does not support elicitation, so it was denied" in text_of(result)
