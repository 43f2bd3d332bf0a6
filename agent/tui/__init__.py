"""The interactive front end: `codex [PROMPT]` opens a Textual app over the same event stream as `codex exec`.

Only `run_tui` lives here, and it imports Textual (and the rest of the app) when called, so that
`codex --version` and `codex exec` never pay for it. The app itself is in `agent/tui/app.py`; each widget
and screen has its own module under `agent/tui/widgets/` with its CSS. See docs/tui.md.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import Overrides


def run_tui(overrides: Overrides, prompt: str | None = None, *, alt_screen: bool = True, resume: str | None = None,
            ephemeral: bool = False) -> int:
    """Run the TUI until the user quits; returns the process exit code.

    `resume` is a session id (or a unique prefix), "--last" for the newest session in this directory, or
    "picker" to choose one from a list. `alt_screen=False` runs inline, under the shell prompt.
    """
    from agent.config import load_config
    from agent.errors import UserError

    try:
        config = load_config(overrides)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code

    from agent.tui.app import CodexApp

    app = CodexApp(config, overrides=overrides, prompt=prompt, resume=resume, ephemeral=ephemeral)
    try:
        result = app.run(inline=not alt_screen)
    finally:
        app.close_session()
    if app.fatal_error:
        print(f"error: {app.fatal_error}", file=sys.stderr)
    if hint := app.resume_hint():
        print(hint)
    return result if isinstance(result, int) else app.return_code or 0
