"""TUI benchmarks: time to the first frame of `codex` in a repository, and input latency while a reply streams.

    python benchmarks/tui.py                 # 5 start-ups, 2,000 streamed tokens at 100 tok/s
    python benchmarks/tui.py --runs 9 --tokens 2000 --rate 200

1. Time to first frame: the real command in a pseudo-terminal (120x40) in a fresh git repository, with the
   scripted model server configured (no model to load). Measured from spawning the process to the moment
   its output contains the composer's placeholder, i.e. the first full frame has been written. Median and
   range of `--runs` start-ups. `codex` is used, else `python -m agent.cli`.
2. Input latency while streaming: the app headless (`App.run_test`), the scripted server streaming a reply of
   `--tokens` chunks of 4 characters at `--rate` chunks a second; every 50 ms a key is posted to the app and
   timed until the composer holds the character. Also reported: the longest the event loop was blocked
   (a 5 ms heartbeat's worst lateness), which bounds the latency of any input, scrolling and Esc included.

Prints a Markdown table on stdout; progress on stderr. Standard library plus the project and its tests' fake
server; no network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.config import Overrides, load_config  # noqa: E402
from tests.conftest import GIT_ENV, write_provider_config  # noqa: E402
from tests.fakes.scripted_server import Reply, ScriptedServer  # noqa: E402

FIRST_FRAME_MARK = "@ files · Shift+Enter newline".encode()  # the composer placeholder, after its cursor


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tui_command() -> list[str]:
    codex = shutil.which("codex")
    return [codex] if codex else [sys.executable, "-m", "agent.cli"]


def make_repo(base: Path) -> Path:
    repo = base / "repo"
    repo.mkdir()
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / "README.md").write_text("# bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=repo, check=True, env=env)
    return repo


# --- 1. time to first frame ----------------------------------------------------------------------------------


def first_frame_seconds(command: list[str], repo: Path, env: dict[str, str], timeout: float = 30) -> float:
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(repo)
        os.execvpe(command[0], command, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    seen = b""
    try:
        while True:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"no first frame within {timeout}s; output so far: {seen[-500:]!r}")
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                raise RuntimeError(f"the TUI exited before its first frame: {seen[-500:]!r}") from None
            seen += chunk
            if FIRST_FRAME_MARK in seen:
                return time.perf_counter() - started
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            select.select([fd], [], [], 0.05)
            with contextlib.suppress(OSError):
                os.read(fd, 65536)  # keep draining so the child can exit
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def bench_first_frame(runs: int) -> list[float]:
    command = tui_command()
    times = []
    with ScriptedServer([]) as server, tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        home = base_path / "codex-home"
        home.mkdir()
        write_provider_config(home, server)
        repo = make_repo(base_path)
        env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(home), "TERM": "xterm-256color",
               "PYTHONPATH": str(ROOT)}
        first_frame_seconds(command, repo, env)  # warm-up: page cache, .pyc files
        for run in range(runs):
            seconds = first_frame_seconds(command, repo, env)
            log(f"first frame, run {run + 1}/{runs}: {seconds * 1000:.0f} ms")
            times.append(seconds)
    return times


# --- 2. input latency while streaming --------------------------------------------------------------------------


def streamed_reply(tokens: int) -> str:
    words = ("the", "agent", "streams", "tokens", "while", "you", "type", "and", "scroll", "freely")
    parts, size = [], 0
    while size < tokens * 4:
        block = len(parts) % 7
        if block == 3:
            piece = "\n\n```python\ndef stream(n):\n    return [i * i for i in range(n)]\n```\n\n"
        elif block == 6:
            piece = "\n\n- a **bold** item with `code`\n- another item\n\n"
        else:
            piece = " ".join(words[(len(parts) + i) % len(words)] for i in range(12)) + ". "
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[: tokens * 4]


async def measure_latency(tokens: int, rate: float) -> dict[str, float]:
    from textual import events

    from agent.tui.app import CodexApp

    text = streamed_reply(tokens)
    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        home = base_path / "codex-home"
        home.mkdir()
        repo = make_repo(base_path)
        script = [Reply(text=text, delay_ms=max(int(1000 / rate), 0))]
        with ScriptedServer(script, chunk_chars=4) as server:
            write_provider_config(home, server)
            env = {"CODEX_HOME": str(home), "HOME": str(base_path)}
            overrides = Overrides(cwd=repo)
            app = CodexApp(load_config(overrides, env=env), overrides=overrides, env=env, ephemeral=True)
            async with app.run_test(size=(120, 40)) as pilot:
                while app.session is None:
                    await pilot.pause(0.02)
                app.composer.set_text("stream please")
                await pilot.press("enter")
                stalls: list[float] = []
                stop = asyncio.Event()

                async def heartbeat() -> None:
                    while not stop.is_set():
                        before = time.perf_counter()
                        await asyncio.sleep(0.005)
                        stalls.append(time.perf_counter() - before - 0.005)

                beat = asyncio.create_task(heartbeat())
                latencies: list[float] = []
                started = time.perf_counter()
                while not app.turn_running:
                    await asyncio.sleep(0.005)
                while app.turn_running:
                    expected = len(app.composer.text) + 1
                    sent = time.perf_counter()
                    app.post_message(events.Key("x", "x"))
                    while len(app.composer.text) < expected:
                        await asyncio.sleep(0)
                    latencies.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.05)
                duration = time.perf_counter() - started
                stop.set()
                await beat
                received = sum(len(cell.text) for cell in app.transcript.query("AgentMessage"))
                assert received == len(text), f"streamed {received} of {len(text)} characters"
    latencies.sort()
    return {
        "keys": len(latencies),
        "worst_ms": latencies[-1] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "median_ms": statistics.median(latencies) * 1000,
        "stall_ms": max(stalls) * 1000,
        "stream_s": duration,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="start-ups to time (median reported)")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens (4-character chunks) to stream")
    parser.add_argument("--rate", type=float, default=100.0, help="streamed tokens per second")
    args = parser.parse_args(argv)

    times = bench_first_frame(args.runs)
    log(f"streaming {args.tokens} tokens at {args.rate:.0f} tok/s …")
    latency = asyncio.run(measure_latency(args.tokens, args.rate))

    command = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(tui_command()))
    print("| measure | value |")
    print("|---|---|")
    print(f"| time to first frame (`{command}`, 120x40, median of {args.runs}) | "
          f"{statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) |")
    print(f"| worst input latency while streaming {args.tokens} tokens at {args.rate:.0f} tok/s "
          f"({latency['keys']} keys) | {latency['worst_ms']:.1f} ms (p95 {latency['p95_ms']:.1f}, "
          f"median {latency['median_ms']:.1f}) |")
    print(f"| longest event-loop stall during that stream | {latency['stall_ms']:.1f} ms |")
    print(f"| stream duration | {latency['stream_s']:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
