"""The agent's plan (update_plan) as a checklist, updated in place as steps complete."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.protocol import TodoList
from agent.terminal_text import visible

MARKS = {"completed": ("✔", "strike dim"), "in_progress": ("◐", "bold"), "pending": ("□", "")}


class PlanCell(Static):
    DEFAULT_CSS = """
    PlanCell {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
    }
    """

    def __init__(self, item: TodoList, **kwargs):
        super().__init__(**kwargs)
        self.item_id = item.id
        self.show(item)

    def show(self, item: TodoList) -> None:
        self.item = item
        done = sum(1 for entry in item.items if entry.completed)
        text = Text.assemble(("Plan", "bold"), (f"  {done}/{len(item.items)} done", "dim"))
        if item.explanation:
            text.append(f"\n{visible(item.explanation)}", style="italic")
        for entry in item.items:
            status = "completed" if entry.completed else entry.status
            mark, style = MARKS.get(status, MARKS["pending"])
            text.append(f"\n {mark} ")
            text.append(visible(entry.text), style=style)
        self.update(text)
