"""Which programs a repository's own git configuration would make a read-only git command run.

`git status`, `diff`, `log -p`, `show`, `blame`, `grep` and `ls-files` are on the known-safe list, but a
repository can make them run programs of its choosing: `core.fsmonitor`, `diff.external`, diff drivers
(`diff.<driver>.command`, `.textconv`), filters (`filter.<driver>.clean`, `.smudge`, `.process`),
pagers, `gpg.program`, ... A hostile repository (a tarball with its `.git/config`, an `include.path` into
the worktree) would turn an auto-approved inspection into code execution. So a git command is known-safe
only when the repository-scoped configuration (local and worktree files and what they include) sets none
of these keys; the user's own global and system files are theirs to trust.

The configuration is read with `git config --list --show-scope --includes`, which runs no program.
`neutralising_env` gives the agent's own git commands (agent.git: snapshots, diffs, undo, which run
outside the sandbox) overrides that disarm the same keys. This module does not decide what to do about a
command (agent.safety.approval does) and does not parse scripts (agent.safety.commands does).
"""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path

# Keys (lower-cased; `*` is a driver or command name) whose value git may run as a program.
PROGRAM_KEYS = (
    "core.fsmonitor", "core.pager", "pager.*", "diff.external", "diff.*.command", "diff.*.textconv",
    "filter.*.clean", "filter.*.smudge", "filter.*.process", "merge.*.driver", "gpg.program", "gpg.*.program",
    "core.sshcommand", "core.gitproxy", "core.askpass", "credential.helper", "credential.*.helper",
    "core.hookspath", "core.alternaterefscommand", "uploadpack.packobjectshook", "core.editor",
    "sequence.editor", "interactive.difffilter",
)  # fmt: skip
REPOSITORY_SCOPES = frozenset({"local", "worktree"})
BOOLEANS = frozenset({"", "false", "no", "off", "0", "true", "yes", "on", "1"})  # pager.* and core.fsmonitor


def configured_programs(workdir: Path) -> list[str]:
    """`key=value` for each program the repository at workdir configures; [] outside a repository.

    If the configuration cannot be read, the answer is one pseudo-entry saying so: not safe."""
    return [f"{key}={value}" for key, value in _program_entries(workdir)]


def neutralising_env(workdir: Path) -> dict[str, str]:
    """Environment for the agent's own git commands in workdir's repository (snapshots, diffs, undo), which
    run outside the sandbox: it overrides each program the repository configures with a harmless value
    (filters and textconv become `cat`, process filters none, fsmonitor off), via GIT_CONFIG_COUNT."""
    overrides = {"core.fsmonitor": "false", "core.hookspath": "/dev/null"}
    for key, _ in _program_entries(workdir):
        name = key.lower()
        if name.endswith((".clean", ".smudge", ".textconv")):  # filters and textconv as the identity
            overrides[key] = "cat"
        elif name.startswith("filter.") and name.endswith(".process"):
            overrides[key] = ""
            overrides[key.rsplit(".", 1)[0] + ".required"] = "false"
        elif name not in overrides:
            overrides[key] = "cat" if name.startswith(("pager.", "core.pager")) else ""
    env = {"GIT_CONFIG_COUNT": str(len(overrides))}
    for index, (key, value) in enumerate(overrides.items()):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return env


def _program_entries(workdir: Path) -> list[tuple[str, str]]:
    try:
        result = subprocess.run(
            ["git", "config", "--list", "--show-scope", "--includes", "-z"], cwd=workdir, capture_output=True,
            timeout=10, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [("(unreadable)", f"git config could not be read: {exc}")]
    if result.returncode != 0:
        return []  # not a repository (git says so on stderr); nothing of a repository's can run
    fields = result.stdout.decode("utf-8", "replace").split("\0")
    found = []
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = entry.partition("\n")
        if scope in REPOSITORY_SCOPES and _runs_a_program(key.lower(), value):
            found.append((key, value))
    return found


def _runs_a_program(key: str, value: str) -> bool:
    if not any(fnmatch.fnmatchcase(key, pattern) for pattern in PROGRAM_KEYS):
        return False
    return not (key.startswith(("pager.", "core.fsmonitor")) and value.strip().lower() in BOOLEANS)
