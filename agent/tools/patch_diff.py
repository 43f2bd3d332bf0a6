"""The unified diff of a planned patch: what the user reviews before an edit is written."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path

from agent.tools.apply_patch import FileChange


def unified_diff(changes: Sequence[FileChange], cwd: Path) -> str:
    return "".join(_file_diff(change, cwd) for change in changes)


def _file_diff(change: FileChange, cwd: Path) -> str:
    old_name = _label(change.path, cwd)
    new_name = _label(change.move_to or change.path, cwd)
    old = (change.old_content or "").splitlines(keepends=True)
    new = (change.new_content or "").splitlines(keepends=True)
    before = "/dev/null" if change.old_content is None else f"a/{old_name}"
    after = "/dev/null" if change.new_content is None else f"b/{new_name}"
    header = f"diff --git a/{old_name} b/{new_name}\n"
    body = "".join(_terminated(line) for line in difflib.unified_diff(old, new, before, after))
    if not body:  # a pure rename
        body = f"rename from {old_name}\nrename to {new_name}\n"
    return header + body


def _terminated(line: str) -> str:
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _label(path: Path, cwd: Path) -> str:
    return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)
