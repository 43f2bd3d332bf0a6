#!/usr/bin/env python3
"""How long the endpoint back ends take to read one tool call with huge streamed arguments.

Run from the repository root::

    python benchmarks/streams.py [--sizes 1,4,20] [--deltas 256,1024] [--wire chat,responses]

For each wire API, argument size (MB) and delta size (characters per streamed piece), the scripted fake model
server (``tests/fakes/scripted_server.py``, started through its CLI in its own process, real HTTP on 127.0.0.1)
streams one reply whose only tool call carries that many characters of arguments, and the real back end
(``agent.models.chat`` / ``agent.models.responses``, the same code ``codex exec`` runs) reads it to the final
``ModelResponse``. The time runs from sending the request to that response, so it includes the server
rendering its frames (it writes them in 64 KiB batches); the "raw read" column is the same request read with
``urllib`` and thrown away (server plus transfer), so the difference is the back end's own work: SSE decoding,
JSON parsing, type checks, accumulation. Every run is checked (the arguments arrive intact); medians of
``--runs`` runs are reported with MB/s, so accumulation that is not linear shows as MB/s falling with size.
Target: 20 MB of arguments in small deltas in under 5 s.

Only the project and the standard library are used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import machine  # benchmarks/machine.py (scripts run as `python benchmarks/NAME.py`)

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from agent.config import Overrides, load_config  # noqa: E402
from agent.models import make_client  # noqa: E402
from agent.models.base import ModelRequest, ModelResponse, ToolSpec  # noqa: E402

TOOL = ToolSpec("apply_patch", "edit files", {"type": "object", "properties": {"input": {"type": "string"}}})


def arguments(megabytes: float) -> str:
    body = "x" * int(megabytes * 1_000_000)
    return '{"input": "' + body + '"}'


PATHS = {"chat": "/chat/completions", "responses": "/responses"}


def start_server(script: Path, delta: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.scripted_server", str(script), "--chunk-chars",
                               str(delta)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    return server, (server.stdout.readline() if server.stdout else "").strip()


def raw_read_once(wire: str, script: Path, delta: int) -> float:
    """Seconds to read the same streamed body with urllib, decoding nothing: the server's and the transfer's share."""
    server, base_url = start_server(script, delta)
    try:
        body = json.dumps({"model": "m", "stream": True, "messages": [], "input": []}).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(base_url + PATHS[wire], data=body, headers=headers)
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as answer:
            while answer.read(1 << 16):
                pass
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)


def read_once(wire: str, script: Path, delta: int, args: str, home: Path) -> float:
    """Seconds from sending the request to the final ModelResponse; checks the arguments arrived whole."""
    server, base_url = start_server(script, delta)
    try:
        config = load_config(Overrides(cwd=REPO_ROOT, config_overrides=(
            "model=scripted", "model_provider=scripted", 'model_providers.scripted.name="Scripted"',
            f'model_providers.scripted.base_url="{base_url}"',
            f'model_providers.scripted.wire_api="{wire}"', "model_providers.scripted.request_max_retries=0",
        )), env={"CODEX_HOME": str(home), "HOME": str(home)})
        client = make_client(config)
        request = ModelRequest("benchmark", (), (TOOL,))
        started = time.perf_counter()
        final = [item for item in client.stream(request) if isinstance(item, ModelResponse)][-1]
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    [call] = final.tool_calls
    if call.arguments != args:
        raise SystemExit(f"{wire}: the arguments arrived damaged ({len(call.arguments)} of {len(args)} chars)")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4,20", help="argument sizes in MB, comma-separated")
    parser.add_argument("--deltas", default="256,1024", help="characters per streamed delta, comma-separated")
    parser.add_argument("--wire", default="chat,responses", help="wire APIs, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per case (median reported)")
    options = parser.parse_args()
    print(f"machine: {machine.describe()}; {machine.busy_text(machine.background_busy())}", file=sys.stderr)
    print("| wire | arguments | delta | events | back end s | MB/s | raw read s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as home:
        for wire in options.wire.split(","):
            for size in (float(s) for s in options.sizes.split(",")):
                args = arguments(size)
                script = Path(home) / "script.json"
                script.write_text(json.dumps([{"tool_calls": [{"name": "apply_patch", "arguments": args,
                                                               "call_id": "call_big"}]}]))
                for delta in (int(d) for d in options.deltas.split(",")):
                    times = [read_once(wire, script, delta, args, Path(home)) for _ in range(options.runs)]
                    raw = statistics.median(raw_read_once(wire, script, delta) for _ in range(options.runs))
                    median = statistics.median(times)
                    print(f"| {wire} | {size:g} MB | {delta} | {len(args) // delta} | {median:.2f} | "
                          f"{size / median:.1f} | {raw:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
