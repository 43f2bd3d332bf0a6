"""The environment a command gets: Codex's `shell_environment_policy` applied to the agent's own.

This module only builds the mapping; which names the agent always withholds (its home, the provider's key)
is decided by the shell tool (agent.tools.shell_tool).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence

from agent.config import ShellEnvironmentPolicy

CORE_ENV_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP", "LANG", "TERM")
SECRET_PATTERNS = ("*KEY*", "*SECRET*", "*TOKEN*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*")


def build_env(policy: ShellEnvironmentPolicy, base: Mapping[str, str] = os.environ,
              withheld: Sequence[str] = ()) -> dict[str, str]:
    """Codex's order: inherit, default excludes, exclude, set, then include_only (patterns case-insensitive).

    `withheld` names are never inherited, whatever the policy (CODEX_HOME, the provider's key variable);
    only `set` can give a command one of them."""
    if policy.inherit == "none":
        env: dict[str, str] = {}
    elif policy.inherit == "core":
        env = {k: v for k, v in base.items() if k in CORE_ENV_VARS}
    else:
        env = dict(base)
    for name in withheld:
        env.pop(name, None)
    excluded = (*(() if policy.ignore_default_excludes else SECRET_PATTERNS), *policy.exclude)
    env = {k: v for k, v in env.items() if not _matches_any(k, excluded)}
    env.update(policy.set)
    if policy.include_only:
        env = {k: v for k, v in env.items() if _matches_any(k, policy.include_only)}
    return env


def _matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in patterns)
