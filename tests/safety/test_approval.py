"""What the user's answer to an approval means, the session's "always" memory, and the /approvals presets:
all in agent.safety.approval."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.config import Config, Overrides, load_config
from agent.protocol import APPROVAL_POLICIES, SANDBOX_MODES
from agent.safety.approval import (
    APPROVAL_PRESETS,
    SessionApprovals,
    command_outcome,
    edit_outcome,
    plan_command,
    plan_edit,
    preset_named,
    retry_outcome,
)

ARGV = ("bash", "-lc", "make deploy")


def config(cwd: Path, codex_home: Path, sandbox: str, approval: str) -> Config:
    return load_config(Overrides(cwd=cwd, sandbox_mode=sandbox, approval_policy=approval),
                       dict(os.environ, CODEX_HOME=str(codex_home)))


def test_approving_a_command_for_the_session_stops_the_next_ask(git_repo: Path, codex_home: Path) -> None:
    untrusted = config(git_repo, codex_home, "workspace-write", "untrusted")
    approvals = SessionApprovals()
    assert plan_command(untrusted, ARGV, False, known_safe=False, approvals=approvals).ask
    assert command_outcome("approve_session", ARGV, "why", approvals).proceed
    again = plan_command(untrusted, ARGV, False, known_safe=False, approvals=approvals)
    assert (again.ask, again.sandboxed) == (False, True)
    assert plan_command(untrusted, ("bash", "-lc", "make clean"), False, known_safe=False, approvals=approvals).ask


def test_approving_once_remembers_nothing() -> None:
    approvals = SessionApprovals()
    assert command_outcome("approve", ARGV, "why", approvals).proceed
    assert edit_outcome("approve", [Path("/x")], "why", approvals).proceed
    assert approvals == SessionApprovals()


@pytest.mark.parametrize("decision, stops", [("deny", False), ("abort", True)])
def test_a_denied_command_is_declined_and_abort_also_stops_the_turn(decision: str, stops: bool) -> None:
    outcome = command_outcome(decision, ARGV, "it is not on the known-safe list", SessionApprovals())
    assert not outcome.proceed
    assert outcome.declined == "this command needed approval and was not approved (it is not on the known-safe list)"
    assert (outcome.stop_turn == "the user denied a command and stopped the turn") if stops else \
        outcome.stop_turn is None


@pytest.mark.parametrize("decision, stops", [("deny", False), ("abort", True)])
def test_a_denied_edit_is_declined_and_abort_also_stops_the_turn(decision: str, stops: bool) -> None:
    outcome = edit_outcome(decision, [Path("/etc/hosts")], "outside", SessionApprovals())
    assert (outcome.proceed, outcome.declined) == (False, "this edit needed approval and was not approved (outside)")
    assert (outcome.stop_turn == "the user denied an edit and stopped the turn") if stops else \
        outcome.stop_turn is None


def test_refusing_the_unsandboxed_retry_never_stops_the_turn() -> None:
    approvals = SessionApprovals()
    for decision in ("deny", "abort"):
        outcome = retry_outcome(decision, ARGV, approvals)
        assert (outcome.proceed, outcome.stop_turn) == (False, None)
    assert retry_outcome("approve_session", ARGV, approvals).proceed and approvals.allows_command(ARGV)


def test_approving_an_edit_for_the_session_covers_those_files_only(git_repo: Path, codex_home: Path,
                                                                   tmp_path: Path) -> None:
    outside = (tmp_path / "outside.txt").resolve()
    other = (tmp_path / "other.txt").resolve()
    on_request = config(git_repo, codex_home, "workspace-write", "on-request")
    approvals = SessionApprovals()
    assert plan_edit(on_request, [outside], approvals).ask
    assert edit_outcome("approve_session", [outside], "outside", approvals).proceed
    assert not plan_edit(on_request, [outside], approvals).ask
    assert plan_edit(on_request, [outside, other], approvals).ask


def test_the_presets_are_read_only_auto_and_full_access() -> None:
    assert [(p.label, p.sandbox_mode, p.approval_policy) for p in APPROVAL_PRESETS] == [
        ("Read Only", "read-only", "on-request"),
        ("Auto", "workspace-write", "on-request"),
        ("Full Access", "danger-full-access", "never"),
    ]
    assert all(p.sandbox_mode in SANDBOX_MODES and p.approval_policy in APPROVAL_POLICIES for p in APPROVAL_PRESETS)
    assert all(p.description for p in APPROVAL_PRESETS)


@pytest.mark.parametrize("name, label", [("auto", "Auto"), ("Full Access", "Full Access"),
                                         ("full-access", "Full Access"), ("READ-only", "Read Only")])
def test_a_preset_is_found_by_its_label_in_any_case_with_spaces_or_dashes(name: str, label: str) -> None:
    preset = preset_named(name)
    assert preset is not None and preset.label == label


def test_an_unknown_preset_name_finds_nothing() -> None:
    assert preset_named("yolo") is None
