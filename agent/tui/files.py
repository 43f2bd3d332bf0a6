"""The repository's files for the `@` picker, and the fuzzy matching that filters them as the user types.

Inside git the list is `git ls-files --cached --others --exclude-standard` (tracked plus untracked files,
.gitignore respected); outside git it is a walk that skips hidden and well-known bulky directories. Both
stop at `MAX_FILES`. This module does not render anything and never writes.
"""

from __future__ import annotations

import heapq
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

MAX_FILES = 50_000
SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache", ".tox", "dist", "build", "target"})


def list_files(root: Path) -> list[str]:
    """Paths relative to `root`, sorted: git's view of the tree when `root` is in a repository, else a walk."""
    files = _git_files(root)
    if files is None:
        files = _walk(root)
    return sorted(files)[:MAX_FILES]


def _git_files(root: Path) -> list[str] | None:
    try:
        result = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = result.stdout.decode("utf-8", errors="replace").split("\0")
    return list(dict.fromkeys(name for name in names if name))  # a conflicted file is listed once per stage


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        base = Path(directory).relative_to(root)
        found.extend(str(base / name) if str(base) != "." else name for name in files)
        if len(found) >= MAX_FILES:
            break
    return found


@dataclass(frozen=True)
class Match:
    path: str
    score: float
    positions: tuple[int, ...]  # indexes of the matched characters in `path`


def fuzzy_filter(query: str, paths: list[str], limit: int = 50) -> list[Match]:
    """The best `limit` paths containing the query's characters in order (case-insensitive), best first.

    Matches in the file name beat matches in directories, consecutive characters and characters that
    start a word beat scattered ones, and shorter paths win ties. An empty query keeps the given order.
    """
    if not query:
        return [Match(path, 0.0, ()) for path in paths[:limit]]
    needle = query.lower().replace(" ", "")
    scored = (match for path in paths if (match := score(needle, path)) is not None)
    return heapq.nlargest(limit, scored, key=lambda m: (m.score, -len(m.path)))


def score(needle: str, path: str) -> Match | None:
    """How well `path` matches the lower-case `needle`, or None when it does not contain it as a subsequence."""
    haystack = path.lower()
    name_start = haystack.rfind("/") + 1
    # Prefer a match that lies entirely in the file name.
    positions = _positions(needle, haystack, name_start) or _positions(needle, haystack, 0)
    if positions is None:
        return None
    total = 0.0
    previous = -2
    for index in positions:
        points = 1.0
        if index == previous + 1:
            points += 2.0  # consecutive
        if index == 0 or haystack[index - 1] in "/_-. ":
            points += 1.5  # start of a word
        if index >= name_start:
            points += 1.0  # in the file name
        total += points
        previous = index
    if haystack[name_start:].startswith(needle):
        total += 5.0
    return Match(path, total, tuple(positions))


def _positions(needle: str, haystack: str, start: int) -> list[int] | None:
    positions = []
    at = start
    for char in needle:
        at = haystack.find(char, at)
        if at < 0:
            return None
        positions.append(at)
        at += 1
    return positions
