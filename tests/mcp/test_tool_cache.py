"""A stdio MCP server's tool list from the last run is offered at once while the server starts (agent/mcp/
tool_cache.py): the first request does not wait; calls wait for the server and follow its current list and
annotations; a changed list is said once and offered from the next request; a server that no longer starts
answers with its failure; the key sees the command line and the installed files; nothing of the environment is
written; a sandboxed command cannot plant an entry. Real processes: the hand-written server with `--state`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from agent.config import McpServerConfig
from agent.mcp import tool_cache
from agent.mcp.connections import McpConnections, McpTool
from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall
from tests.mcp.conftest import load, stdio_table

HANDWRITTEN = Path(__file__).parent / "servers" / "handwritten.py"
DELAY = 2.5  # how long a "slow" server sleeps before it reads its stdin


def state(directory: Path, tools: list[str], delay: float = 0.0, exits: bool = False) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "tools").write_text("\n".join(tools) + "\n")
    (directory / "delay").write_text(str(delay))
    (directory / "exit").unlink(missing_ok=True)
    if exits:
        (directory / "exit").write_text("")
    return directory


def table(directory: Path, *extra: str, server: Path = HANDWRITTEN, **keys: object) -> str:
    return stdio_table("hand", sys.executable, [str(server), "--state", str(directory), *extra], **keys)


def session(codex_home: Path, text: str) -> tuple[McpConnections, list[McpTool], list[str], float]:
    """Start the servers and take the first request's tools: (connections, tools, warnings, seconds taken)."""
    connections = McpConnections.start(load(codex_home, text))
    warnings: list[str] = []
    started = time.monotonic()
    tools = connections.tools(warnings.append)
    return connections, tools, warnings, time.monotonic() - started


def names(tools: list[McpTool]) -> list[str]:
    return sorted(t.name for t in tools)


def run_once(codex_home: Path, text: str) -> None:
    """A session that takes the server's list (and so caches it), then ends."""
    connections, tools, warnings, _ = session(codex_home, text)
    connections.close()
    assert tools and warnings == [], warnings


def test_the_next_session_offers_the_cached_list_at_once_and_calls_wait_for_the_server(
        codex_home: Path, tmp_path: Path):
    text = table(state(tmp_path / "s", ["tool1"]))
    run_once(codex_home, text)
    state(tmp_path / "s", ["tool1"], delay=DELAY)
    connections, tools, warnings, seconds = session(codex_home, text)
    try:
        assert names(tools) == ["tool1"] and warnings == []
        assert seconds < DELAY / 2, f"the first request waited {seconds:.2f} s for a server whose list is cached"
        current = connections.current(tools[0], threading.Event())
        assert isinstance(current, McpTool) and current.name == "tool1"
        outcome = connections.call(current, {"text": "hi"}, threading.Event())
        assert outcome.error is None and json.loads(outcome.result.content[0]["text"]) == {"text": "hi"}
        assert names(connections.tools(warnings.append)) == ["tool1"] and warnings == []
    finally:
        connections.close()


def test_a_changed_list_is_said_once_and_the_current_one_is_offered_from_the_next_request(
        codex_home: Path, tmp_path: Path):
    text = table(state(tmp_path / "s", ["kept", "dropped"]))
    run_once(codex_home, text)
    state(tmp_path / "s", ["kept", "added"], delay=DELAY)
    connections, tools, warnings, _ = session(codex_home, text)
    try:
        assert names(tools) == ["dropped", "kept"] and warnings == []
        dropped = next(t for t in tools if t.name == "dropped")
        why = connections.current(dropped, threading.Event())  # waits for the server's own list
        assert why == ("MCP server hand no longer offers the tool dropped (its tool list changed since it was "
                       "cached); the current tools are offered from the next request")
        assert names(connections.tools(warnings.append)) == ["added", "kept"]
        assert len(warnings) == 1 and warnings[0].startswith(
            "MCP server hand now lists other tools than those cached in ") and "from the next request on" in warnings[0]
        assert names(connections.tools(warnings.append)) == ["added", "kept"] and len(warnings) == 1
    finally:
        connections.close()
    entry = tool_cache.read(next((codex_home / "cache" / "mcp-tools").glob("hand-*.json")))
    assert [t["name"] for t in entry.tools] == ["kept", "added"], "the current list is kept for the next run"


