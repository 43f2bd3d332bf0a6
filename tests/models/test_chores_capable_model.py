"""The chores suite's fixtures with the scripted model standing in for one that calls tools correctly.

The shipped 135M model reaches only some chores (benchmarks/README.md); these tests show that the rest is the
model's part: given the same commands the compact profile offers it (its command forms), the harness runs them
in the chore's sandbox, the facts the answer needs reach the model as tool results, and edits land as graded.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCodex, write_provider_config
from tests.fakes.scripted_server import Reply, ScriptedServer, ToolCall

CHORES = Path(__file__).resolve().parents[3] / "shared" / "chores"
pytestmark = pytest.mark.skipif(not (CHORES / "tasks.json").is_file(), reason="../shared/chores is not here")

# What a capable model runs for each public chore: one command in the compact profile's forms.
COMMANDS = {
    "01": ("ls -A", ["README.md", "inventory.py", "pricing.py", "orders.csv"]),
    "02": ("head -n 1 README.md", ["# Larkspur: a tiny weather logger"]),
    "03": ("wc -l data.csv", ["37 data.csv"]),
    "04": ("git grep -n parse_config", ["app/settings.py:4:def parse_config(path):"]),
    "05": ("git branch --show-current", ["feature/login-form"]),
    "06": ("echo 'hello' > notes.txt", []),
    "07": ("echo 'call the plumber' >> todo.txt", []),
    "08": ("mv a.txt b.txt", []),
}


def chores_module():
    spec = importlib.util.spec_from_file_location("run_chores", CHORES / "run_chores.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("run_chores", module)
    spec.loader.exec_module(module)
    return module


def tasks() -> list[dict]:
    if not (CHORES / "tasks.json").is_file():
        return []
    return [t for t in json.loads((CHORES / "tasks.json").read_text())["tasks"] if t["id"] in COMMANDS]


@pytest.mark.parametrize("task", tasks(), ids=lambda t: f"{t['id']}-{t['title'].replace(' ', '-')}")
def test_a_model_that_calls_the_right_command_gets_the_chore_done(task: dict, tmp_path: Path, codex_home: Path,
                                                                  run_codex: RunCodex):
    chores = chores_module()
    repo = tmp_path / "project"
    fixture_files = chores.make_repo(repo, task["fixture"])
    command, facts = COMMANDS[task["id"]]
    script = [Reply(tool_calls=(ToolCall("shell", {"command": ["bash", "-c", command]}),)),
              Reply(text=task["reference"]["final"])]
    with ScriptedServer(script) as server:
        write_provider_config(codex_home, server)
        run = run_codex(["exec", "--skip-git-repo-check", *task["flags"], task["prompt"]], repo)

    assert run.returncode == 0, run.stderr
    requests = [r.body for r in server.requests if r.method == "POST"]
    tool_result = json.dumps(requests[1]["messages"][-1], ensure_ascii=False)
    assert "Exit code: 0" in tool_result, tool_result
    for fact in facts:  # the answer's facts reached the model as the tool's result
        assert fact in tool_result, tool_result
    assert chores.grade(task["check"], repo, run.stdout.strip(), fixture_files) == []
