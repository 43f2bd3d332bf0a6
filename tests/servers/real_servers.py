"""Start real third-party model servers on 127.0.0.1 with the shipped SmolLM2 GGUF, for the tests.

Two servers no one here wrote: llama-cpp-python's own `python -m llama_cpp.server` (its `[server]` extra,
in the dev extra of pyproject.toml) in a chosen `--chat_format`, and llama.cpp's `llama-server`, built once
from the sources vendored in the llama-cpp-python sdist (tests/servers/llama_server_build.py). Each starts
with a small fixed window and two threads, and is ready once `/v1/models` answers. This module does not
decide what to test; the fixtures in tests/real_servers/conftest.py use it.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from agent.models.resolve import default_model_path

CONTEXT = 4096
THREADS = 2
SEED = 1234  # sampling is seeded, so a fresh server answers the same requests the same way
READY_SECONDS = 120.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class RealServer:
    """A running server: `base_url` ends in /v1; `log` holds its stdout and stderr."""

    kind: str  # "llama_cpp.server" or "llama-server"
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    model: str  # the model id the server lists

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class ServerDidNotStart(RuntimeError):
    pass


def smollm2_gguf() -> Path | None:
    """The shipped model file, resolved as the project resolves its default model."""
    return default_model_path()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_cpp_server(model: Path, chat_format: str, log_dir: Path) -> RealServer:
    """`python -m llama_cpp.server` serving `model` in `chat_format` ("chatml", "chatml-function-calling"), greedy
    (tests/servers/greedy_llama_cpp_server.py: the server has no flag for its default temperature)."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.servers.greedy_llama_cpp_server", "--model", str(model),
            "--model_alias", model.stem,
            "--chat_format", chat_format, "--n_ctx", str(CONTEXT), "--n_threads", str(THREADS),
            "--n_threads_batch", str(THREADS), "--seed", str(SEED), "--host", "127.0.0.1", "--port", str(port),
            "--verbose", "False"]
    return _started("llama_cpp.server", argv, port, log_dir / f"llama_cpp_server-{chat_format}.log", model.stem)


def start_llama_server(binary: Path, model: Path, log_dir: Path) -> RealServer:
    """llama.cpp's `llama-server` with its Jinja chat templates (tool calls) and one slot."""
    port = free_port()
    argv = [str(binary), "--model", str(model), "--alias", model.stem, "--jinja", "-c", str(CONTEXT),
            "-t", str(THREADS), "-tb", str(THREADS), "--parallel", "1", "--seed", str(SEED), "--temp", "0",
            "--host", "127.0.0.1", "--port", str(port), "--no-webui"]
    return _started("llama-server", argv, port, log_dir / "llama-server.log", model.stem)


def _started(kind: str, argv: list[str], port: int, log: Path, model: str) -> RealServer:
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    server = RealServer(kind, port, process, log, model)
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"{kind} exited with {process.returncode}: {log.read_text()[-2000:]}")
        if _answers(port):
            return server
        time.sleep(0.25)
    server.stop()
    raise ServerDidNotStart(f"{kind} did not answer on port {port} within {READY_SECONDS:.0f} s: "
                            f"{log.read_text()[-2000:]}")


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/v1/models")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
