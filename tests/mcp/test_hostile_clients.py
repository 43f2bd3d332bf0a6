"""Hostile and careless MCP clients against `codex mcp-server` (agent/mcp/server.py): the real process, spoken to
by a hand-written JSON-RPC client (so it can send what the SDK's client never would, and disconnect mid-turn),
with the scripted model server behind it.

Each test that fails says in its docstring what a user (or the client's author) sees; "Holds:" marks the few
kept for attacks that did not break anything."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import GIT_ENV, codex_command, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall
from tests.mcp.conftest import cmdline

SERVERS = Path(__file__).parent / "servers"
Answer = Callable[[dict[str, Any]], dict[str, Any]]


class RawClient:
    """`codex mcp-server` as a child process, and newline-delimited JSON-RPC written and read by hand."""

    def __init__(self, codex_home: Path, cwd: Path, elicitation: Answer | None = None) -> None:
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
        self.stderr = open(codex_home / "mcp-server.stderr", "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen([*codex_command(), "mcp-server"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr, start_new_session=True)
        self.elicitation = elicitation
        self.asked: list[dict[str, Any]] = []
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._ids = iter(range(1, 1_000_000))
        self._write_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if "method" in message and "id" in message:  # a request from the server
                self.asked.append(message)
                if message["method"] == "elicitation/create" and self.elicitation is not None:
                    self.send({"id": message["id"], "result": self.elicitation(message["params"])})
                else:
                    self.send({"id": message["id"], "error": {"code": -32601, "message": "not supported"}})
            elif "id" in message:
                self._answers.put(message)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self._write_lock:
            self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
            self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        request_id = next(self._ids)
        self.send({"id": request_id, "method": method} | ({"params": params} if params is not None else {}))
        return request_id

    def answers(self, ids: set[int], timeout: float = 30) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while set(found) != ids:
            message = self._answers.get(timeout=max(deadline - time.monotonic(), 0.01))
            found[message["id"]] = message
        return found

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        request_id = self.request(method, params)
        return self.answers({request_id}, timeout)[request_id]

    def initialize(self) -> None:
        capabilities = {"elicitation": {}} if self.elicitation is not None else {}
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": capabilities,
                                 "clientInfo": {"name": "hostile", "version": "0"}})
        self.send({"method": "notifications/initialized"})

    def disconnect(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, 9)  # our child's own group: it and what it started
        self.process.wait(5)
        self.stderr.close()


def text_of(answer: dict[str, Any]) -> str:
    return "".join(block.get("text", "") for block in answer["result"]["content"])


def add_file(name: str) -> ToolCall:
    return ToolCall("apply_patch", {"input": f"*** Begin Patch\n*** Add File: {name}\n+hello\n*** End Patch\n"})


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_malformed_calls_get_error_results_and_the_server_keeps_serving(git_repo: Path, codex_home: Path):
    """Holds: an unknown tool, no arguments, a prompt that is a list, a threadId that is an object, `config` that
    is a string and an unknown thread each get an error result naming the problem, and the server still answers."""
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo)
        try:
            client.initialize()
            calls = [("rm-rf", {"prompt": "x"}), ("codex", None), ("codex", {"prompt": ["a", "list"]}),
                     ("codex-reply", {"threadId": {"$gt": ""}, "prompt": "x"}),
                     ("codex", {"prompt": "x", "config": "model=evil"}),
                     ("codex-reply", {"threadId": "../../etc/passwd", "prompt": "x"})]
            ids = {client.request("tools/call", {"name": name} | ({"arguments": args} if args is not None else {}))
                   for name, args in calls}
            answers = client.answers(ids)
            for answer in answers.values():
                assert answer["result"]["isError"] is True, answer
            assert "rm-rf" in text_of(answers[min(ids)])
            assert len(client.call("tools/list")["result"]["tools"]) == 2
        finally:
            client.close()


def test_an_elicitation_answer_with_an_unknown_decision_does_not_approve(git_repo: Path, codex_home: Path):
    """`_Asker.ask` turns any `decision` outside its four words into "approve": a client whose form sends
    "Deny", "no" or "refuse" (a typo, another client's vocabulary) gets the edit made. Expected: an unrecognised
    decision denies (fails closed), or the elicitation is asked again."""
    script = [Reply(tool_calls=(add_file("unwanted.txt"),)), Reply(text="Tried.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo,
                           elicitation=lambda params: {"action": "accept", "content": {"decision": "Deny"}})
        try:
            client.initialize()
            answer = client.call("tools/call", {"name": "codex", "arguments": {
                "prompt": "add unwanted.txt", "approval-policy": "untrusted"}})
            assert [m["method"] for m in client.asked] == ["elicitation/create"], client.asked
            assert "result" in answer, answer
        finally:
            client.close()
    assert not (git_repo / "unwanted.txt").exists(), "a decision of 'Deny' approved the edit"


def test_an_elicitation_answer_that_is_not_an_elicit_result_denies_and_the_turn_ends(git_repo: Path,
                                                                                    codex_home: Path):
    """An answer the SDK cannot read as an ElicitResult (`action` "maybe"): the turn must end (deny) with a result
    for the client, not hang or approve."""
    script = [Reply(tool_calls=(add_file("bogus.txt"),)), Reply(text="Tried.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo, elicitation=lambda params: {"action": "maybe", "content": 5})
        try:
            client.initialize()
            answer = client.call("tools/call", {"name": "codex", "arguments": {
                "prompt": "add bogus.txt", "approval-policy": "untrusted"}}, timeout=20)
            assert "result" in answer or "error" in answer
        finally:
            client.close()
    assert not (git_repo / "bogus.txt").exists()


def test_two_concurrent_calls_on_one_thread_run_one_after_the_other(git_repo: Path, codex_home: Path):
    """Holds: two `codex-reply` calls sent at once on the same thread both answer, each with its own turn's
    message, and the model saw them one after the other (the second request holds the first's answer)."""
    script = [Reply(text="Started."), Reply(text="Answer one."), Reply(text="Answer two.")]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo)
        try:
            client.initialize()
            first = client.call("tools/call", {"name": "codex", "arguments": {"prompt": "start"}})
            thread_id = first["result"]["structuredContent"]["threadId"]
            ids = [client.request("tools/call", {"name": "codex-reply", "arguments": {
                "threadId": thread_id, "prompt": f"question {n}"}}) for n in (1, 2)]
            answers = client.answers(set(ids))
        finally:
            client.close()
        bodies = [json.dumps(r.body) for r in server.requests if r.method == "POST"]
    texts = sorted(text_of(answers[i]) for i in ids)
    assert texts == ["Answer one.", "Answer two."]
    assert "Answer one." in bodies[2] or "Answer two." in bodies[2], "the later turn saw the earlier one"


def late_touch_script() -> list[Reply]:
    """A turn whose command takes 3 s and then leaves late.txt, then the answer."""
    return [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-c", "sleep 3; touch late.txt"]}),)),
            Reply(text="Done.")]


def model_requests(server: ScriptedServer) -> int:
    return len([r for r in server.requests if r.method == "POST"])


def start_late_touch(client: RawClient, server: ScriptedServer) -> int:
    """Start a `codex` call running late_touch_script's command; its request id, once the command runs."""
    client.initialize()
    request_id = client.request("tools/call", {"name": "codex", "arguments": {
        "prompt": "touch late.txt", "approval-policy": "never", "sandbox": "workspace-write"}})
    assert wait_until(lambda: model_requests(server) >= 1, 20)
    time.sleep(0.5)  # the shell call is running
    return request_id


def test_a_client_that_disconnects_mid_turn_stops_the_turn_and_the_process(git_repo: Path, codex_home: Path):
    """The client closes stdin while the turn runs a command (`sleep 3; touch late.txt`). Before the fix the
    process stayed until the turn ended on its own: the command finished, the file appeared, and the model was
    asked again for a client that is gone. Expected: the end of stdin interrupts the running turns (their
    commands killed) and the process exits within a couple of seconds."""
    marker = git_repo / "late.txt"
    with ScriptedServer(late_touch_script()) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo)
        try:
            start_late_touch(client, server)
            disconnected = time.monotonic()
            client.disconnect()
            exited = wait_until(lambda: client.process.poll() is not None, 2)
            time.sleep(max(0.0, disconnected + 4.0 - time.monotonic()))
            requests_after = model_requests(server)
        finally:
            client.close()
    assert (exited, marker.exists(), requests_after) == (True, False, 1), \
        "(exited within 2 s, the command finished, model requests) after the client disconnected"


