#!/usr/bin/env python3
"""Scaffold many Lambda handlers headless: one `codex exec` session per spec, each in its own git worktree.

    python batch.py specs.json --repo PATH [--jobs N] [--out DIR] [--codex "codex exec --full-auto"]
                    [--setup "npm ci"] [--timeout SECONDS] [-- extra codex args]

For each spec (a name and a description) it creates a branch and worktree
(`git worktree add -b scaffold/<name> <out>/<name>/worktree`), runs

    codex exec --full-auto --json --output-schema scaffold-report.schema.json \
        -o <out>/<name>/report.json -C <out>/<name>/worktree [extra args] "<prompt>"

with stdout in `<out>/<name>/events.jsonl` and stderr in `<out>/<name>/stderr.log`, and at the end prints a
summary table on stdout and writes it, with each run's report and event counts, to `<out>/summary.json`.
Runs are independent: one that fails, times out or cannot start does not stop the others. The exit code is 0
when every run succeeded (codex exited 0 and its report says the tests passed), 1 otherwise, 2 on bad usage.

Progress goes to stderr: a bar redrawn in place on a terminal, one line per finished run otherwise.
Standard library only, so it runs wherever the agent does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
DEFAULT_SCHEMA = HERE / "scaffold-report.schema.json"
DEFAULT_CODEX = "codex exec --full-auto"
DEFAULT_TIMEOUT_S = 900.0
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

PROMPT_TEMPLATE = """\
Add a Lambda handler {name}: {description}

Follow AGENTS.md: create src/handlers/{name}.ts in the style of src/handlers/listOrders.ts and its test
tests/{name}.test.ts, then run the project's check (npm run check) and fix what it reports.
Finish with the scaffold report: the files you created, the handler names, the commands you ran and
whether the tests passed."""


class UsageError(Exception):
    """Bad arguments or specs: reported on one line, exit code 2."""


@dataclass(frozen=True)
class Spec:
    name: str
    description: str

    def prompt(self) -> str:
        return PROMPT_TEMPLATE.format(name=self.name, description=self.description.strip())


@dataclass
class RunResult:
    name: str
    status: str = "pending"  # ok | failed | tests-failed | timeout | error
    exit_code: int | None = None
    duration_s: float = 0.0
    branch: str = ""
    worktree: str = ""
    events_file: str = ""
    report_file: str = ""
    stderr_file: str = ""
    report: dict[str, Any] | None = None
    event_counts: dict[str, int] = field(default_factory=dict)
    changed_files: list[str] = field(default_factory=list)  # from the file_change events
    commands: list[str] = field(default_factory=list)  # from the command_execution events
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "ok"


# --------------------------------------------------------------------------------------------- specs


def load_specs(path: Path) -> list[Spec]:
    """`specs.json` (a list of {"name", "description"}, or {"specs": [...]}) or a text file of
    `name: description` lines (blank lines and `#` comments ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read the specs file {path} ({e.strerror})") from e
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path} line {e.lineno}: not valid JSON ({e.msg})") from e
        if isinstance(data, dict):
            data = data.get("specs")
        if not isinstance(data, list):
            raise UsageError(f'{path}: expected a list of {{"name", "description"}} objects')
        specs = [_spec_from_json(path, index, item) for index, item in enumerate(data)]
    else:
        specs = [_spec_from_line(path, number, line) for number, line in enumerate(text.splitlines(), 1)
                 if line.strip() and not line.lstrip().startswith("#")]
    if not specs:
        raise UsageError(f"{path} holds no specs")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"{path}: the name {spec.name!r} appears twice; each spec needs its own branch")
        seen.add(spec.name)
    return specs


def _spec_from_json(path: Path, index: int, item: Any) -> Spec:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("description"):
        raise UsageError(f'{path} spec #{index + 1}: needs a "name" and a "description"')
    return _checked(path, f"spec #{index + 1}", Spec(item["name"], str(item["description"])))


def _spec_from_line(path: Path, number: int, line: str) -> Spec:
    name, sep, description = line.partition(":")
    if not sep or not description.strip():
        raise UsageError(f"{path} line {number}: expected `name: description`")
    return _checked(path, f"line {number}", Spec(name.strip(), description.strip()))


def _checked(path: Path, where: str, spec: Spec) -> Spec:
    if not NAME_PATTERN.match(spec.name):
        raise UsageError(f"{path} {where}: the name {spec.name!r} must be an identifier "
                         "(letters, digits, - or _), as it names a file, a branch and a directory")
    return spec


# --------------------------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class BatchOptions:
    repo: Path
    out: Path
    codex: tuple[str, ...]
    extra_args: tuple[str, ...]
    schema: Path
    timeout_s: float
    setup: str | None
    base: str


