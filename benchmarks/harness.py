#!/usr/bin/env python3
"""Benchmark harness: our `codex` against OpenAI's Codex CLI on the same scripted 3-step task.

Run from the repository root::

    python benchmarks/harness.py [--runs 5]

Cases (each timed ``--runs`` times, median reported; exec runs alternate ours, theirs, ours, theirs ...):

* ``ours exec``: ``codex exec --json --sandbox danger-full-access PROMPT`` in a fresh temporary git
  repository against the scripted fake model server (``tests/fakes/scripted_server.py``, started through its
  CLI). The model script: 1) ``apply_patch`` adds ``hello.py``, 2) ``shell`` runs ``python3 hello.py``,
  3) a final message.
* ``theirs exec`` (only when OpenAI's Codex CLI is found, e.g. ``pip install openai-codex-cli-bin``): the same
  work through the tool their binary offers a model it does not know, ``exec_command`` (``cmd``: a string):
  1) ``printf ... > hello.py``, 2) ``python3 hello.py``, 3) a final message. Their binary speaks only the
  Responses API, so it is pointed at the fake server's ``/v1/responses``.
* ``ours --version`` / ``theirs --version``: start-up cost of the command.

Every exec run is checked (exit 0, ``hello.py`` written, ``hello`` in the command output event and in the tool
output sent back to the model, exactly the scripted number of model requests); a failed run aborts the
benchmark with exit status 1 and is never timed.

Wall time is measured around the child process (fork to reap). Peak RSS is the ``ru_maxrss`` that
``os.wait4`` reports for that one child: the largest resident set of the child or of any descendant it
reaped (the same number as ``/usr/bin/time -f %M``), not the sum of processes alive at the same time.

Only the standard library is used. Each subprocess runs in its own session with a timeout; the harness makes
itself a child subreaper (Linux) so that anything a run leaves behind is found, reported and killed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import importlib.util
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import machine  # benchmarks/machine.py (scripts run as `python benchmarks/NAME.py`)

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPT = "Add hello.py that prints hello, then run it."
HELLO_SOURCE = "print('hello')\n"
FINAL_TEXT = "Done: added hello.py; it prints hello."
HELLO_LINE = re.compile(r"(?m)^hello$")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
DUMMY_KEY_VAR = "SCRIPTED_API_KEY"
MAX_RUNS = 200
PR_SET_CHILD_SUBREAPER = 36

OURS_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "apply_patch", "arguments": {
        "input": "*** Begin Patch\n*** Add File: hello.py\n+print('hello')\n*** End Patch\n"}}]},
    {"tool_calls": [{"name": "shell", "arguments": {"command": ["bash", "-lc", "python3 hello.py"]}}]},
    {"text": FINAL_TEXT},
]
THEIRS_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "printf \"print('hello')\\n\" > hello.py"}}]},
    {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": "python3 hello.py"}}]},
    {"text": FINAL_TEXT},
]


class BenchmarkError(Exception):
    """A run failed or the set-up is broken: the benchmark stops, nothing is timed."""


# --------------------------------------------------------------------------------------------- processes


def _become_subreaper() -> bool:
    """Orphaned descendants of our children are re-parented to us (Linux), so leftovers can be found."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, process group) of a live pid from /proc, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class Processes:
    """Tracks what the harness started; finds, reports and kills whatever a run leaves behind."""

    def __init__(self) -> None:
        self.subreaper = _become_subreaper()
        self.owned: set[int] = set()  # live children started and waited for by the harness itself
        self.leftovers: list[str] = []

    def sweep(self, pgid: int | None, label: str) -> None:
        """Kill processes left in ``pgid`` or re-parented to us; reap them; remember the live ones."""
        if not Path("/proc").is_dir():
            if pgid is not None:
                _killpg(pgid)
            return
        me = os.getpid()
        found: list[int] = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.owned or int(entry) == me:
                continue
            stat = _proc_stat(int(entry))
            if stat and (stat[2] == pgid or stat[1] == me):
                found.append(int(entry))
        for pid in found:
            stat = _proc_stat(pid)
            if stat and stat[0] != "Z":
                self.leftovers.append(f"{label}: pid {pid} `{_cmdline(pid)[:120]}`")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if pgid is not None:
            _killpg(pgid)
        deadline = time.monotonic() + 5
        pending = [pid for pid in found if (_proc_stat(pid) or ("", -1, -1))[1] == me]
        while pending and time.monotonic() < deadline:
            still = []
            for pid in pending:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                if not done:
                    still.append(pid)
            pending = still
            if pending:
                time.sleep(0.01)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the child and the descendants it reaped
    maxrss_kb: int
    timed_out: bool
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float, scratch: Path,
                 procs: Processes, label: str) -> Measured:
    """Run ``cmd`` in its own session; wall time from fork to reap; peak RSS from ``os.wait4``."""
    out_path, err_path = scratch / "stdout.txt", scratch / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    procs.owned.add(proc.pid)
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _killpg(proc.pid)

    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    except BaseException:
        _killpg(proc.pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, 0)
        raise
    finally:
        timer.cancel()
        procs.owned.discard(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    procs.sweep(proc.pid, label)
    rss_kb = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
    return Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss_kb, timed_out.is_set(),
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


# --------------------------------------------------------------------------------------------- fake server


class FakeServer:
    """``python -m tests.fakes.scripted_server SCRIPT --log LOG --port 0``, started from the repo root."""

    def __init__(self, script: list[dict[str, Any]], scratch: Path, procs: Processes, timeout: float = 20) -> None:
        self.script_path = scratch / "script.json"
        self.log_path = scratch / "requests.jsonl"
        self.err_path = scratch / "server-stderr.txt"
        self.script_path.write_text(json.dumps(script))
        self.steps = len(script)
        self.procs = procs
        with self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.scripted_server", str(self.script_path),
                 "--log", str(self.log_path), "--port", "0"],
                cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True,
            )
        procs.owned.add(self.proc.pid)
        try:
            self.base_url = self._read_url(timeout)
        except BaseException:
            self.stop()
            raise

    def _read_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise BenchmarkError(f"fake server printed no URL within {timeout:.0f}s: {self._stderr_tail()}")
        line = self.proc.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("http://127.0.0.1:"):
            raise BenchmarkError(f"fake server did not start (first line {line!r}): {self._stderr_tail()}")
        return line

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.err_path.read_text(errors="replace")[-1500:]
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _killpg(self.proc.pid)
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.procs.owned.discard(self.proc.pid)
        self.procs.sweep(self.proc.pid, "fake server")

    def requests(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------- the two CLIs


@dataclass
class Cli:
    name: str  # "ours" / "theirs"
    argv: list[str]
    version: str
    exec_args: list[str]
    script: list[dict[str, Any]]
    wire_api: str
    home: Path
    env: dict[str, str]
    config_extra: str = ""
    notes: list[str] = field(default_factory=list)

    def write_config(self, base_url: str) -> None:
        (self.home / "config.toml").write_text(
            'model = "scripted"\nmodel_provider = "scripted"\n'
            f"{self.config_extra}\n"
            "[model_providers.scripted]\n"
            'name = "Scripted"\n'
            f'base_url = "{base_url}"\n'
            f'wire_api = "{self.wire_api}"\n'
            f'env_key = "{DUMMY_KEY_VAR}"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n"
            "stream_idle_timeout_ms = 30000\n"
        )


def _quick(cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def find_ours(explicit: str | None) -> tuple[list[str], str, str]:
    """Our console command (argv, version, how it was found). Prefers the real script over a pyenv shim."""
    candidates: list[tuple[list[str], str]] = []
    if explicit:
        candidates.append(([explicit], "--ours"))
    else:
        scripts = Path(sysconfig.get_path("scripts")) / "codex"
        if scripts.is_file():
            candidates.append(([str(scripts)], f"console script next to {sys.executable}"))
        on_path = shutil.which("codex")
        if on_path:
            candidates.append(([on_path], "`codex` on PATH"))
        candidates.append(([sys.executable, "-m", "agent.cli"], "python -m agent.cli (no console script found)"))
    for argv, how in candidates:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            result = _quick([*argv, "--version"])
            if result.returncode == 0 and "codex-local" in result.stdout:
                return argv, result.stdout.strip(), how
    tried = ", ".join(" ".join(argv) for argv, _ in candidates)
    raise BenchmarkError(f"our `codex` not found or not ours (tried: {tried}); run `pip install -e .[dev]`")


def find_theirs(explicit: str | None) -> tuple[Path | None, str]:
    """OpenAI's Codex binary: --theirs PATH, else the `openai-codex-cli-bin` wheel's bundled binary.

    That wheel installs no console script: the package ``codex_cli_bin`` ships ``bin/codex`` (named by the
    ``entrypoint`` of its ``codex-package.json``) and exposes it as ``codex_cli_bin.bundled_codex_path()``.
    """
    if explicit:
        path = Path(explicit)
        return (path, f"--theirs {path}") if path.is_file() else (None, f"--theirs {path}: no such file")
    spec = importlib.util.find_spec("codex_cli_bin")
    if spec is None or not spec.submodule_search_locations:
        return None, "OpenAI's Codex CLI is not installed (`pip install openai-codex-cli-bin` to compare)"
    package = Path(next(iter(spec.submodule_search_locations)))
    entry = "bin/codex"
    with contextlib.suppress(OSError, ValueError, KeyError):
        entry = json.loads((package / "codex-package.json").read_text())["entrypoint"]
    binary = package / entry
    if not binary.is_file():
        return None, f"openai-codex-cli-bin is installed but {binary} is missing"
    return binary, f"openai-codex-cli-bin wheel: {binary}"


def make_ours(argv: list[str], version: str, how: str, wire_api: str, home: Path) -> Cli:
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(home), "NO_COLOR": "1", DUMMY_KEY_VAR: "dummy"}
    # Python caches bytecode unless told not to; these machines set PYTHONDONTWRITEBYTECODE=1 globally, which
    # would recompile our (editable) package on every start. Run ours as on a user's machine: the warm-up run
    # writes the cache, the timed runs use it.
    cached = env.pop("PYTHONDONTWRITEBYTECODE", None) is None
    cli = Cli("ours", argv, version, ["exec", "--json", "--sandbox", "danger-full-access"], OURS_SCRIPT,
              wire_api, home, env)
    cli.notes.append(f"ours: `{' '.join(argv)}` ({how}); {version}; wire_api = {wire_api}"
                     + ("" if cached else "; PYTHONDONTWRITEBYTECODE unset for it, so its bytecode is cached"))
    return cli


def make_theirs(binary: Path, how: str, home: Path) -> Cli:
    path_dir = binary.parent.parent / "codex-path"  # the wheel's bundled `rg`, as its launcher would add it
    path = os.environ.get("PATH", "")
    if path_dir.is_dir():
        path = f"{path_dir}{os.pathsep}{path}"
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(home), "NO_COLOR": "1", DUMMY_KEY_VAR: "dummy",
           "PATH": path}
    version = _quick([str(binary), "--version"], env=env).stdout.strip() or "unknown version"
    # Network side-work that is not part of the task: the curated-plugin sync runs
    # `git ls-remote https://github.com/openai/plugins.git` at start-up, plus analytics and the update check.
    extra = ("check_for_update_on_startup = false\n\n[analytics]\nenabled = false\n\n"
             "[features]\nplugins = false\nremote_plugin = false\napps = false\n")
    cli = Cli("theirs", [str(binary)], version,
              ["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"],
              THEIRS_SCRIPT, "responses", home, env, config_extra=extra)
    cli.notes.append(f"theirs: {version} ({how}); wire_api = responses; config disables plugins, remote_plugin, "
                     "apps, analytics and the update check (they reach github.com/chatgpt.com, not the fake server)")
    return cli