def test_a_cancelled_call_interrupts_its_turn(git_repo: Path, codex_home: Path):
    """The client sends `notifications/cancelled` for a running `codex` call (its user pressed stop). The SDK
    cancels the handler, but the turn runs on in its worker thread: the command (`sleep 3; touch late.txt`)
    finishes and the model is asked again, for an answer nobody will read; the thread's next `codex-reply`
    waits for all of it. Expected: cancelling the request interrupts the turn (agent.protocol.Interrupt)."""
    marker = git_repo / "late.txt"
    with ScriptedServer(late_touch_script()) as server:
        write_provider_config(codex_home, server)
        client = RawClient(codex_home, git_repo)
        try:
            request_id = start_late_touch(client, server)
            cancelled = time.monotonic()
            client.send({"method": "notifications/cancelled", "params": {"requestId": request_id,
                                                                          "reason": "the user pressed stop"}})
            time.sleep(max(0.0, cancelled + 4.0 - time.monotonic()))
            requests_after = model_requests(server)
        finally:
            client.close()
    assert (marker.exists(), requests_after) == (False, 1), "(the command finished, model requests) after cancel"


def test_a_codex_call_without_a_prompt_opens_no_session(git_repo: Path, codex_home: Path):
    """`_call_tool` opens the session (model client, the config's MCP servers, a rollout file) before it checks the
    prompt, so each `codex` call with an empty prompt gets its error result and leaves a session behind: one more
    rollout in `codex resume`'s list and one more MCP server process each time, kept until the process exits.
    Expected: the arguments are checked first."""
    tools = codex_home / "none.json"
    tools.write_text("[]")
    marker = f"--tools {tools}"  # only this test's servers have it
    with ScriptedServer([]) as server:
        write_provider_config(codex_home, server, extra=f'[mcp_servers.h]\ncommand = "{sys.executable}"\n'
                              f'args = ["{SERVERS / "hostile_stdio.py"}", "--tools", "{tools}"]\n')
        client = RawClient(codex_home, git_repo)
        try:
            client.initialize()
            for _ in range(3):
                answer = client.call("tools/call", {"name": "codex", "arguments": {"prompt": " "}})
                assert answer["result"]["isError"] and "prompt must be a non-empty string" in text_of(answer)
            time.sleep(0.5)  # a server spawned by the last call is running by now
            servers = [pid for pid in _pids() if marker in cmdline(pid)]
        finally:
            client.close()
    rollouts = list((codex_home / "sessions").rglob("*.jsonl")) if (codex_home / "sessions").exists() else []
    assert (len(rollouts), len(servers)) == (0, 0), "(rollouts, MCP server processes) left by 3 calls without a prompt"


