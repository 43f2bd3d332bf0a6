"""`codex mcp list | get NAME | add NAME -- COMMAND… | add NAME --url URL | remove NAME`: read and edit the
`[mcp_servers]` tables of CODEX_HOME/config.toml, keeping every other byte of the file as it was.

Why the edit is done on the text, not through a TOML round-trip library: tomlkit, the usual one, keeps a removed
table's neighbours' comments only sometimes (a comment line just above the next table belongs, for it, to the
table removed) and inserts a new table between existing ones. Here a table is the lines from its header to the next
header; the comment lines right above the next header stay with it; a new server is appended at the end. Every edit
is then checked by parsing both versions with tomllib: unless the only difference is that one server, nothing is
written. A server written in a form this cannot edit (inline `mcp_servers = {…}`, dotted keys) is refused with a
message saying so. The file is replaced atomically (agent.fileio.write_atomic) with its permissions kept.

Listing reads the servers through agent.config, so it shows what a session would start.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.arguments import Parser
from agent.config import Config, McpServerConfig, load_config
from agent.errors import UserError
from agent.fileio import write_atomic

NAME = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = re.compile(r"^\s*\[\[?(?P<key>[^\[\]]*)\]\]?\s*(#.*)?$")


# --- the command ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="codex mcp", description="Manage the MCP servers in config.toml.")
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    listing = commands.add_parser("list", help="list the configured servers")
    listing.add_argument("--json", action="store_true")
    get = commands.add_parser("get", help="show one server")
    get.add_argument("name")
    get.add_argument("--json", action="store_true")
    add = commands.add_parser("add", help="add a server: NAME -- COMMAND [ARGS…], or NAME --url URL")
    add.add_argument("name")
    add.add_argument("--url", help="a streamable HTTP server")
    add.add_argument("--bearer-token-env-var", metavar="ENV_VAR", help="with --url: the variable holding the token")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="stdio: set a variable")
    remove = commands.add_parser("remove", help="remove a server")
    remove.add_argument("name")
    return parser


def run_mcp_command(argv: Sequence[str], overrides: Any = None) -> int:
    """`codex mcp …`; prints to stdout, raises UserError for a mistake."""
    argv, command = _split_command(list(argv))
    args = build_parser().parse_args(argv)
    config = load_config(overrides) if overrides is not None else load_config()
    if args.action == "list":
        print(list_text(config, args.json))
    elif args.action == "get":
        print(get_text(config, args.name, args.json))
    elif args.action == "add":
        server = server_table(args.name, command, args.url, args.bearer_token_env_var, args.env)
        replaced = add_server(config.config_file, args.name, server)
        print(f"{'Updated' if replaced else 'Added'} MCP server {args.name} in {config.config_file}.")
    else:
        remove_server(config.config_file, args.name)
        print(f"Removed MCP server {args.name} from {config.config_file}.")
    return 0


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """`add NAME [options] -- COMMAND…`: the options, and the server's command line after `--`."""
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1:]


def server_table(name: str, argv: Sequence[str], url: str | None, bearer_env: str | None,
                 env: Sequence[str]) -> dict[str, Any]:
    if not NAME.fullmatch(name):
        raise UserError(f"MCP server name {name!r} may hold only letters, digits, _ and -; pick e.g. docs")
    command = list(argv)
    if bool(command) == bool(url):
        raise UserError("codex mcp add: give either the command after -- (codex mcp add docs -- docs-server) or "
                        "--url (codex mcp add docs --url http://127.0.0.1:4000/mcp), not both and not neither")
    if url:
        if env:
            raise UserError("codex mcp add: --env is for stdio servers; an HTTP server takes --bearer-token-env-var")
        return {"url": url} | ({"bearer_token_env_var": bearer_env} if bearer_env else {})
    if bearer_env:
        raise UserError("codex mcp add: --bearer-token-env-var is for --url servers; a stdio server takes --env")
    table: dict[str, Any] = {"command": command[0]}
    if command[1:]:
        table["args"] = command[1:]
    if env:
        table["env"] = dict(_env_pair(pair) for pair in env)
    return table