# --------------------------------------------------------------------------------------------- one run


def make_git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    env = {**os.environ, **GIT_ENV}
    (path / "README.md").write_text("# bench\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return path


def _events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                events.append(parsed)
    return events


def _tool_outputs(body: dict[str, Any]) -> list[str]:
    """Tool results a request sends back to the model (Responses ``input`` or Chat ``messages``)."""
    outputs: list[str] = []
    for item in body.get("input") or body.get("messages") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output" or item.get("role") == "tool":
            value = item.get("output", item.get("content"))
            outputs.append(value if isinstance(value, str) else json.dumps(value))
    return outputs


def check_exec(measured: Measured, repo: Path, requests: list[dict[str, Any]], steps: int) -> list[str]:
    """Everything wrong with one exec run (empty: it did the work)."""
    problems: list[str] = []
    if measured.timed_out:
        problems.append("timed out and was killed")
    if measured.returncode != 0:
        problems.append(f"exit status {measured.returncode}")
    hello = repo / "hello.py"
    if not hello.is_file():
        problems.append("hello.py was not created")
    elif hello.read_text() != HELLO_SOURCE:
        problems.append(f"hello.py holds {hello.read_text()!r}")
    events = _events(measured.stdout)
    items = [e.get("item") or {} for e in events if e.get("type") == "item.completed"]
    if not any(i.get("type") == "command_execution" and i.get("exit_code") == 0
               and HELLO_LINE.search(i.get("aggregated_output") or "") for i in items):
        problems.append("no completed command_execution event with output `hello`")
    if not any(i.get("type") == "agent_message" and i.get("text") == FINAL_TEXT for i in items):
        problems.append("final agent_message missing")
    if not events or events[-1].get("type") != "turn.completed":
        problems.append("the event stream does not end with turn.completed")
    posts = [r for r in requests if r.get("body")]
    if len(posts) != steps:
        problems.append(f"{len(posts)} model requests for a {steps}-step script ({_paths(requests)})")
    elif not any(HELLO_LINE.search(out) for out in _tool_outputs(posts[-1]["body"])):
        problems.append("the last model request does not carry the command output `hello`")
    return problems


def _paths(requests: list[dict[str, Any]]) -> str:
    return ", ".join(f"{'POST' if r.get('body') else 'GET'} {r.get('path')}" for r in requests) or "none"


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    maxrss_kb: int


@dataclass
class Observations:
    """What the first run of each CLI showed, for the notes."""

    seen: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)