def test_a_codex_call_that_fails_to_open_its_session_stops_the_mcp_servers_it_started(git_repo: Path,
                                                                                       codex_home: Path):
    """`_open` starts the session's own MCP servers before it builds the model client; when that fails (here the
    provider's `env_key` is not set) the error result goes back but the servers are never closed: every such
    call leaves one more server process running for the life of `codex mcp-server` (an IDE keeps it for hours).
    Expected: a failed open closes what it started."""
    server_script = SERVERS / "hostile_stdio.py"
    tools = codex_home / "none.json"
    tools.write_text("[]")
    marker = f"--tools {tools}"  # only this test's servers have it
    (codex_home / "config.toml").write_text(
        'model = "scripted"\nmodel_provider = "keyed"\n'
        '[model_providers.keyed]\nname = "Keyed"\nbase_url = "http://127.0.0.1:9/v1"\nwire_api = "chat"\n'
        'env_key = "NO_SUCH_API_KEY_VARIABLE_XYZ"\n'
        f'[mcp_servers.h]\ncommand = "{sys.executable}"\n'
        f'args = ["{server_script}", "--stderr-mib", "0", "--tools", "{tools}"]\n')
    client = RawClient(codex_home, git_repo)
    try:
        client.initialize()
        for _ in range(2):
            answer = client.call("tools/call", {"name": "codex", "arguments": {"prompt": "hi"}})
            assert answer["result"]["isError"] and "NO_SUCH_API_KEY_VARIABLE_XYZ" in text_of(answer), answer
        running = lambda: [pid for pid in _pids() if marker in cmdline(pid)]  # noqa: E731
        assert wait_until(lambda: not running(), 3), f"{len(running())} MCP server processes left running"
    finally:
        client.close()


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]