_git_lock = threading.Lock()  # `git worktree add` on one repository is not safe to run concurrently


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def run_spec(spec: Spec, options: BatchOptions) -> RunResult:
    """One headless session in a fresh worktree. Never raises: every failure becomes the result's status."""
    run_dir = options.out / spec.name
    worktree = run_dir / "worktree"
    result = RunResult(
        spec.name,
        branch=f"scaffold/{spec.name}",
        worktree=str(worktree),
        events_file=str(run_dir / "events.jsonl"),
        report_file=str(run_dir / "report.json"),
        stderr_file=str(run_dir / "stderr.log"),
    )
    started = time.monotonic()
    try:
        _run(spec, options, result)
    except Exception as e:  # a batch must outlive any one run
        result.status, result.error = "error", f"{type(e).__name__}: {e}"
    result.duration_s = round(time.monotonic() - started, 1)
    return result


def _run(spec: Spec, options: BatchOptions, result: RunResult) -> None:
    run_dir, worktree = Path(result.events_file).parent, Path(result.worktree)
    if worktree.exists():
        result.status, result.error = "error", f"{worktree} already exists: pick another --out, or remove it"
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with _git_lock:
        added = git(options.repo, "worktree", "add", "-q", "-b", result.branch, str(worktree), options.base)
    if added.returncode != 0:
        result.status = "error"
        result.error = f"git worktree add failed: {added.stderr.strip()}"
        return
    stderr_path = Path(result.stderr_file)
    if options.setup and not _setup(options.setup, worktree, stderr_path, result):
        return
    command = [*options.codex, "--json", "--output-schema", str(options.schema), "-o", result.report_file,
               "-C", str(worktree), *options.extra_args, spec.prompt()]
    with open(result.events_file, "w", encoding="utf-8") as out, open(stderr_path, "a", encoding="utf-8") as err:
        err.write(f"$ {shlex.join(command)}\n")
        err.flush()
        result.exit_code = _run_bounded(command, worktree, out, err, options.timeout_s)
    _read_events(result)
    _read_report(result)
    if result.exit_code is None:
        result.status, result.error = "timeout", f"killed after {options.timeout_s:g}s (--timeout)"
    elif result.exit_code != 0:
        result.status = "failed"
        result.error = result.error or _stderr_tail(stderr_path) or f"codex exited {result.exit_code}"
    elif result.report is None:
        result.status, result.error = "failed", result.error or "no report was written"
    elif result.report.get("tests_passed") is not True:
        result.status, result.error = "tests-failed", "the report says the tests did not pass"
    else:
        result.status = "ok"


def _setup(setup: str, worktree: Path, stderr_path: Path, result: RunResult) -> bool:
    """Run `--setup` (e.g. `npm ci`) in the worktree, outside the agent's sandbox; False when it failed."""
    with open(stderr_path, "a", encoding="utf-8") as err:
        err.write(f"$ {setup}\n")
        err.flush()
        done = subprocess.run(setup, shell=True, cwd=worktree, stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                              check=False)
    if done.returncode != 0:
        result.status, result.error = "error", f"--setup {setup!r} exited {done.returncode}"
        return False
    return True


def _run_bounded(command: Sequence[str], cwd: Path, out: TextIO, err: TextIO, timeout_s: float) -> int | None:
    """The exit code, or None when the run outlived `timeout_s` and was killed (with its process group)."""
    with _running_lock:
        if _stopping.is_set():
            return None
        proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)  # its own process group: a timeout ends all it started
        _running.add(proc)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_process_group(proc)
        return None
    finally:
        with _running_lock:
            _running.discard(proc)


_running: set[subprocess.Popen[bytes]] = set()  # so that Ctrl-C can stop the runs in their own sessions
_running_lock = threading.Lock()
_stopping = threading.Event()


