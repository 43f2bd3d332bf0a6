"""A real stdio MCP server written by hand (json only, no SDK), for what SDK servers do not do on demand.

    python tests/mcp/servers/handwritten.py [--ask-first] [--ping-after-list FILE] [--initialize-error TEXT]
                                            [--pages N] [--state DIR]

It answers `initialize`, `tools/list` (N pages of one tool each, `tool1` … `toolN`, chained by `nextCursor`),
`tools/call` (the arguments back as text) and `ping`. `--ask-first`: before answering `initialize` it sends the
client a `ping` and a `roots/list` request and exits with status 3 unless the ping gets an empty result and
roots/list an error. `--ping-after-list FILE`: after the last tools/list page it pings the client and writes
the answer to FILE. `--initialize-error TEXT`: `initialize` gets a JSON-RPC error with that message.
`--state DIR`: what the server is like this time is read from files in DIR (a directory, so editing them
changes nothing a tool-list cache key can see): `tools` (one tool per line, `NAME` or `NAME read-only`; one page
instead of `--pages`), `delay` (seconds to sleep before reading stdin), `exit` (present: exit with status 5
after the delay).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def ask(request_id: str, method: str) -> dict[str, Any]:
    """Send the client a request and return its answer (skipping anything else it sends meanwhile)."""
    send({"id": request_id, "method": method})
    for line in sys.stdin:
        message = json.loads(line)
        if message.get("id") == request_id and "method" not in message:
            return message
    sys.exit(4)


def tools_page(page: int, pages: int) -> dict[str, Any]:
    tool = {"name": f"tool{page}", "description": f"Tool {page}.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
    return {"tools": [tool]} | ({"nextCursor": f"page{page + 1}"} if page < pages else {})


def state_tools(state: Path) -> list[dict[str, Any]]:
    tools = []
    for line in (state / "tools").read_text().splitlines():
        name, *flags = line.split()
        tools.append({"name": name, "description": f"Tool {name}.", "annotations": {"readOnlyHint": bool(flags)},
                      "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}})
    return tools


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ask-first", action="store_true")
    parser.add_argument("--ping-after-list")
    parser.add_argument("--initialize-error")
    parser.add_argument("--pages", type=int, default=1)
    parser.add_argument("--state", type=Path)
    args = parser.parse_args()
    if args.state is not None:
        if (args.state / "delay").exists():
            time.sleep(float((args.state / "delay").read_text()))
        if (args.state / "exit").exists():
            sys.exit(5)
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None or method is None:
            continue
        if method == "initialize":
            if args.ask_first and (ask("server-ping", "ping").get("result") != {}
                                   or "error" not in ask("server-roots", "roots/list")):
                sys.exit(3)
            if args.initialize_error:
                send({"id": request_id, "error": {"code": -32603, "message": args.initialize_error}})
                continue
            send({"id": request_id, "result": {
                "protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "handwritten", "version": "1"}}})
        elif method == "tools/list":
            cursor = (message.get("params") or {}).get("cursor")
            page = int(cursor.removeprefix("page")) if cursor else 1
            listed = {"tools": state_tools(args.state)} if args.state else tools_page(page, args.pages)
            send({"id": request_id, "result": listed})
            if page == args.pages and args.ping_after_list:
                answer = ask("server-ping-later", "ping")
                with open(args.ping_after_list, "w", encoding="utf-8") as out:
                    json.dump(answer, out)
        elif method == "tools/call":
            text = json.dumps(message["params"].get("arguments") or {})
            send({"id": request_id, "result": {"content": [{"type": "text", "text": text}]}})
        elif method == "ping":
            send({"id": request_id, "result": {}})
        else:
            send({"id": request_id, "error": {"code": -32601, "message": f"no method {method}"}})


if __name__ == "__main__":
    main()