def run_exec(cli: Cli, work: Path, index: str, timeout: float, procs: Processes, obs: Observations) -> Sample:
    scratch = work / f"{cli.name}-exec-{index}"
    repo = make_git_repo(scratch / "repo")
    server = FakeServer(cli.script, scratch, procs)
    try:
        cli.write_config(server.base_url)
        measured = run_measured([*cli.argv, *cli.exec_args, PROMPT], cwd=repo, env=cli.env, timeout=timeout,
                                scratch=scratch, procs=procs, label=f"{cli.name} exec {index}")
    finally:
        server.stop()
    requests = server.requests()
    problems = check_exec(measured, repo, requests, server.steps)
    if problems:
        raise BenchmarkError(
            f"{cli.name} exec run {index} failed: {'; '.join(problems)}\n"
            f"--- command: {' '.join([*cli.argv, *cli.exec_args, repr(PROMPT)])} (cwd {repo})\n"
            f"--- stdout (tail):\n{measured.stdout[-3000:]}\n--- stderr (tail):\n{measured.stderr[-3000:]}\n"
            f"--- requests: {_paths(requests)}"
        )
    if cli.name not in obs.seen:
        obs.seen.add(cli.name)
        obs.lines.append(_describe_requests(cli.name, requests))
        warnings = sorted({e["item"]["message"] for e in _events(measured.stdout)
                           if e.get("type") == "item.completed" and (e.get("item") or {}).get("type") == "error"})
        stderr = [line.strip() for line in measured.stderr.splitlines() if "warn" in line.lower()]
        if warnings or stderr:
            obs.lines.append(f"{cli.name} warnings in a successful run: "
                             + "; ".join(f"`{w[:160]}`" for w in [*warnings, *sorted(set(stderr))][:4]))
    return Sample(measured.wall_s, measured.cpu_s, measured.maxrss_kb)


