"""The `update_plan` tool: the model's checklist, shown to the user as one todo list item that each call
updates. It only records the plan; nothing runs from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.models.base import ToolSpec
from agent.protocol import ItemStarted, ItemUpdated, TodoEntry, TodoList
from agent.tools.context import Tool, ToolContext, ToolError

STATUSES = ("pending", "in_progress", "completed")

SPEC = ToolSpec(
    name="update_plan",
    description=(
        "Record or update your plan for the task as a short checklist shown to the user. "
        "Send the whole plan each time; mark at most one step in_progress and mark steps completed as you go."
    ),
    parameters={
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "plan": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {"type": "string", "enum": list(STATUSES)},
                    },
                    "required": ["step", "status"],
                },
            },
        },
        "required": ["plan"],
    },
)


class PlanError(ValueError):
    """The plan the model sent is not valid; the message says why."""


def run_update_plan(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        entries, explanation = parse_plan(args)
    except PlanError as e:
        raise ToolError(str(e)) from e
    if ctx.plan_item is None:
        ctx.plan_item = TodoList(ctx.new_item_id(), entries, explanation)
        ctx.emit(ItemStarted(ctx.plan_item))
    else:
        ctx.plan_item.items, ctx.plan_item.explanation = entries, explanation
        ctx.emit(ItemUpdated(ctx.plan_item))
    return "Plan updated"


def parse_plan(args: Mapping[str, Any]) -> tuple[list[TodoEntry], str | None]:
    plan = args.get("plan")
    if not isinstance(plan, list):
        raise PlanError('"plan" must be a list of {"step": ..., "status": ...} objects')
    entries = [_entry(i, step) for i, step in enumerate(plan, start=1)]
    if sum(e.status == "in_progress" for e in entries) > 1:
        raise PlanError("at most one step may be in_progress")
    explanation = args.get("explanation")
    return entries, explanation if isinstance(explanation, str) and explanation else None


def _entry(index: int, step: Any) -> TodoEntry:
    if not isinstance(step, dict) or not isinstance(step.get("step"), str):
        raise PlanError(f'plan item {index} must be an object with a string "step"')
    status = step.get("status", "pending")
    if status not in STATUSES:
        raise PlanError(f"plan item {index} has status {status!r}; use one of {', '.join(STATUSES)}")
    return TodoEntry(text=step["step"], completed=status == "completed", status=status)


UPDATE_PLAN = Tool(SPEC, run_update_plan)
