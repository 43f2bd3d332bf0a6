"""update_plan: the model's checklist."""

from __future__ import annotations

import pytest

from agent.tools.plan_tool import PlanError, parse_plan


def test_valid_plan_becomes_todo_entries_and_explanation():
    entries, explanation = parse_plan({
        "explanation": "Small fix",
        "plan": [
            {"step": "read the code", "status": "completed"},
            {"step": "write the fix", "status": "in_progress"},
            {"step": "run the tests", "status": "pending"},
        ],
    })

    assert [(e.text, e.completed, e.status) for e in entries] == [
        ("read the code", True, "completed"),
        ("write the fix", False, "in_progress"),
        ("run the tests", False, "pending"),
    ]
    assert explanation == "Small fix"


def test_missing_explanation_is_none():
    _, explanation = parse_plan({"plan": [{"step": "do it", "status": "pending"}]})

    assert explanation is None


def test_two_steps_in_progress_are_rejected():
    with pytest.raises(PlanError, match="at most one step may be in_progress"):
        parse_plan({"plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]})


def test_unknown_status_is_rejected_naming_the_item_and_the_choices():
    with pytest.raises(PlanError, match=r"plan item 2 has status 'done'.*pending, in_progress, completed"):
        parse_plan({"plan": [{"step": "a", "status": "pending"}, {"step": "b", "status": "done"}]})


def test_item_without_a_step_is_rejected():
    with pytest.raises(PlanError, match='plan item 1 must be an object with a string "step"'):
        parse_plan({"plan": [{"status": "pending"}]})


@pytest.mark.parametrize("args", [{}, {"plan": "read, fix, test"}, {"plan": None}])
def test_plan_that_is_not_a_list_is_rejected(args):
    with pytest.raises(PlanError, match='"plan" must be a list'):
        parse_plan(args)
