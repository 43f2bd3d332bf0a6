"""The `apply_patch` tool: its spec, and the handler that plans the whole patch, asks when the policy says so
(showing the diff), snapshots for undo, then writes all files or none (agent.tools.apply_patch, the engine).

The item completes (and so the audit records each file) after every file is in place but before the
edit's journal is removed, so a `kill -9` in between leaves the recording to the next start's recovery.
Its paths are the paths really written: resolved, without symlinks, and where a directory another
process moved during the write now is. A tool output says "no file was changed" only when that is true.
The tool also takes its arguments as the raw patch text (`freeform_arguments`), as Codex's freeform tool does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.models.base import ToolSpec
from agent.protocol import ApprovalRequested, FileChangeItem, ItemStarted, PathChange
from agent.safety import approval
from agent.tools import apply_patch, patch_journal
from agent.tools.context import Tool, ToolContext, ToolError, finish, settle
from agent.tools.patch_diff import unified_diff

EVERYWHERE = (Path("/"),)  # planning accepts any resolved path; approval.plan_edit decides what may be written

SPEC = ToolSpec(
    name="apply_patch",
    description=(
        "Create, edit, rename and delete files by applying a patch. The format is NOT a unified diff:\n"
        "*** Begin Patch\n"
        "*** Add File: <path>        new file; every line of it starts with '+'\n"
        "*** Update File: <path>     edit a file; optionally followed by '*** Move to: <new path>'\n"
        "*** Delete File: <path>     remove a file\n"
        "*** End Patch\n"
        "In an Update, each change starts with a line '@@', or '@@ <text>' where <text> is a line above the "
        "change (such as a class or def header) that locates it, followed by lines starting with ' ' "
        "(unchanged context), '-' (remove) or '+' (add). Copy context and '-' lines exactly from the file "
        "and give about 3 lines of context above and below each change. Add '*** End of File' after a change "
        "that must match the end of the file. Paths are relative to the working directory, never absolute. "
        "Several files can be changed in one patch; it is applied all or nothing.\n"
        "Example:\n"
        "*** Begin Patch\n"
        "*** Add File: hello.txt\n"
        "+Hello world\n"
        "*** Update File: src/app.py\n"
        "*** Move to: src/main.py\n"
        "@@ def greet():\n"
        "-    print('Hi')\n"
        "+    print('Hello')\n"
        "     return None\n"
        "*** Delete File: obsolete.txt\n"
        "*** End Patch"
    ),
    parameters={
        "type": "object",
        "properties": {
            "input": {
                "type": "string",
                "description": "The whole patch, from '*** Begin Patch' to '*** End Patch'.",
            }
        },
        "required": ["input"],
        "additionalProperties": False,
    },
)


def freeform_arguments(raw: str) -> dict[str, Any] | None:
    """The arguments a raw patch text (not a JSON object) stands for; None when `raw` is not a patch."""
    return {"input": raw} if raw.lstrip().startswith(apply_patch.BEGIN_PATCH) else None


def run_apply_patch(args: dict[str, Any], ctx: ToolContext) -> str:
    patch_text = args.get("input")
    if not isinstance(patch_text, str) or not patch_text.strip():
        raise ToolError('apply_patch needs {"input": "*** Begin Patch\\n...\\n*** End Patch"}')
    item = FileChangeItem(ctx.new_item_id())
    try:
        changes = apply_patch.plan(patch_text, ctx.cwd, EVERYWHERE)
    except apply_patch.PatchError as e:
        ctx.emit(ItemStarted(item))
        finish(ctx, item, status="failed", error=str(e))
        return f"error: apply_patch failed, no file was changed: {e}"
    item.changes = [PathChange(str(c.move_to or c.path), c.kind) for c in changes]
    item.diff = unified_diff(changes, ctx.cwd)
    ctx.emit(ItemStarted(item))
    paths = touched_paths(changes)
    refusal = _approve(ctx, item, paths)
    if refusal:
        return refusal
    if ctx.before_edit:
        ctx.before_edit(paths)
    try:
        written = apply_patch.apply(changes, ctx.cwd, patch_journal.journal_dir(ctx.config.codex_home),
                                    lambda written: _complete(ctx, item, changes, written), ctx.config.audit_enabled)
    except apply_patch.PartlyApplied as e:
        return f"error: apply_patch failed: {e}"  # the item was completed with the files that were written
    except apply_patch.PatchError as e:
        finish(ctx, item, status="failed", error=str(e))
        return f"error: apply_patch failed: {e}"
    note = apply_patch.relocation_note(written, ctx.cwd)
    return "Success. Updated the following files:\n" + apply_patch.summarize(changes, ctx.cwd) + \
        (f"\n{note}" if note else "")


def _complete(ctx: ToolContext, item: FileChangeItem, changes: list[apply_patch.FileChange],
              written: patch_journal.Written) -> None:
    """Complete the item with the paths really written; a path another process kept from being written is
    left out (and named in the error), so the audit records exactly the files that changed."""
    item.changes = [PathChange(str(written.real_path(target)), change.kind) for change in changes
                    if (target := change.move_to or change.path) not in written.failed]
    error = apply_patch.partial_message(written, ctx.cwd) if written.failed else None
    finish(ctx, item, status="completed", error=error)


def touched_paths(changes: list[apply_patch.FileChange]) -> list[Path]:
    paths = [c.path for c in changes] + [c.move_to for c in changes if c.move_to]
    return list(dict.fromkeys(paths))


def _approve(ctx: ToolContext, item: FileChangeItem, paths: list[Path]) -> str | None:
    """None when the edit may go ahead, else the tool output (after declining the item)."""
    plan = approval.plan_edit(ctx.config, paths, ctx.approvals)
    if plan.refused:
        finish(ctx, item, status="declined", error=plan.refused)
        return f"error: {plan.refused}"
    if not plan.ask:
        return None
    request = ApprovalRequested(request_id=item.id, kind="patch", reason=plan.reason, cwd=str(ctx.cwd),
                                diff=item.diff, paths=tuple(str(p) for p in paths))
    declined = settle(ctx, item, approval.edit_outcome(ctx.ask(request), paths, plan.reason, ctx.approvals), "error")
    return None if declined is None else f"error: {declined}"


APPLY_PATCH = Tool(SPEC, run_apply_patch, freeform=freeform_arguments)