def test_the_request_that_first_offers_a_changed_list_says_so(codex_home: Path, tmp_path: Path):
    text = table(state(tmp_path / "s", ["old"]))
    run_once(codex_home, text)
    state(tmp_path / "s", ["new"], delay=1.0)
    connections, tools, warnings, _ = session(codex_home, text)
    try:
        assert names(tools) == ["old"] and warnings == []
        time.sleep(3)  # the server is up
        assert names(connections.tools(warnings.append)) == ["new"]
        assert len(warnings) == 1 and "now lists other tools" in warnings[0]
    finally:
        connections.close()


def test_a_server_that_no_longer_starts_answers_calls_to_its_cached_tools_with_its_failure(
        codex_home: Path, tmp_path: Path):
    text = table(state(tmp_path / "s", ["tool1"]))
    run_once(codex_home, text)
    state(tmp_path / "s", ["tool1"], delay=1.0, exits=True)
    connections, tools, warnings, _ = session(codex_home, text)
    try:
        assert names(tools) == ["tool1"]
        why = connections.current(tools[0], threading.Event())
        assert why == "MCP server hand did not start (it exited with status 5)"
        assert connections.tools(warnings.append) == []
        assert len(warnings) == 1 and warnings[0].startswith("MCP server hand did not start: it exited with status 5")
    finally:
        connections.close()


def test_the_key_sees_the_command_line_and_an_edited_server_file(codex_home: Path, tmp_path: Path):
    server = tmp_path / "server.py"
    server.write_bytes(HANDWRITTEN.read_bytes())
    directory = state(tmp_path / "s", ["tool1"])
    run_once(codex_home, table(directory, server=server))
    state(tmp_path / "s", ["tool1"], delay=1.5)
    for text in (table(directory, "--pages", "1", server=server), table(directory, server=HANDWRITTEN)):
        connections, tools, _, seconds = session(codex_home, text)
        connections.close()
        assert names(tools) == ["tool1"] and seconds >= 1.5, "another command line waits for its own list"
    server.write_bytes(HANDWRITTEN.read_bytes() + b"\n# edited\n")
    connections, _, _, seconds = session(codex_home, table(directory, server=server))
    connections.close()
    assert seconds >= 1.5, "an edited server file is a new key"


def test_a_symlink_at_an_entry_is_not_read_and_the_next_write_replaces_it_not_its_target(
        codex_home: Path, tmp_path: Path):
    directory = state(tmp_path / "s", ["tool1"], delay=1.5)
    config = load(codex_home, table(directory))
    entry = tool_cache.entry_path(codex_home, config.mcp_servers["hand"], os.environ, Path.cwd())
    planted = tmp_path / "planted.json"
    planted.write_text(json.dumps({"format": tool_cache.FORMAT, "tools": [{"name": "planted", "inputSchema": {}}]}))
    entry.parent.mkdir(parents=True)
    entry.symlink_to(planted)
    connections, tools, _, seconds = session(codex_home, table(directory))
    connections.close()
    assert names(tools) == ["tool1"] and seconds >= 1.5, "a symlinked entry is a miss"
    assert "planted" in planted.read_text() and not entry.is_symlink()
    assert [t["name"] for t in tool_cache.read(entry).tools] == ["tool1"]


