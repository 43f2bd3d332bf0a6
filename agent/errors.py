"""Errors a user can hit and fix.

Each carries a message written for the user (one sentence naming the file, key, URL or path and the
fix) and the process exit code the CLI should use. The CLI turns them into one line in one place;
this module does not print or exit.
"""


class UserError(Exception):
    """An error a user can hit and fix; str(e) is one sentence naming the file/key/URL/path and the fix.
    `turn_failure` is the reason `turn.failed` gives when it ends a turn (agent.protocol.TurnFailureReason)."""

    exit_code: int = 1
    turn_failure: str = "error"


class ConfigError(UserError):
    """config.toml, a profile, a -c override or a CLI flag is wrong."""

    exit_code = 2


class UsageError(UserError):
    """The command line is wrong (a missing command or argument, a session id that names no session)."""

    exit_code = 2


class TurnStopped(Exception):
    """Ends the current turn early (an interrupt, the user's "deny and stop"); the message says why."""

    turn_failure: str = "interrupted"
