"""A hostile stdio MCP server written by hand (json only, no SDK): it says what a test tells it to, including
what the SDK would never send.

    python tests/mcp/servers/hostile_stdio.py [--tools FILE] [--initialize FILE] [--initialize-error TEXT]
        [--stderr-mib N] [--child PIDFILE] [--child-holds-stdout PIDFILE] [--ignore-term] [--result FILE]
        [--ask-during-call FILE]

`--tools FILE`: tools/list answers with the JSON list in FILE (default: `echo` and `crash`). `--initialize FILE`:
the `initialize` result is the JSON object in FILE (default: a valid one). `--initialize-error TEXT`:
`initialize` gets a JSON-RPC error with that message. `--stderr-mib N`: writes N MiB to stderr once started.
`--child PIDFILE`: starts `sleep 60` (its stdio on /dev/null, in our process group) and writes its pid there.
`--child-holds-stdout PIDFILE`: the same, but the child inherits our stdout, so the pipe stays open after we exit.
`--ignore-term`: SIGTERM is ignored and the end of stdin does not end the process. `--result FILE`: every
tools/call answers with FILE's bytes as the raw `result` (any JSON, however deep, any bytes).
`--ask-during-call FILE`: during a tools/call it first sends the client sampling/createMessage, roots/list and
elicitation/create and writes the answers to FILE (a JSON list). The tool `crash` exits the process with
status 3 mid-call; any other tool answers with its arguments as text.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

ECHO = {"name": "echo", "description": "Echo.", "inputSchema": {"type": "object",
                                                                "properties": {"text": {"type": "string"}}}}
CRASH = {"name": "crash", "description": "Exits mid-call.", "inputSchema": {"type": "object"}}


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def ask(request_id: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    send({"id": request_id, "method": method, "params": params})
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("id") == request_id and "method" not in message:
            return message
    sys.exit(4)


def start_child(pidfile: str, holds_stdout: bool) -> None:
    out = None if holds_stdout else subprocess.DEVNULL
    child = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
    with open(pidfile, "w", encoding="utf-8") as file:
        file.write(str(child.pid))


def read_json(path: str | None, default: Any) -> Any:
    if path is None:
        return default
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools")
    parser.add_argument("--initialize")
    parser.add_argument("--initialize-error")
    parser.add_argument("--stderr-mib", type=int, default=0)
    parser.add_argument("--child")
    parser.add_argument("--child-holds-stdout")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--result")
    parser.add_argument("--ask-during-call")
    args = parser.parse_args()
    tools = read_json(args.tools, [ECHO, CRASH])
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child or args.child_holds_stdout:
        start_child(args.child or args.child_holds_stdout, holds_stdout=bool(args.child_holds_stdout))
    block = b"e" * 1023 + b"\n"
    for _ in range(args.stderr_mib * 1024):
        sys.stderr.buffer.write(block)
    sys.stderr.flush()
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None or method is None:
            continue
        if method == "initialize":
            if args.initialize_error:
                send({"id": request_id, "error": {"code": -32603, "message": args.initialize_error}})
                continue
            send({"id": request_id, "result": read_json(args.initialize, {
                "protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1"}})})
        elif method == "tools/list":
            send({"id": request_id, "result": {"tools": tools}})
        elif method == "tools/call":
            call(message, request_id, args)
        elif method == "ping":
            send({"id": request_id, "result": {}})
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"no method {method}"}})
    while args.ignore_term:
        time.sleep(1)


def call(message: dict[str, Any], request_id: Any, args: argparse.Namespace) -> None:
    params = message.get("params") or {}
    if params.get("name") == "crash":
        os._exit(3)
    if args.ask_during_call:
        answers = [ask("s-sampling", "sampling/createMessage", {"messages": [], "maxTokens": 1}),
                   ask("s-roots", "roots/list", {}),
                   ask("s-elicit", "elicitation/create", {"message": "Approve?", "requestedSchema": {
                       "type": "object", "properties": {}}})]
        with open(args.ask_during_call, "w", encoding="utf-8") as file:
            json.dump(answers, file)
    if args.result:
        with open(args.result, "rb") as file:
            raw = file.read()
        head = '{"jsonrpc": "2.0", "id": ' + json.dumps(request_id) + ', "result": '
        sys.stdout.buffer.write(head.encode() + raw + b"}\n")
        sys.stdout.flush()
        return
    text = json.dumps(params.get("arguments") or {})
    send({"id": request_id, "result": {"content": [{"type": "text", "text": text}]}})


if __name__ == "__main__":
    main()
