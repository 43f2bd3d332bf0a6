#!/usr/bin/env python3
"""Benchmark harness: our `codex` against OpenAI's Codex CLI on the same scripted sessions of 3 and 19 steps.

Run from the repository root::

    python benchmarks/harness.py [--runs 5] [--session both|short|long]

Sessions (each CLI runs each one ``--runs`` times, median reported; runs alternate ours, theirs, ours under
workspace-write, then the next session, then the next round):

* 3 steps: 1) an edit adds ``hello.py``, 2) a command runs ``python3 hello.py``, 3) the answer.
* 19 steps: 8 edits of ``hello.py`` (add it, then append one line each time), each followed by a command that runs
  it, then ``git status --short`` and one more run: 10 commands, 8 edits, the answer.

Ours does the edits with ``apply_patch`` and the commands with ``shell`` (``bash -lc``); theirs (only when OpenAI's
Codex CLI is found, see ``find_theirs``) does the same work through the one tool its binary offers a model it
does not know, ``exec_command`` (``cmd``: a string, a login shell): ``printf ... > hello.py`` / ``>> hello.py``
for the edits. Their binary speaks only the Responses API, so ours does too (``--wire-api``).

* ``ours``: ``codex exec --json --sandbox danger-full-access PROMPT``; ``ours-ws``: the same under
  ``--sandbox workspace-write``, the default users run; ``theirs``: ``codex exec --json --skip-git-repo-check
  --dangerously-bypass-approvals-and-sandbox PROMPT``. Each in a fresh temporary git repository against a fresh
  scripted fake model server (``benchmarks/timed_server.py``: ``tests/fakes/scripted_server.py``'s CLI plus the
  arrival time of each request and the time each reply was fully written).
* ``ours --version`` / ``theirs --version``: start-up cost of the command.
* ``--mcp``: also the MCP start-up row of issue 15 (``benchmarks/mcp_startup.py``, run as its own process with the
  same ``--runs``): ours' time to the first model request with 3 stdio MCP servers configured against none.

Every exec run is checked (exit 0, ``hello.py`` holding exactly what the script writes, the scripted number of
successful command items, for ours the scripted number of file changes, the last command's output in its event
and in the last request, the final message, exactly the scripted number of model requests); a failed run aborts
the benchmark with exit status 1 and is never timed.

Wall time is measured around the child process (fork to reap). Peak RSS is the ``ru_maxrss`` that
``os.wait4`` reports for that one child: the largest resident set of the child or of any descendant it
reaped (the same number as ``/usr/bin/time -f %M``), not the sum of processes alive at the same time. Time to
first request and the client's time per step come from the timed server's clock (``CLOCK_MONOTONIC``, shared by
all processes on Linux) against the harness's own reading just before the fork.

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
BENCH_DIR = Path(__file__).resolve().parent
THEIRS_ENV = "CODEX_LOCAL_BENCH_THEIRS"
THEIRS_CACHE = Path.home() / ".cache" / "codex-local-bench" / "codex-cli"  # `pip install --target` it here
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
DUMMY_KEY_VAR = "SCRIPTED_API_KEY"
MAX_RUNS = 200
PR_SET_CHILD_SUBREAPER = 36
LONG_EDITS = 8  # the 19-step session: 8 edits, 8 + 2 commands, the answer


def _shell(command: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "shell", "arguments": {"command": ["bash", "-lc", command]}}]}


def _patch(body: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "apply_patch", "arguments": {"input": f"*** Begin Patch\n{body}*** End Patch\n"}}]}


def _exec_command(cmd: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "exec_command", "arguments": {"cmd": cmd}}]}


def _line(i: int) -> str:
    """What the i-th edit makes hello.py print (1-based)."""
    return "hello" if i == 1 else f"step {i}"


@dataclass(frozen=True)
class Case:
    """One scripted session, as our tools and as their ``exec_command`` do the same work."""

    key: str  # "short" / "long"
    title: str
    prompt: str
    ours_script: list[dict[str, Any]]
    theirs_script: list[dict[str, Any]]
    hello_source: str  # what hello.py must hold afterwards
    last_output: str  # what the last command prints (the last request must carry it)
    commands: dict[str, int]  # completed command_execution events per CLI kind ("ours" / "theirs")
    edits: int  # our apply_patch calls (completed file_change events)
    final_text: str

    @property
    def steps(self) -> int:
        return len(self.ours_script)


def short_case() -> Case:
    final = "Done: added hello.py; it prints hello."
    return Case(
        "short", "3 steps", "Add hello.py that prints hello, then run it.",
        [_patch("*** Add File: hello.py\n+print('hello')\n"), _shell("python3 hello.py"), {"text": final}],
        [_exec_command("printf \"print('hello')\\n\" > hello.py"), _exec_command("python3 hello.py"),
         {"text": final}],
        "print('hello')\n", "hello", {"ours": 1, "theirs": 2}, 1, final)


def long_case() -> Case:
    """8 edits to hello.py, each followed by running it, then `git status` and a last run, then the answer."""
    final = f"Done: hello.py prints {LONG_EDITS} lines."
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for i in range(1, LONG_EDITS + 1):
        if i == 1:
            ours.append(_patch("*** Add File: hello.py\n+print('hello')\n"))
            theirs.append(_exec_command("printf \"print('hello')\\n\" > hello.py"))
        else:
            ours.append(_patch(f"*** Update File: hello.py\n@@\n print('{_line(i - 1)}')\n+print('{_line(i)}')\n"))
            theirs.append(_exec_command(f"printf \"print('{_line(i)}')\\n\" >> hello.py"))
        ours.append(_shell("python3 hello.py"))
        theirs.append(_exec_command("python3 hello.py"))
    for command in ("git status --short", "python3 hello.py"):
        ours.append(_shell(command))
        theirs.append(_exec_command(command))
    ours.append({"text": final})
    theirs.append({"text": final})
    lines = [_line(i) for i in range(1, LONG_EDITS + 1)]
    return Case(
        "long", f"{len(ours)} steps", f"Build hello.py in {LONG_EDITS} edits, running it after each; then check git.",
        ours, theirs, "".join(f"print('{line}')\n" for line in lines), "\n".join(lines),
        {"ours": LONG_EDITS + 2, "theirs": 2 * LONG_EDITS + 2}, LONG_EDITS, final)


CASES = (short_case(), long_case())


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
    started: float  # time.monotonic() just before the fork: one clock with the timed server's stamps (Linux)
    reaped: float


def run_measured(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float, scratch: Path,
                 procs: Processes, label: str) -> Measured:
    """Run ``cmd`` in its own session; wall time from fork to reap; peak RSS from ``os.wait4``."""
    out_path, err_path = scratch / "stdout.txt", scratch / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
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
        reaped = time.monotonic()
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
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"), started, reaped)


# --------------------------------------------------------------------------------------------- fake server


class FakeServer:
    """``python benchmarks/timed_server.py SCRIPT --log LOG --port 0``: the scripted server's CLI plus a clock."""

    def __init__(self, script: list[dict[str, Any]], scratch: Path, procs: Processes, timeout: float = 20) -> None:
        self.script_path = scratch / "script.json"
        self.log_path = scratch / "requests.jsonl"
        self.err_path = scratch / "server-stderr.txt"
        self.times_path = scratch / "times.jsonl"
        self.script_path.write_text(json.dumps(script))
        self.steps = len(script)
        self.procs = procs
        with self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(BENCH_DIR / "timed_server.py"), str(self.script_path),
                 "--log", str(self.log_path), "--times", str(self.times_path), "--port", "0"],
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

    def stamps(self) -> list[dict[str, Any]]:
        """``{"kind": "arrived" | "served", "t": monotonic, ...}`` in the order they happened."""
        if not self.times_path.exists():
            return []
        return [json.loads(line) for line in self.times_path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------- the two CLIs


@dataclass
class Cli:
    name: str  # "ours" / "theirs" / "ours-ws" (ours under the workspace-write sandbox)
    kind: str  # "ours" / "theirs": which script it gets
    argv: list[str]
    version: str
    exec_args: list[str]
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


def snapshot_ours(rev: str, work: Path) -> Path:
    """A runnable copy of ``agent/`` at commit ``rev`` (``git archive``; the work tree and git state untouched).

    Returns a script that runs that copy's ``agent.cli:main`` with this interpreter, as the console script
    would; the copy comes first on ``sys.path``, before the editable install's finder."""
    commit = subprocess.run(["git", "rev-parse", "--short", f"{rev}^{{commit}}"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=30, stdin=subprocess.DEVNULL)
    if commit.returncode != 0:
        raise BenchmarkError(f"--ours-commit {rev}: not a commit of {REPO_ROOT} ({commit.stderr.strip()})")
    target = work / f"ours-{commit.stdout.strip()}"
    target.mkdir()
    archive = subprocess.Popen(["git", "archive", commit.stdout.strip(), "agent"], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    untar = subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, capture_output=True, timeout=60)
    if archive.stdout is not None:
        archive.stdout.close()
    if archive.wait(timeout=60) != 0 or untar.returncode != 0:
        raise BenchmarkError(f"--ours-commit {rev}: `git archive | tar -x` failed: {untar.stderr.decode()[-500:]}")
    script = target / "codex"
    script.write_text(f"#!{sys.executable}\n"
                      f'"""codex-local at commit {commit.stdout.strip()}, copied by benchmarks/harness.py."""\n'
                      f"import sys\nsys.path.insert(0, {str(target)!r})\nfrom agent.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return script


def find_theirs(explicit: str | None) -> tuple[Path | None, str]:
    """OpenAI's Codex binary: --theirs PATH, else $CODEX_LOCAL_BENCH_THEIRS, else the `openai-codex-cli-bin` wheel.

    PATH (flag or variable) is the binary itself or a ``pip install --target`` directory holding the wheel. Without
    either, the wheel is looked for in ``~/.cache/codex-local-bench/codex-cli`` (a target directory that keeps it
    out of the project's environment), then in this interpreter's site-packages. That wheel installs no console
    script: the package ``codex_cli_bin`` ships ``bin/codex`` (named by the ``entrypoint`` of its
    ``codex-package.json``) and exposes it as ``codex_cli_bin.bundled_codex_path()``.
    """
    given = [(explicit, "--theirs")] if explicit else []
    if not given and os.environ.get(THEIRS_ENV):
        given = [(os.environ[THEIRS_ENV], f"${THEIRS_ENV}")]
    for value, how in given:
        path = Path(value).expanduser()
        if path.is_file():
            return path, f"{how} {path}"
        if (path / "codex_cli_bin").is_dir():
            return _wheel_binary(path / "codex_cli_bin", f"{how} {path}")
        return None, f"{how} {path}: neither the codex binary nor a directory holding codex_cli_bin"
    if (THEIRS_CACHE / "codex_cli_bin").is_dir():
        return _wheel_binary(THEIRS_CACHE / "codex_cli_bin", f"openai-codex-cli-bin in {THEIRS_CACHE}")
    spec = importlib.util.find_spec("codex_cli_bin")
    if spec is None or not spec.submodule_search_locations:
        return None, ("OpenAI's Codex CLI is not installed (to compare: "
                      f"`pip install --target {THEIRS_CACHE} openai-codex-cli-bin`)")
    return _wheel_binary(Path(next(iter(spec.submodule_search_locations))), "openai-codex-cli-bin wheel")


def _wheel_binary(package: Path, how: str) -> tuple[Path | None, str]:
    """The binary inside the wheel's ``codex_cli_bin`` package directory."""
    entry = "bin/codex"
    with contextlib.suppress(OSError, ValueError, KeyError):
        entry = json.loads((package / "codex-package.json").read_text())["entrypoint"]
    binary = package / entry
    if not binary.is_file():
        return None, f"openai-codex-cli-bin is installed but {binary} is missing"
    return binary, f"{how}: {binary}"


def make_ours(argv: list[str], version: str, how: str, wire_api: str, home: Path,
              sandbox: str = "danger-full-access") -> Cli:
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(home), "NO_COLOR": "1", DUMMY_KEY_VAR: "dummy"}
    # Python caches bytecode unless told not to; these machines set PYTHONDONTWRITEBYTECODE=1 globally, which
    # would recompile our (editable) package on every start. Run ours as on a user's machine: the warm-up run
    # writes the cache, the timed runs use it.
    cached = env.pop("PYTHONDONTWRITEBYTECODE", None) is None
    name = "ours" if sandbox == "danger-full-access" else "ours-ws"
    cli = Cli(name, "ours", argv, version, ["exec", "--json", "--sandbox", sandbox], wire_api, home, env)
    if name == "ours":
        cli.notes.append(f"ours: `{' '.join(argv)}` ({how}); {version}; wire_api = {wire_api}"
                         + ("" if cached else "; PYTHONDONTWRITEBYTECODE unset for it, so its bytecode is cached"))
    else:
        cli.notes.append(f"ours-ws: the same command with `--sandbox {sandbox}` (the default users run; its own "
                         "CODEX_HOME)")
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
    cli = Cli("theirs", "theirs", [str(binary)], version,
              ["exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"],
              "responses", home, env, config_extra=extra)
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


def _output_pattern(text: str) -> re.Pattern[str]:
    """``text`` as whole lines somewhere in an output (login shells may print warnings around it)."""
    return re.compile(r"(?m)^" + re.escape(text) + r"$")


def check_exec(measured: Measured, repo: Path, requests: list[dict[str, Any]], case: Case, kind: str) -> list[str]:
    """Everything wrong with one exec run of ``case`` by a CLI of ``kind`` (empty: it did the work)."""
    problems: list[str] = []
    if measured.timed_out:
        problems.append("timed out and was killed")
    if measured.returncode != 0:
        problems.append(f"exit status {measured.returncode}")
    hello = repo / "hello.py"
    if not hello.is_file():
        problems.append("hello.py was not created")
    elif hello.read_text() != case.hello_source:
        problems.append(f"hello.py holds {hello.read_text()!r}, not {case.hello_source!r}")
    events = _events(measured.stdout)
    items = [e.get("item") or {} for e in events if e.get("type") == "item.completed"]
    commands = [i for i in items if i.get("type") == "command_execution"]
    failed = [i.get("command") for i in commands if i.get("exit_code") != 0]
    if len(commands) != case.commands[kind] or failed:
        problems.append(f"{len(commands)} completed command_execution events ({len(failed)} failed: {failed[:3]}), "
                        f"expected {case.commands[kind]} that succeed")
    last = _output_pattern(case.last_output)
    if not commands or not last.search(commands[-1].get("aggregated_output") or ""):
        problems.append(f"the last command_execution event does not show the output {case.last_output!r}")
    edits = sum(1 for i in items if i.get("type") == "file_change" and i.get("status", "completed") == "completed")
    if kind == "ours" and edits != case.edits:
        problems.append(f"{edits} completed file_change events, expected {case.edits}")
    if not any(i.get("type") == "agent_message" and i.get("text") == case.final_text for i in items):
        problems.append("final agent_message missing")
    if not events or events[-1].get("type") != "turn.completed":
        problems.append("the event stream does not end with turn.completed")
    posts = [r for r in requests if r.get("body")]
    if len(posts) != case.steps:
        problems.append(f"{len(posts)} model requests for a {case.steps}-step script ({_paths(requests)})")
    elif not any(last.search(out) for out in _tool_outputs(posts[-1]["body"])):
        problems.append(f"the last model request does not carry the command output {case.last_output!r}")
    return problems


def _paths(requests: list[dict[str, Any]]) -> str:
    return ", ".join(f"{'POST' if r.get('body') else 'GET'} {r.get('path')}" for r in requests) or "none"


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    maxrss_kb: int
    first_request_s: float | None = None  # fork to the first model request's arrival at the server
    gaps_s: list[float] = field(default_factory=list)  # per step: reply fully written -> next request arrives
    end_s: float | None = None  # the last reply fully written -> the process reaped
    load: float | None = None  # 1-minute load average when the run started
    commands_s: float | None = None  # the commands' own time, as the CLI's events report it (ours only)


@dataclass
class Observations:
    """What the first run of each CLI showed, for the notes."""

    seen: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)


def _load() -> float | None:
    with contextlib.suppress(OSError, AttributeError):
        return os.getloadavg()[0]
    return None


def _commands_s(stdout: str) -> float | None:
    """The summed ``duration_ms`` of the completed command items (their binary reports none: None)."""
    items = [e.get("item") or {} for e in _events(stdout) if e.get("type") == "item.completed"]
    durations = [i.get("duration_ms") for i in items if i.get("type") == "command_execution"]
    if not durations or any(not isinstance(d, int | float) for d in durations):
        return None
    return sum(durations) / 1000


def timed_sample(measured: Measured, stamps: list[dict[str, Any]], load: float | None) -> Sample:
    """A run's sample with the server-side clock: first request, the client's time per step, the end."""
    arrived = [s["t"] for s in stamps if s.get("kind") == "arrived" and s.get("method") == "POST"]
    served = [s["t"] for s in stamps if s.get("kind") == "served"]
    sample = Sample(measured.wall_s, measured.cpu_s, measured.maxrss_kb, load=load,
                    commands_s=_commands_s(measured.stdout))
    if arrived:
        sample.first_request_s = arrived[0] - measured.started
    sample.gaps_s = [nxt - done for done, nxt in zip(served, arrived[1:], strict=False)]
    if served:
        sample.end_s = measured.reaped - served[-1]
    return sample


def run_exec(cli: Cli, case: Case, work: Path, index: str, timeout: float, procs: Processes,
             obs: Observations) -> Sample:
    scratch = work / f"{cli.name}-{case.key}-{index}"
    repo = make_git_repo(scratch / "repo")
    server = FakeServer(case.ours_script if cli.kind == "ours" else case.theirs_script, scratch, procs)
    load = _load()
    try:
        cli.write_config(server.base_url)
        measured = run_measured([*cli.argv, *cli.exec_args, case.prompt], cwd=repo, env=cli.env, timeout=timeout,
                                scratch=scratch, procs=procs, label=f"{cli.name} exec {case.key} {index}")
    finally:
        server.stop()
    requests = server.requests()
    problems = check_exec(measured, repo, requests, case, cli.kind)
    if problems:
        raise BenchmarkError(
            f"{cli.name} exec {case.title} run {index} failed: {'; '.join(problems)}\n"
            f"--- command: {' '.join([*cli.argv, *cli.exec_args, repr(case.prompt)])} (cwd {repo})\n"
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
    return timed_sample(measured, server.stamps(), load)


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


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _step_ms(sample: Sample) -> float | None:
    """The client's mean time per step in one run (reply written -> next request), None without steps."""
    return statistics.mean(sample.gaps_s) if sample.gaps_s else None


def _overhead_ms(sample: Sample) -> float | None:
    """The client's mean time per step without the commands' own run time (None when it reports none)."""
    if not sample.gaps_s or sample.commands_s is None:
        return None
    return (sum(sample.gaps_s) - sample.commands_s) / len(sample.gaps_s)


def _exec_row(label: str, samples: list[Sample]) -> str:
    walls = [s.wall_s for s in samples]
    rss = statistics.median(s.maxrss_kb for s in samples) / 1024
    load = _median([s.load for s in samples])
    return (f"| {label} | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} "
            f"| {statistics.median(s.cpu_s for s in samples):.3f} | {rss:.1f} "
            f"| {_ms(_median([s.first_request_s for s in samples]))} | {_ms(_median([_step_ms(s) for s in samples]))} "
            f"| {_ms(_median([_overhead_ms(s) for s in samples]))} "
            f"| {_ms(_median([s.end_s for s in samples]))} | {'-' if load is None else f'{load:.2f}'} "
            f"| {len(samples)} |")


def _row(case: str, samples: list[Sample]) -> str:
    walls = [s.wall_s for s in samples]
    rss = statistics.median(s.maxrss_kb for s in samples) / 1024
    return (f"| {case} | {statistics.median(walls):.3f} | {min(walls):.3f} | {max(walls):.3f} | {rss:.1f} "
            f"| {len(samples)} |")


def _target(met: bool) -> str:
    return "met" if met else "NOT met"


EXEC_HEADER = ["| CLI | median wall (s) | min | max | CPU (s) | peak RSS (MB) | first request (ms) "
               "| client ms/step | without commands | end (ms) | load (1 min) | runs |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]


def session_report(case: Case, results: dict[str, list[Sample]], labels: dict[str, str]) -> list[str]:
    """One session's table and its ratio lines."""
    rows = {name: results.get(f"{name}-{case.key}") or [] for name in labels}
    lines = [f"Session: {case.title} ({case.prompt!r})", "", *EXEC_HEADER]
    lines += [_exec_row(labels[name], samples) for name, samples in rows.items() if samples]
    lines.append("")
    med = {name: statistics.median(s.wall_s for s in samples) for name, samples in rows.items() if samples}
    cpu = {name: statistics.median(s.cpu_s for s in samples) for name, samples in rows.items() if samples}
    if "ours" in med and "theirs" in med:
        ratio = med["ours"] / med["theirs"]
        lines.append(f"- wall ratio ours/theirs (medians): {ratio:.2f} (target <= 1.0: {_target(ratio <= 1.0)}); "
                     f"CPU ratio {cpu['ours'] / cpu['theirs']:.2f}")
        if "ours-ws" in med:
            lines.append(f"- wall ratio ours under workspace-write / theirs: {med['ours-ws'] / med['theirs']:.2f}")
    return lines


def per_step_lines(short: Case, long: Case, results: dict[str, list[Sample]], labels: dict[str, str]) -> list[str]:
    """Per-step cost: (long wall - short wall) / extra steps, per CLI; and time to first request."""
    extra = long.steps - short.steps
    lines = [f"Per-step cost = ({long.title} median wall - {short.title} median wall) / {extra}; client ms/step = "
             "median over runs of the mean time from a reply fully written to the next request's arrival:"]
    first: dict[str, float] = {}
    for name, label in labels.items():
        a, b = results.get(f"{name}-{short.key}"), results.get(f"{name}-{long.key}")
        if not a or not b:
            continue
        cost = (statistics.median(s.wall_s for s in b) - statistics.median(s.wall_s for s in a)) / extra
        target = f" (target <= 50 ms: {_target(cost <= 0.050)})" if name == "ours" else ""
        without = _median([_overhead_ms(s) for s in b])
        lines.append(f"- {label}: {cost * 1000:.0f} ms per step{target}; client ms/step in the {long.title} session "
                     f"{_ms(_median([_step_ms(s) for s in b]))}"
                     + ("" if without is None else f", {_ms(without)} without the commands' own time"))
        value = _median([s.first_request_s for s in a + b])
        if value is not None:
            first[name] = value
    if first:
        lines.append("- time to first request (fork -> first POST at the server, median of both sessions): "
                     + ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in first.items())
                     + (f"; ours starts {(first['ours'] - first['theirs']) * 1000:+.0f} ms later than theirs"
                        if "ours" in first and "theirs" in first else ""))
    return lines


def report(results: dict[str, list[Sample]], labels: dict[str, str], notes: list[str]) -> str:
    lines: list[str] = []
    for case in CASES:
        if any(results.get(f"{name}-{case.key}") for name in labels):
            lines += [*session_report(case, results, labels), ""]
    if any(results.get(f"{name}-{CASES[1].key}") for name in labels) and any(
            results.get(f"{name}-{CASES[0].key}") for name in labels):
        lines += [*per_step_lines(CASES[0], CASES[1], results, labels), ""]
    other = {key: samples for key, samples in results.items() if key.endswith(("-version", "sdk-import")) and samples}
    other_labels = {"ours-version": "ours: `codex --version`", "theirs-version": "theirs: `codex --version`",
                    "sdk-import": "reference: `python -c \"import openai\"` (our interpreter and environment)"}
    lines += ["| case | median wall (s) | min | max | peak RSS (MB) | runs |", "|---|---:|---:|---:|---:|---:|"]
    lines += [_row(other_labels[key], samples) for key, samples in other.items()]
    lines.append("")
    med = {key: statistics.median(s.wall_s for s in samples) for key, samples in other.items()}
    if "ours-version" in med:
        ms = med["ours-version"] * 1000
        lines.append(f"- ours `codex --version`: {ms:.0f} ms median (target <= 50 ms: {_target(ms <= 50)})")
    if "ours-version" in med and "theirs-version" in med:
        ratio = med["ours-version"] / med["theirs-version"]
        lines.append(f"- `--version` wall ratio ours/theirs (medians): {ratio:.1f}")
    ours_short = results.get(f"ours-{CASES[0].key}")
    if "sdk-import" in med and ours_short:
        total = statistics.median(s.wall_s for s in ours_short)
        lines.append(f"- of ours' {CASES[0].title} exec median ({total:.3f} s), `import openai` alone (reference row) "
                     f"is {med['sdk-import']:.3f} s ({med['sdk-import'] / total:.0%})")
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
    parser.add_argument("--ours-commit", metavar="REV",
                        help="run ours from a copy of agent/ at this commit (`git archive`), not the work tree")
    parser.add_argument("--theirs", help=f"OpenAI's codex binary, or a `pip install --target` directory holding "
                                         f"openai-codex-cli-bin (default: ${THEIRS_ENV}, then {THEIRS_CACHE}, "
                                         "then this interpreter's site-packages)")
    parser.add_argument("--no-theirs", action="store_true", help="skip OpenAI's Codex CLI even if installed")
    parser.add_argument("--no-workspace-write", action="store_true",
                        help="skip the rows of ours under the default workspace-write sandbox")
    parser.add_argument("--session", choices=["both", "short", "long"], default="both",
                        help="which scripted sessions to run (default both: 3 and 19 steps)")
    parser.add_argument("--mcp", action="store_true",
                        help="also run benchmarks/mcp_startup.py (3 stdio MCP servers: time to the first request)")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be between 1 and {MAX_RUNS}")
    if not 0 <= args.warmup <= 10:
        parser.error("--warmup must be between 0 and 10")
    if not 1 <= args.timeout <= 3600:
        parser.error("--timeout must be between 1 and 3600 seconds")
    if args.ours and args.ours_commit:
        parser.error("--ours and --ours-commit exclude each other")
    return args


def _interleave(count: int, *steps: Callable[[str], Sample | None]) -> None:
    for i in range(count):
        for step in steps:
            step(str(i + 1))


def make_clis(args: argparse.Namespace, work: Path, notes: list[str]) -> list[Cli]:
    """Ours (danger-full-access), theirs when found, ours under workspace-write; each with its own CODEX_HOME."""
    explicit = str(snapshot_ours(args.ours_commit, work)) if args.ours_commit else args.ours
    argv, version, how = find_ours(explicit)
    if args.ours_commit:
        how = f"agent/ of commit {args.ours_commit} ({Path(explicit).parent.name})"
    (work / "home-ours").mkdir()
    clis = [make_ours(argv, version, how, args.wire_api, work / "home-ours")]
    if args.no_theirs:
        notes.append("theirs rows skipped: --no-theirs")
    else:
        binary, found = find_theirs(args.theirs)
        if binary is None:
            notes.append(f"theirs rows skipped: {found}")
        else:
            (work / "home-theirs").mkdir()
            clis.append(make_theirs(binary, found, work / "home-theirs"))
    if not args.no_workspace_write:
        (work / "home-ours-ws").mkdir()
        clis.append(make_ours(argv, version, how, args.wire_api, work / "home-ours-ws", sandbox="workspace-write"))
    return clis


def benchmark(args: argparse.Namespace, work: Path, procs: Processes) -> str:
    os.chdir(REPO_ROOT)
    if not (REPO_ROOT / "tests" / "fakes" / "scripted_server.py").is_file():
        raise BenchmarkError(f"{REPO_ROOT}/tests/fakes/scripted_server.py not found")
    notes = [f"{datetime.date.today().isoformat()}; {machine.describe()}"]
    busy_before, load_before = machine.background_busy(), _load()
    clis = make_clis(args, work, notes)
    for cli in clis:
        notes += cli.notes
    cases = [case for case in CASES if args.session in ("both", case.key)]
    results: dict[str, list[Sample]] = {f"{c.name}-{case.key}": [] for case in cases for c in clis}
    results.update({f"{c.name}-version": [] for c in clis if c.name != "ours-ws"})
    labels = {"ours": "ours (`--sandbox danger-full-access`)",
              "theirs": "theirs (`--dangerously-bypass-approvals-and-sandbox`)",
              "ours-ws": "ours (`--sandbox workspace-write`, the default)"}
    labels = {name: label for name, label in labels.items() if any(c.name == name for c in clis)}
    results["sdk-import"] = []
    obs = Observations()

    def exec_step(cli: Cli, case: Case, timed: bool) -> Callable[[str], Sample | None]:
        def step(index: str) -> Sample | None:
            sample = run_exec(cli, case, work, index if timed else f"warmup{index}", args.timeout, procs, obs)
            print(f"  {cli.name} {case.title} {'run' if timed else 'warm-up'} {index}: {sample.wall_s:.3f}s wall "
                  f"{sample.cpu_s:.3f}s cpu {sample.maxrss_kb / 1024:.1f} MB, first request "
                  f"{_ms(sample.first_request_s)} ms, {_ms(_step_ms(sample))} ms/step", file=sys.stderr, flush=True)
            if timed:
                results[f"{cli.name}-{case.key}"].append(sample)
            return sample
        return step

    def version_step(cli: Cli) -> Callable[[str], Sample | None]:
        def step(index: str) -> Sample | None:
            sample = run_version(cli, work, index, args.timeout, procs)
            results[f"{cli.name}-version"].append(sample)
            return sample
        return step

    print(f"benchmark: {args.runs} runs per case, CLIs: {', '.join(c.name for c in clis)}, sessions: "
          f"{', '.join(c.title for c in cases)}", file=sys.stderr)
    _interleave(args.warmup, *(exec_step(c, case, timed=False) for case in cases for c in clis))
    _interleave(args.runs, *(exec_step(c, case, timed=True) for case in cases for c in clis))
    _interleave(args.runs, *(version_step(c) for c in clis if c.name != "ours-ws"))

    def sdk_step(index: str) -> Sample:
        results["sdk-import"].append(run_sdk_import(clis[0], work, index, args.timeout, procs))
        return results["sdk-import"][-1]

    _interleave(args.runs, sdk_step)

    notes += obs.lines
    busy_after, load_after = machine.background_busy(), _load()
    noisy = any(value is not None and value >= 0.1 for value in (busy_before, busy_after))
    notes.append(f"CPU used by other work in 1 s samples before/after the runs: {machine.busy_text(busy_before)} / "
                 f"{machine.busy_text(busy_after)} of all CPUs; 1-minute load average "
                 f"{_load_text(load_before)} / {_load_text(load_after)} (the table's load column: at each run's start)"
                 + (" - the machine was busy, wall times are noisy" if noisy else ""))
    notes.append(f"exec: each run in a fresh temporary git repo with a fresh fake server "
                 f"(`python benchmarks/timed_server.py`, the scripted server's CLI plus request timestamps); one "
                 f"CODEX_HOME per CLI, kept across runs, after {args.warmup} checked warm-up run(s) each; runs "
                 f"alternate {' / '.join(c.name for c in clis)} for each session")
    notes.append("first request: fork -> the first POST's arrival at the server (one CLOCK_MONOTONIC); client "
                 "ms/step: a reply fully written by the server -> the next request's arrival (tool run, events, "
                 "next request built and sent), mean per run; without commands: the same minus the commands' "
                 "`duration_ms` (only ours reports it); end: the last reply written -> the process reaped")
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


def _load_text(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


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
    if args.mcp:  # its own process: it imports the project and runs the embedded model
        done = subprocess.run([sys.executable, str(BENCH_DIR / "mcp_startup.py"), "--runs", str(args.runs),
                               "--quiet-wait", "60"], stdout=subprocess.PIPE, text=True, timeout=3600)
        print("\n" + done.stdout)
        return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