def stop_process_group(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the run's process group, then SIGKILL it if it is still there after `grace_s`."""
    for sig, grace in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _read_events(result: RunResult) -> None:
    """Count the event types, and note the files changed, the commands run and any error message."""
    path, worktree = Path(result.events_file), Path(result.worktree)
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            result.event_counts["unparsed"] = result.event_counts.get("unparsed", 0) + 1
            continue
        kind = str(event.get("type"))
        result.event_counts[kind] = result.event_counts.get(kind, 0) + 1
        item = event.get("item") or {}
        if kind == "item.completed" and item.get("type") == "file_change" and item.get("status") == "completed":
            for change in item.get("changes", ()):
                changed = _relative(change.get("path", ""), worktree)
                if changed not in result.changed_files:
                    result.changed_files.append(changed)
        elif kind == "item.completed" and item.get("type") == "command_execution":
            result.commands.append(f"{item.get('command')} (exit {item.get('exit_code')})")
        elif kind == "turn.failed":
            result.error = (event.get("error") or {}).get("message", "")
        elif kind == "error":
            result.error = str(event.get("message", ""))


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return path


def _read_report(result: RunResult) -> None:
    path = Path(result.report_file)
    if not path.exists():
        return
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        result.error = f"report.json is not JSON ({e.msg})"
        return
    result.report = report if isinstance(report, dict) else None


def _stderr_tail(path: Path) -> str:
    """The last `error` line codex printed, if any (the human renderer's lines start with the label)."""
    if not path.exists():
        return ""
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    return (errors or lines or [""])[-1][:300]


# --------------------------------------------------------------------------------------------- progress


class Progress:
    """`[#####-----] 3/8 done, 1 failed`: redrawn in place on a terminal, one line per update otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 24):
        self.total, self.stream, self.width = total, stream, width
        self.done = self.failed = self.running = 0
        self.tty = stream.isatty()
        self._lock = threading.Lock()

    def line(self, last: str = "") -> str:
        filled = self.width * self.done // self.total if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        text = f"[{bar}] {self.done}/{self.total} done, {self.failed} failed"
        if self.running:
            text += f", {self.running} running"
        return f"{text}  {last}" if last else text

    def started(self, name: str) -> None:
        with self._lock:
            self.running += 1
            if self.tty:
                self._draw(self.line(f"started {name}"))

    def finished(self, result: RunResult) -> None:
        with self._lock:
            self.running -= 1
            self.done += 1
            self.failed += 0 if result.succeeded else 1
            self._draw(self.line(f"{result.name}: {result.status} in {result.duration_s:.1f}s"))

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


# --------------------------------------------------------------------------------------------- summary


def summary_rows(results: Sequence[RunResult]) -> list[list[str]]:
    rows = [["name", "status", "exit", "files", "handlers", "tests", "duration"]]
    for r in results:
        report = r.report or {}
        tests = {True: "passed", False: "failed"}.get(report.get("tests_passed"), "-")
        rows.append([
            r.name,
            r.status,
            "-" if r.exit_code is None else str(r.exit_code),
            str(len(report.get("files_created") or [])) if r.report else "-",
            ", ".join(report.get("handlers") or []) or "-",
            tests,
            f"{r.duration_s:.1f}s",
        ])
    return rows


def format_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def write_summary(results: Sequence[RunResult], options: BatchOptions, path: Path) -> None:
    summary = {
        "repo": str(options.repo),
        "command": [*options.codex, *options.extra_args],
        "total": len(results),
        "succeeded": sum(r.succeeded for r in results),
        "failed": sum(not r.succeeded for r in results),
        "runs": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------- main


def run_batch(specs: Sequence[Spec], options: BatchOptions, jobs: int, progress: Progress) -> list[RunResult]:
    def one(spec: Spec) -> RunResult:
        progress.started(spec.name)
        result = run_spec(spec, options)
        progress.finished(result)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        results = list(pool.map(one, specs))
    except KeyboardInterrupt:  # Ctrl-C: start no new run, stop the running ones (they have their own sessions)
        _stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        with _running_lock:
            running = list(_running)
        for proc in running:
            stop_process_group(proc, grace_s=2.0)
        raise
    pool.shutdown()
    progress.close()
    return results


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="batch.py", description="Run one headless codex scaffold session per spec, each in its own worktree.",
        epilog="Arguments after -- are passed to every codex exec run (e.g. -- --oss -m qwen2.5-coder:7b).")
    parser.add_argument("specs", type=Path, help="specs.json, or a text file of `name: description` lines")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the git repository (default: .)")
    parser.add_argument("--out", type=Path, help="where the worktrees and logs go (default: <repo>-scaffolds)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="runs at the same time (default 1)")
    parser.add_argument("--codex", default=DEFAULT_CODEX, help=f'the command to run (default "{DEFAULT_CODEX}")')
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="the --output-schema file")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per run (default 900)")
    parser.add_argument("--setup", help='a shell command run in each new worktree first, e.g. "npm ci"')
    parser.add_argument("--base", default="HEAD", help="the commit each branch starts from (default HEAD)")
    return parser.parse_args(argv), extra


def build_options(args: argparse.Namespace, extra: Sequence[str]) -> BatchOptions:
    found = git(args.repo, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise UsageError(f"{args.repo} is not a git repository: pass --repo PATH of one")
    repo = Path(found.stdout.strip())
    if not args.schema.is_file():
        raise UsageError(f"the schema {args.schema} does not exist: pass --schema FILE")
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    codex = tuple(shlex.split(args.codex))
    if not codex:
        raise UsageError("--codex is empty")
    out = (args.out or repo.parent / f"{repo.name}-scaffolds").resolve()
    return BatchOptions(repo, out, codex, tuple(extra), args.schema.resolve(), args.timeout, args.setup, args.base)


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        specs = load_specs(args.specs)
        options = build_options(args, extra)
    except UsageError as e:
        print(f"batch.py: {e}", file=sys.stderr)
        return 2
    options.out.mkdir(parents=True, exist_ok=True)
    print(f"batch: {len(specs)} specs from {args.specs}, {args.jobs} at a time, logs in {options.out}",
          file=sys.stderr, flush=True)
    try:
        results = run_batch(specs, options, args.jobs, Progress(len(specs)))
    except KeyboardInterrupt:
        print(f"\nbatch: interrupted; the logs so far are in {options.out}", file=sys.stderr)
        return 130
    summary_path = options.out / "summary.json"
    write_summary(results, options, summary_path)
    print(format_table(summary_rows(results)))
    for r in results:
        if not r.succeeded:
            print(f"{r.name}: {r.error or r.status} (see {r.stderr_file})", file=sys.stderr)
    succeeded = sum(r.succeeded for r in results)
    print(f"{succeeded}/{len(results)} succeeded; summary in {summary_path}", file=sys.stderr)
    return 0 if succeeded == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