def _describe_requests(name: str, requests: list[dict[str, Any]]) -> str:
    first = next((r["body"] for r in requests if r.get("body")), {})
    tools = [t.get("name") or (t.get("function") or {}).get("name") or t.get("type") for t in first.get("tools") or []]
    size = len(json.dumps(first)) if first else 0
    return (f"{name} requested: {_paths(requests)}; first request {size / 1024:.1f} KiB, "
            f"tools offered: {', '.join(map(str, tools)) or 'none'}")


def run_version(cli: Cli, work: Path, index: str, timeout: float, procs: Processes) -> Sample:
    scratch = work / f"{cli.name}-version-{index}"
    scratch.mkdir(parents=True)
    measured = run_measured([*cli.argv, "--version"], cwd=work, env=cli.env, timeout=timeout, scratch=scratch,
                            procs=procs, label=f"{cli.name} --version {index}")
    if measured.timed_out or measured.returncode != 0 or not measured.stdout.strip():
        raise BenchmarkError(f"{cli.name} --version run {index} failed: exit {measured.returncode}, "
                             f"stdout {measured.stdout[-300:]!r}, stderr {measured.stderr[-1000:]!r}")
    return Sample(measured.wall_s, measured.cpu_s, measured.maxrss_kb)


def run_sdk_import(cli: Cli, work: Path, index: str, timeout: float, procs: Processes) -> Sample:
    """Reference: `python -c "import openai"` with our interpreter and environment (the SDK our exec needs)."""
    scratch = work / f"sdk-import-{index}"
    scratch.mkdir(parents=True)
    measured = run_measured([sys.executable, "-c", "import openai"], cwd=work, env=cli.env, timeout=timeout,
                            scratch=scratch, procs=procs, label=f"import openai {index}")
    if measured.timed_out or measured.returncode != 0:
        raise BenchmarkError(f"`import openai` run {index} failed: exit {measured.returncode}, "
                             f"stderr {measured.stderr[-1000:]!r}")
    return Sample(measured.wall_s, measured.cpu_s, measured.maxrss_kb)


