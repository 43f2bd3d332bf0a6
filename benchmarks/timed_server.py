#!/usr/bin/env python3
"""The scripted fake model server with a clock: when each request arrived and when each step was served.

Run from the repository root (the harness starts it so)::

    python benchmarks/timed_server.py SCRIPT.json --log requests.jsonl [--port 0] [--times times.jsonl]

It is ``tests/fakes/scripted_server.py``'s CLI (same arguments, same request log, same replies) plus one file of
timestamps, ``--times`` (default: the log's name with ``.times.jsonl``): a JSON line
``{"kind": "arrived", "path": ..., "method": ..., "t": ...}`` as each request is read, and
``{"kind": "served", "t": ...}`` once a step's reply has been written. ``t`` is ``time.monotonic()``, which
on Linux is one clock for every process (``CLOCK_MONOTONIC``), so the harness subtracts the time it started
the CLI to get arrival times relative to that process's start.

It does not change what the server sends, and it lives here rather than in the test fake because only the
benchmarks need the clock.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for `tests.fakes`

from tests.fakes import scripted_server  # noqa: E402


class TimedServer(scripted_server.ScriptedServer):
    """A ``ScriptedServer`` that appends an arrival and a served timestamp per request to ``times_path``."""

    def __init__(self, steps: Sequence[Any], *, times_path: Path, **kwargs: Any) -> None:
        super().__init__(steps, **kwargs)
        self._times_path = times_path
        self._times_lock = threading.Lock()

    def _stamp(self, entry: dict[str, Any]) -> None:
        with self._times_lock, self._times_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def record(self, request: scripted_server.RecordedRequest) -> None:
        now = time.monotonic()
        super().record(request)
        self._stamp({"kind": "arrived", "path": request.path, "method": request.method, "t": now})

    def step_served(self) -> None:
        self._stamp({"kind": "served", "t": time.monotonic()})
        super().step_served()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python benchmarks/timed_server.py",
                                     description="The scripted fake OpenAI API, with request timestamps.")
    parser.add_argument("script", type=Path, help="JSON script: a list of steps or {'steps': [...]}")
    parser.add_argument("--log", type=Path, required=True, help="append each request as a JSON line here")
    parser.add_argument("--times", type=Path, default=None, help="timestamps file (default: LOG.times.jsonl)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: ephemeral)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    times = args.times or args.log.with_suffix(".times.jsonl")
    server = TimedServer(scripted_server.load_script(args.script), log_path=args.log, port=args.port,
                         times_path=times)
    with server:
        print(server.base_url, flush=True)
        while not stop.wait(0.05):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
