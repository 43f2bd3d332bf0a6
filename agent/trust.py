"""Trust of project folders, kept where Codex keeps it: `[projects."<dir>"] trust_level = "trusted"` in
CODEX_HOME/config.toml.

What trust means here is decided in this module: a git repository needs no trust decision (its edits can be
reviewed and undone from git), any other folder must be trusted once before a session starts in it
(`must_ask`). `remember` records a "yes" the way Codex does. The front end only asks the question.

Recording appends one table to the end of the file and leaves every other byte as it was. It appends rather
than rewrites (as agent/mcp/config_edit.py does for its removals) because an append changes nothing before
the end and follows a symlinked config.toml, where a temp-file rename would replace the link; the new text is
parsed first, and nothing is written unless the only difference is the new entry. A folder that already has
an entry (even an untrusted one) and a file that is not valid TOML are never touched.

Not here: reading the rest of config.toml (agent/config.py) and anything Textual.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

from agent.config import Config
from agent.errors import UserError
from agent.git import repo_root

TRUSTED = "trusted"


class TrustNotRecorded(UserError):
    """config.toml could not take the trust entry; the message names the file and the fix."""


def is_trusted(config: Config) -> bool:
    """Whether config.toml marks the working directory trusted (`[projects."<dir>"] trust_level = "trusted"`)."""
    projects = _parsed(config.config_file).get("projects")
    entry = projects.get(str(config.cwd)) if isinstance(projects, dict) else None
    return isinstance(entry, dict) and entry.get("trust_level") == TRUSTED


def must_ask(config: Config) -> bool:
    """Whether a session may start in config.cwd only after the user trusts it: outside a git repository,
    until the folder is trusted."""
    return repo_root(config.cwd) is None and not is_trusted(config)


def remember(config: Config) -> bool:
    """Record that the working directory is trusted; False when nothing was written (the folder already has an
    entry, or the file is not valid TOML and is left alone). Raises TrustNotRecorded when the file cannot be
    read or written."""
    file, key = config.config_file, str(config.cwd)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as e:
        raise TrustNotRecorded(f"could not read {file} to record that {key} is trusted ({e}); fix its "
                               "permissions, or answer the question again next time") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False  # never touch a file we cannot parse
    projects = data.get("projects", {})
    if isinstance(projects, dict) and key in projects:
        return False
    if not isinstance(projects, dict):
        raise TrustNotRecorded(f"{file} sets projects to something other than a table; make it a table of "
                               f"folders, or remove it, to record that {key} is trusted")
    separator = "" if not text or text.endswith("\n") else "\n"
    addition = f'{separator}\n[projects.{json.dumps(key)}]\ntrust_level = "{TRUSTED}"\n'
    _check(file, text + addition, _with_entry(data, key))
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a", encoding="utf-8") as handle:
            handle.write(addition)
    except OSError as e:
        raise TrustNotRecorded(f"could not record that {key} is trusted in {file} ({e.strerror or e}); make it "
                               "writable, or add the entry yourself") from None
    return True


def _check(file: Path, new_text: str, expected: dict[str, Any]) -> None:
    try:
        parsed = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed != expected:
        raise TrustNotRecorded(f"{file} declares [projects] in a form an appended table would break (an inline "
                               "table or dotted keys); add the trust entry there yourself")


def _with_entry(data: dict[str, Any], key: str) -> dict[str, Any]:
    expected = copy.deepcopy(data)
    expected.setdefault("projects", {})[key] = {"trust_level": TRUSTED}
    return expected


def _parsed(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}

