"""Real MCP servers for the tests: the reference servers from PyPI (`mcp-server-time`, `mcp-server-git`), the
protocol's test server from npm (`@modelcontextprotocol/server-everything`, installed once into
~/.cache/codex-local-tests/npm; its tests skip, saying why, where npm is missing), and our misbehaving FastMCP
server (servers/misbehaving.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config

MISBEHAVING = Path(__file__).parent / "servers" / "misbehaving.py"
NPM_PREFIX = Path.home() / ".cache" / "codex-local-tests" / "npm"
EVERYTHING_PACKAGE = "@modelcontextprotocol/server-everything"
EVERYTHING_BIN = NPM_PREFIX / "node_modules" / ".bin" / "mcp-server-everything"


def toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def stdio_table(name: str, command: str, args: Sequence[str] = (), **keys: object) -> str:
    lines = [f"[mcp_servers.{name}]", f'command = "{command}"', f"args = {toml_list(args)}"]
    return "\n".join(lines + [f"{k} = {_value(v)}" for k, v in keys.items()]) + "\n"


def http_table(name: str, url: str, **keys: object) -> str:
    return "\n".join([f"[mcp_servers.{name}]", f'url = "{url}"'] + [f"{k} = {_value(v)}" for k, v in keys.items()]) \
        + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return toml_list([str(v) for v in value])
    if isinstance(value, dict):
        return "{ " + ", ".join(f'{k} = "{v}"' for k, v in value.items()) + " }"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def misbehaving_table(name: str = "bad", *extra_args: str, **keys: object) -> str:
    return stdio_table(name, sys.executable, [str(MISBEHAVING), *extra_args], **keys)


def load(codex_home: Path, text: str, **overrides: object) -> Config:
    (codex_home / "config.toml").write_text(text)
    return load_config(Overrides(**overrides), env={**os.environ, "CODEX_HOME": str(codex_home)})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def http_server(argv: Sequence[str], port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a streamable HTTP MCP server process until the block ends; yields its /mcp URL."""
    proc = subprocess.Popen(list(argv), env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv[0]} did not listen on {port}: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def everything_server() -> Path:
    """The path of `mcp-server-everything`, installed from npm into ~/.cache on first use."""
    if EVERYTHING_BIN.exists():
        return EVERYTHING_BIN
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so {EVERYTHING_PACKAGE} cannot be installed (apt-get install npm)")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_PREFIX),
                           EVERYTHING_PACKAGE], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not EVERYTHING_BIN.exists():
        pytest.skip(f"npm install {EVERYTHING_PACKAGE} failed: {done.stderr.strip()[-500:]}")
    return EVERYTHING_BIN


def which_or_skip(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.skip(f"{program} is not installed (pip install -e '.[dev]' installs it)")
    return found


def cmdline(pid: int) -> str:
    """A process's command line, its arguments joined by spaces ("" once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""