def _env_pair(pair: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise UserError(f"codex mcp add: --env {pair!r} is not KEY=VALUE; write e.g. --env API_KEY=secret")
    return key, value


# --- listing ---------------------------------------------------------------------------------------------------


def server_json(server: McpServerConfig) -> dict[str, Any]:
    if server.command is not None:
        transport: dict[str, Any] = {"type": "stdio", "command": server.command, "args": list(server.args),
                                     "env": dict(server.env) or None, "env_vars": list(server.env_vars),
                                     "cwd": str(server.cwd) if server.cwd else None}
    else:
        transport = {"type": "streamable_http", "url": server.url,
                     "bearer_token_env_var": server.bearer_token_env_var,
                     "http_headers": dict(server.http_headers) or None,
                     "env_http_headers": dict(server.env_http_headers) or None}
    return {"name": server.name, "enabled": server.enabled, "transport": transport,
            "startup_timeout_sec": server.startup_timeout_sec, "tool_timeout_sec": server.tool_timeout_sec,
            "enabled_tools": list(server.enabled_tools) if server.enabled_tools is not None else None,
            "disabled_tools": list(server.disabled_tools)}


def list_text(config: Config, as_json: bool) -> str:
    servers = sorted(config.mcp_servers.values(), key=lambda s: s.name)
    if as_json:
        return json.dumps([server_json(s) for s in servers], indent=2)
    if not servers:
        return f"No MCP servers configured in {config.config_file}; add one with codex mcp add NAME -- COMMAND…"
    rows = [("Name", "Transport", "Command / URL", "Status")]
    for s in servers:
        target = " ".join([s.command, *s.args]) if s.command is not None else s.url or ""
        rows.append((s.name, s.transport, target, "enabled" if s.enabled else "disabled"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
                     for row in rows)


def get_text(config: Config, name: str, as_json: bool) -> str:
    server = config.mcp_servers.get(name)
    if server is None:
        known = ", ".join(sorted(config.mcp_servers)) or "none"
        raise UserError(f"No MCP server named {name!r} in {config.config_file} (configured: {known}); "
                        "see codex mcp list")
    data = server_json(server)
    if as_json:
        return json.dumps(data, indent=2)
    lines = [name, f"  enabled: {str(server.enabled).lower()}"]
    lines += [f"  {key}: {_show(value)}" for key, value in data["transport"].items() if value not in (None, [], {})]
    lines += [f"  startup_timeout_sec: {server.startup_timeout_sec:g}",
              f"  tool_timeout_sec: {server.tool_timeout_sec:g}"]
    if server.enabled_tools is not None:
        lines.append(f"  enabled_tools: {', '.join(server.enabled_tools)}")
    if server.disabled_tools:
        lines.append(f"  disabled_tools: {', '.join(server.disabled_tools)}")
    lines.append(f"  remove: codex mcp remove {name}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}=*****" for k in value)  # values may be secrets
    return str(value)


# --- editing ---------------------------------------------------------------------------------------------------


def add_server(file: Path, name: str, table: dict[str, Any]) -> bool:
    """Write [mcp_servers.NAME] (replacing an existing one); True when it replaced one."""
    text, data = _read(file)
    replaced = name in (data.get("mcp_servers") or {})
    rest = _without_server(file, text, name) if replaced else text
    if rest and not rest.endswith("\n"):
        rest += "\n"
    block = f"[mcp_servers.{name}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in table.items())
    new_text = rest + ("\n" if rest.strip() else "") + block
    expected = copy.deepcopy(data)
    expected.setdefault("mcp_servers", {})[name] = table
    _check_and_write(file, new_text, expected)
    return replaced


def remove_server(file: Path, name: str) -> None:
    text, data = _read(file)
    if name not in (data.get("mcp_servers") or {}):
        known = ", ".join(sorted(data.get("mcp_servers") or {})) or "none"
        raise UserError(f"No MCP server named {name!r} in {file} (configured: {known}); see codex mcp list")
    expected = copy.deepcopy(data)
    del expected["mcp_servers"][name]
    if not expected["mcp_servers"] and "mcp_servers" not in _paths(text):
        del expected["mcp_servers"]
    _check_and_write(file, _without_server(file, text, name), expected)


def _read(file: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", {}
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{file} is not valid TOML ({e}); fix it before codex mcp edits it") from None


def _without_server(file: Path, text: str, name: str) -> str:
    """The text with the tables [mcp_servers.NAME] and [mcp_servers.NAME.*] cut out."""
    lines = text.splitlines(keepends=True)
    headers = [(i, path) for i, line in enumerate(lines) if (path := _header_path(line)) is not None]
    cut: set[int] = set()
    for index, (start, path) in enumerate(headers):
        if path[:2] != ("mcp_servers", name):
            continue
        end = headers[index + 1][0] if index + 1 < len(headers) else len(lines)
        while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
            end -= 1  # comments right above the next header are that table's
        cut.update(range(start, end))
    if not cut:
        raise UserError(f"[mcp_servers.{name}] in {file} is not written as its own table (an inline table or "
                        f"dotted keys); edit it by hand, or rewrite it as [mcp_servers.{name}] with keys below")
    kept = [line for i, line in enumerate(lines) if i not in cut]
    return _squeeze_blank_lines(kept, min(cut))


def _squeeze_blank_lines(lines: list[str], at: int) -> str:
    """Where the cut was, leave at most one blank line (none at the end of the file)."""
    before, after = lines[:at], lines[at:]
    while before and not before[-1].strip() and after and not after[0].strip():
        after = after[1:]
    if not after:
        while before and not before[-1].strip():
            before = before[:-1]
    return "".join(before + after)


def _header_path(line: str) -> tuple[str, ...] | None:
    match = _HEADER.match(line)
    if match is None:
        return None
    parts = re.findall(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*(?:\.|$)', match.group("key"))
    return tuple(json.loads(p) if p.startswith('"') else p.strip("'") for p in parts)


def _paths(text: str) -> set[str]:
    """The dotted names of the tables the text declares."""
    return {".".join(path) for line in text.splitlines() if (path := _header_path(line))}


def toml_value(value: Any) -> str:
    """A TOML value: JSON's string escapes are valid TOML basic strings."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _check_and_write(file: Path, new_text: str, expected: dict[str, Any]) -> None:
    try:
        parsed = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"editing {file} would break it ({e}); nothing was written, edit [mcp_servers] by hand") \
            from None
    if parsed != expected:
        raise UserError(f"editing {file} would change more than [mcp_servers]; nothing was written, edit it by hand")
    file.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(file, new_text.encode("utf-8"), 0o600, keep_mode=True)