def test_a_writer_killed_mid_write_leaves_the_old_entry_and_one_leftover_the_next_write_replaces(tmp_path: Path):
    """`kill -9` while an entry is written: the entry is the old one or the new one, never half of one."""
    path = tool_cache.entry_path(tmp_path, McpServerConfig("srv", "prog"), {}, tmp_path)
    tool_cache.write(path, [{"name": "old", "inputSchema": {}}], problems={})
    code = f"""if True:
        import os, sys
        from pathlib import Path
        import agent.fileio as fileio
        from agent.mcp import tool_cache
        real = fileio.write_all
        def write_half(fd, data):
            real(fd, data[: len(data) // 2])
            os.kill(os.getpid(), 9)
        fileio.write_all = write_half
        tool_cache.write(Path({str(path)!r}), [{{"name": "new", "inputSchema": {{}}}}], problems={{}})
    """
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    assert [t["name"] for t in tool_cache.read(path).tools] == ["old"]
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert leftovers == [f".{path.name}.tmp"]
    tool_cache.write(path, [{"name": "new", "inputSchema": {}}], problems={})
    assert [t["name"] for t in tool_cache.read(path).tools] == ["new"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_an_entry_holds_no_environment_value_and_each_server_keeps_eight(codex_home: Path, tmp_path: Path):
    run_once(codex_home, table(state(tmp_path / "s", ["tool1"]), env={"API_KEY": "s3cret-value"}))
    cached = list((codex_home / "cache" / "mcp-tools").iterdir())
    assert len(cached) == 1 and "s3cret-value" not in cached[0].read_text()
    assert cached[0].stat().st_mode & 0o077 == 0, "only the user reads the cache"
    for n in range(10):
        path = tool_cache.entry_path(codex_home, McpServerConfig("other", "prog", (str(n),)), {}, tmp_path)
        tool_cache.write(path, [{"name": f"t{n}", "inputSchema": {}}], problems={})
        time.sleep(0.01)
    kept = sorted(p.name for p in (codex_home / "cache" / "mcp-tools").glob("other-*.json"))
    assert len(kept) == 8 and len(list((codex_home / "cache" / "mcp-tools").glob("hand-*.json"))) == 1


def test_exec_judges_a_call_by_the_servers_current_annotations_not_the_cached_ones(
        git_repo: Path, codex_home: Path, run_codex: RunCodex, tmp_path: Path):
    """Cached as read-only, now not: under on-request exec must deny the call, as for a fresh list."""
    directory = state(tmp_path / "s", ["write read-only"])
    script = [Reply(tool_calls=(ToolCall("mcp__hand__write", {"text": "x"}),)), Reply(text="done")]
    for delay, status in ((0.0, "completed"), (DELAY, "failed")):
        state(directory, ["write" if delay else "write read-only"], delay=delay)
        with ScriptedServer(script) as server:
            write_provider_config(codex_home, server, extra=table(directory))
            run = run_codex(["exec", "--json", "-a", "on-request", "write it"], git_repo)
        assert run.returncode == 0, run.stderr
        first = server.requests[0].body
        assert "mcp__hand__write" in json.dumps(first["tools"]), "the first request offers the (cached) tool"
        completed = [e["item"] for e in run.events()
                     if e["type"] == "item.completed" and e["item"]["type"] == "mcp_tool_call"]
        assert [item["status"] for item in completed] == [status], run.stderr
    assert completed[0]["error"]["message"] == "the user declined the call to write of MCP server hand"


def test_a_sandboxed_command_cannot_plant_a_cached_list(git_repo: Path, codex_home: Path, run_codex: RunCodex,
                                                         tmp_path: Path):
    directory = state(tmp_path / "s", ["tool1"], delay=1.0)
    config = load(codex_home, table(directory))
    entry = tool_cache.entry_path(codex_home, config.mcp_servers["hand"], os.environ, git_repo)
    planted = json.dumps({"format": tool_cache.FORMAT, "tools": [{"name": "planted", "inputSchema": {}}]})
    command = f"mkdir -p {entry.parent} && printf '%s' '{planted}' > {entry}"
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-c", command]}),)), Reply(text="done")]
    runs = []
    for prompt, replies in (("plant it", script), ("again", [Reply(text="done")])):
        with ScriptedServer(replies) as server:
            write_provider_config(codex_home, server, extra=table(directory))
            runs.append(run_codex(["exec", "--json", "-s", "workspace-write", prompt], git_repo))
        assert runs[-1].returncode == 0, runs[-1].stderr
    # The command may even succeed: CODEX_HOME is under /tmp here, and the sandbox's /tmp is its own.
    assert "planted" not in entry.read_text(), "the entry is the server's own list"
    assert "mcp__hand__planted" not in json.dumps(server.requests[0].body)


def test_with_the_list_cached_neither_the_sdk_nor_jsonschema_is_imported_before_a_call(
        codex_home: Path, tmp_path: Path):
    """The start-up's CPU is the model's: with the list cached, the first request's tools import nothing, the
    server's unchanged list needs no schema check, and the first call imports the SDK and works."""
    text = table(state(tmp_path / "s", ["tool1"]))
    run_once(codex_home, text)
    state(tmp_path / "s", ["tool1"], delay=1.5)
    code = """if True:
        import sys, threading, time
        from agent.config import load_config
        from agent.mcp.startup import start_servers
        def imported():
            return sorted(n for n in ("mcp", "jsonschema") if n in sys.modules)
        servers = start_servers(load_config())
        tools = servers.tools(print)
        before = imported()
        current = servers.current(tools[0], threading.Event())
        up = imported()
        outcome = servers.call(current, {"text": "hi"}, threading.Event())
        print("ok", [t.name for t in tools], before, up, imported(), outcome.error)
        servers.close()
    """
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "CODEX_HOME": str(codex_home)},
                          cwd=os.getcwd(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok ['tool1'] [] [] ['mcp'] None", done.stdout