# --------------------------------------------------------------------------------------------- report


def _row(case: str, samples: list[Sample]) -> str:
    walls = [s.wall_s for s in samples]
    rss = statistics.median(s.maxrss_kb for s in samples) / 1024
    return (f"| {case} | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} | {rss:.1f} "
            f"| {len(samples)} |")


def _target(met: bool) -> str:
    return "met" if met else "NOT met"


def report(results: dict[str, list[Sample]], labels: dict[str, str], notes: list[str]) -> str:
    lines = ["| case | median wall (s) | min | max | peak RSS (MB) | runs |", "|---|---:|---:|---:|---:|---:|"]
    lines += [_row(labels[key], samples) for key, samples in results.items() if samples]
    lines.append("")
    med = {key: statistics.median(s.wall_s for s in samples) for key, samples in results.items() if samples}
    rss = {key: statistics.median(s.maxrss_kb for s in samples) for key, samples in results.items() if samples}
    if "ours-version" in med:
        ms = med["ours-version"] * 1000
        lines.append(f"- ours `codex --version`: {ms:.0f} ms median (target <= 50 ms: {_target(ms <= 50)})")
    cpu = {key: statistics.median(s.cpu_s for s in samples) for key, samples in results.items() if samples}
    if "ours-exec" in med and "theirs-exec" in med:
        ratio = med["ours-exec"] / med["theirs-exec"]
        lines.append(f"- exec wall ratio ours/theirs (medians): {ratio:.2f} (target <= 1.0: {_target(ratio <= 1.0)})")
        lines.append(f"- exec peak RSS ratio ours/theirs (medians): {rss['ours-exec'] / rss['theirs-exec']:.2f}")
        lines.append(f"- exec CPU time (user+sys of the run's tree, medians): ours {cpu['ours-exec']:.2f} s, "
                     f"theirs {cpu['theirs-exec']:.2f} s, ratio {cpu['ours-exec'] / cpu['theirs-exec']:.2f}")
    elif "ours-exec" in cpu:
        lines.append(f"- exec CPU time (user+sys of the run's tree, median): ours {cpu['ours-exec']:.2f} s")
    if "ours-version" in med and "theirs-version" in med:
        ratio = med["ours-version"] / med["theirs-version"]
        lines.append(f"- `--version` wall ratio ours/theirs (medians): {ratio:.1f}")
    if "sdk-import" in med and "ours-exec" in med:
        sdk, rest = med["sdk-import"], med["ours-exec"] - med["sdk-import"]
        versus = f"; theirs {med['theirs-exec']:.3f} s" if "theirs-exec" in med else ""
        lines.append(f"- of ours' exec median, `import openai` alone (reference row) is {sdk:.3f} s "
                     f"({sdk / med['ours-exec']:.0%}); the rest of the run {rest:.3f} s{versus}")
    lines += ["", "Notes:"] + [f"- {note}" for note in notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help=f"timed runs per case, 1..{MAX_RUNS} (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed (but checked) exec runs per CLI first")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before one run is killed")
    parser.add_argument("--wire-api", choices=["responses", "chat"], default="responses",
                        help="wire API for ours (theirs only speaks responses)")
    parser.add_argument("--ours", help="path of our codex command (default: the installed console script)")
    parser.add_argument("--theirs", help="path of OpenAI's codex binary (default: from openai-codex-cli-bin)")
    parser.add_argument("--no-theirs", action="store_true", help="skip OpenAI's Codex CLI even if installed")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be between 1 and {MAX_RUNS}")
    if not 0 <= args.warmup <= 10:
        parser.error("--warmup must be between 0 and 10")
    if not 1 <= args.timeout <= 3600:
        parser.error("--timeout must be between 1 and 3600 seconds")
    return args










