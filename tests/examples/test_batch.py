"""examples/lambda-scaffold/batch.py: one headless session per spec in its own worktree, independent runs,
a progress bar, and a summary table plus summary.json."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, codex_command, git, write_provider_config
from tests.examples.conftest import EXAMPLE, scaffold_steps
from tests.fakes.scripted_server import HttpError, ScriptedServer

BATCH = EXAMPLE / "batch.py"
SPECS = [
    {"name": "getOrder", "description": "GET /orders/{orderId}: one order by id, 404 when missing."},
    {"name": "createOrder", "description": "POST /customers/{customerId}/orders: write a new order."},
    {"name": "cancelOrder", "description": "POST /orders/{orderId}/cancel: mark the order cancelled."},
]


def load_batch_module():
    spec = importlib.util.spec_from_file_location("lambda_scaffold_batch", BATCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


batch = load_batch_module()


def run_batch(args: list[str], codex_home: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "CODEX_HOME": str(codex_home), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, str(BATCH), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_batch_runs_every_spec_in_its_own_worktree_and_a_failure_does_not_stop_the_others(
        example_repo: Path, codex_home: Path, tmp_path: Path):
    specs_file, out = tmp_path / "specs.json", tmp_path / "runs"
    specs_file.write_text(json.dumps(SPECS))
    script = [*scaffold_steps("getOrder"), HttpError(400, "scripted: the model rejected the request"),
              *scaffold_steps("cancelOrder", run_check=False)]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        codex = shlex.join([*codex_command(), "exec", "--full-auto"])
        done = run_batch([str(specs_file), "--repo", str(example_repo), "--out", str(out), "--jobs", "1",
                          "--codex", codex, "--", "--color", "never"], codex_home)

    assert done.returncode == 1, done.stderr
    assert len(server.requests) == len(script)  # the failed run did not end the batch
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (3, 2, 1)
    runs = {run["name"]: run for run in summary["runs"]}
    assert [runs[n]["status"] for n in ("getOrder", "createOrder", "cancelOrder")] == ["ok", "failed", "ok"]
    assert runs["createOrder"]["exit_code"] == 1 and "rejected the request" in runs["createOrder"]["error"]
    assert runs["createOrder"]["report"] is None and not (out / "createOrder/report.json").exists()

    for name in ("getOrder", "cancelOrder"):
        run, worktree = runs[name], out / name / "worktree"
        assert run["exit_code"] == 0 and run["report"]["handlers"] == [name]
        assert (worktree / f"src/handlers/{name}.ts").is_file() and (worktree / f"tests/{name}.test.ts").is_file()
        assert run["changed_files"] == [f"src/handlers/{name}.ts", f"tests/{name}.test.ts"]
        assert git(worktree, "branch", "--show-current").strip() == f"scaffold/{name}"
    assert len(runs["getOrder"]["commands"]) == 1 and runs["getOrder"]["commands"][0].endswith("(exit 0)")
    assert not (example_repo / "src/handlers/getOrder.ts").exists()  # the main checkout is untouched

    for name in ("getOrder", "createOrder", "cancelOrder"):
        assert (out / name / "worktree/AGENTS.md").is_file()
        events = [json.loads(line) for line in (out / name / "events.jsonl").read_text().splitlines()]
        assert events[0]["type"] == "thread.started"
        assert events[-1]["type"] == ("turn.failed" if name == "createOrder" else "turn.completed")
    assert set(git(example_repo, "branch", "--list", "--format=%(refname:short)", "scaffold/*").split()) == {
        "scaffold/getOrder", "scaffold/createOrder", "scaffold/cancelOrder"}

    table = done.stdout.splitlines()
    assert [cell.strip() for cell in table[0].split("|")] == ["name", "status", "exit", "files", "handlers",
                                                              "tests", "duration"]
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.split("|")] for line in table[2:])}
    assert rows["getOrder"][1:6] == ["ok", "0", "2", "getOrder", "passed"]
    assert rows["createOrder"][1:6] == ["failed", "1", "-", "-", "-"]
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert progress[-1].startswith("[########################] 3/3 done, 1 failed"), done.stderr
    assert len(progress) == 3  # not a terminal: one line per finished run


def test_a_run_that_outlives_the_timeout_is_killed_and_reported(example_repo: Path, codex_home: Path,
                                                                tmp_path: Path):
    specs_file, out = tmp_path / "specs.txt", tmp_path / "runs"
    specs_file.write_text("# name: description\ngetOrder: read one order by id\n")
    slow = shlex.join([sys.executable, "-c", "import time; time.sleep(60)"])

    done = run_batch([str(specs_file), "--repo", str(example_repo), "--out", str(out), "--codex", slow,
                      "--timeout", "1"], codex_home, timeout=60)

    assert done.returncode == 1
    [run] = json.loads((out / "summary.json").read_text())["runs"]
    assert run["status"] == "timeout" and run["exit_code"] is None and run["duration_s"] < 30


def test_an_existing_branch_fails_that_spec_only(example_repo: Path, codex_home: Path, tmp_path: Path):
    git(example_repo, "branch", "scaffold/getOrder")
    specs_file, out = tmp_path / "specs.json", tmp_path / "runs"
    specs_file.write_text(json.dumps(SPECS[:1]))

    done = run_batch([str(specs_file), "--repo", str(example_repo), "--out", str(out), "--codex", "false"],
                     codex_home, timeout=60)

    assert done.returncode == 1
    [run] = json.loads((out / "summary.json").read_text())["runs"]
    assert run["status"] == "error" and "git worktree add failed" in run["error"] and "already exists" in run["error"]


def test_specs_load_from_json_or_text_lines(tmp_path: Path):
    text = tmp_path / "specs.txt"
    text.write_text("# handlers to add\n\ngetOrder: read one order by id\ncreateOrder: POST an order: 201\n")
    assert batch.load_specs(text) == [batch.Spec("getOrder", "read one order by id"),
                                      batch.Spec("createOrder", "POST an order: 201")]
    assert [s.name for s in batch.load_specs(EXAMPLE / "specs.json")] == ["getOrder", "createOrder", "cancelOrder"]
    assert "src/handlers/getOrder.ts" in batch.Spec("getOrder", "read it").prompt()


@pytest.mark.parametrize("content, message", [
    ('[{"name": "get order", "description": "x"}]', "must be an identifier"),
    ('[{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]', "appears twice"),
    ('{"nope": 1}', "expected a list"),
    ("[]", "no specs"),
])
def test_bad_specs_are_a_usage_error(tmp_path: Path, content: str, message: str):
    path = tmp_path / "specs.json"
    path.write_text(content)
    with pytest.raises(batch.UsageError, match=message):
        batch.load_specs(path)


def test_progress_bar_redraws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = batch.Progress(4, stream, width=8)
    for name, status in (("a", "ok"), ("b", "failed")):
        progress.started(name)
        progress.finished(batch.RunResult(name, status=status, duration_s=1.5))
    progress.close()

    frames = stream.getvalue().split("\r\x1b[K")
    assert frames[-1] == "[####----] 2/4 done, 1 failed  b: failed in 1.5s\n"
    assert "\n" not in "".join(frames[:-1])