def _interleave(count: int, *steps: Callable[[str], Sample | None]) -> None:
    for i in range(count):
        for step in steps:
            step(str(i + 1))


def benchmark(args: argparse.Namespace, work: Path, procs: Processes) -> str:
    os.chdir(REPO_ROOT)
    if not (REPO_ROOT / "tests" / "fakes" / "scripted_server.py").is_file():
        raise BenchmarkError(f"{REPO_ROOT}/tests/fakes/scripted_server.py not found")
    notes = [f"{datetime.date.today().isoformat()}; {machine.describe()}"]
    busy_before = machine.background_busy()
    argv, version, how = find_ours(args.ours)
    (work / "home-ours").mkdir()
    ours = make_ours(argv, version, how, args.wire_api, work / "home-ours")
    theirs: Cli | None = None
    if args.no_theirs:
        notes.append("theirs rows skipped: --no-theirs")
    else:
        binary, found = find_theirs(args.theirs)
        if binary is None:
            notes.append(f"theirs rows skipped: {found}")
        else:
            (work / "home-theirs").mkdir()
            theirs = make_theirs(binary, found, work / "home-theirs")
    clis = [cli for cli in (ours, theirs) if cli is not None]
    for cli in clis:
        notes += cli.notes
    results: dict[str, list[Sample]] = {f"{c.name}-{kind}": [] for kind in ("exec", "version") for c in clis}
    labels = {"ours-exec": "ours: `codex exec`, 3 steps (patch, shell, answer)",
              "theirs-exec": "theirs: `codex exec`, 3 steps (exec_command x2, answer)",
              "ours-version": "ours: `codex --version`", "theirs-version": "theirs: `codex --version`",
              "sdk-import": "reference: `python -c \"import openai\"` (our interpreter and environment)"}
    results["sdk-import"] = []
    obs = Observations()

    def exec_step(cli: Cli, timed: bool) -> Callable[[str], Sample | None]:
        def step(index: str) -> Sample | None:
            sample = run_exec(cli, work, index if timed else f"warmup{index}", args.timeout, procs, obs)
            print(f"  {cli.name} exec {'run' if timed else 'warm-up'} {index}: {sample.wall_s:.3f}s wall "
                  f"{sample.cpu_s:.3f}s cpu {sample.maxrss_kb / 1024:.1f} MB", file=sys.stderr, flush=True)
            if timed:
                results[f"{cli.name}-exec"].append(sample)
            return sample
        return step

    def version_step(cli: Cli) -> Callable[[str], Sample | None]:
        def step(index: str) -> Sample | None:
            sample = run_version(cli, work, index, args.timeout, procs)
            results[f"{cli.name}-version"].append(sample)
            return sample
        return step

    print(f"benchmark: {args.runs} runs per case, CLIs: {', '.join(c.name for c in clis)}", file=sys.stderr)
    _interleave(args.warmup, *(exec_step(c, timed=False) for c in clis))
    _interleave(args.runs, *(exec_step(c, timed=True) for c in clis))
    _interleave(args.runs, *(version_step(c) for c in clis))

    def sdk_step(index: str) -> Sample:
        results["sdk-import"].append(run_sdk_import(ours, work, index, args.timeout, procs))
        return results["sdk-import"][-1]

    _interleave(args.runs, sdk_step)

    notes += obs.lines
    busy_after = machine.background_busy()
    noisy = any(value is not None and value >= 0.1 for value in (busy_before, busy_after))
    notes.append(f"CPU used by other work in 1 s samples before/after the runs: {machine.busy_text(busy_before)} / "
                 f"{machine.busy_text(busy_after)} of all CPUs"
                 + (" - the machine was busy, wall times are noisy" if noisy else ""))
    notes.append(f"exec: each run in a fresh temporary git repo with a fresh fake server "
                 f"(`python -m tests.fakes.scripted_server`); one CODEX_HOME per CLI, kept across runs, after "
                 f"{args.warmup} checked warm-up run(s) each; runs alternate "
                 f"{' / '.join(c.name for c in clis)}")
    notes.append("peak RSS: `os.wait4` ru_maxrss of each run = the largest single process of the run's tree "
                 "(as `/usr/bin/time -f %M`), not a sum; CPU: ru_utime + ru_stime from the same `os.wait4`; "
                 "wall: fork to reap, `time.perf_counter`")
    if procs.leftovers:
        notes.append(f"processes left behind (killed by the harness): {len(procs.leftovers)}: "
                     + "; ".join(procs.leftovers[:5]))
    else:
        notes.append("no run left a process behind" + ("" if procs.subreaper else
                                                        " in its process group (subreaper unavailable)"))
    return report(results, labels, notes)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    procs = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="codex-bench-") as tmp:
        try:
            table = benchmark(args, Path(tmp), procs)
        except BenchmarkError as exc:
            print(f"\nBENCHMARK ABORTED: {exc}", file=sys.stderr)
            return 1
        except subprocess.SubprocessError as exc:
            print(f"\nBENCHMARK ABORTED: set-up command failed: {exc}", file=sys.stderr)
            return 1
        finally:
            procs.sweep(None, "exit")
            os.chdir(REPO_ROOT)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
