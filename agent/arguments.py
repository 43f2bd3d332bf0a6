"""The one argparse style of every `codex` command: on a usage error, the usage and `error: <what>; see
`<prog> --help``, exit 2. Used by agent/cli.py and the subcommands that parse their own arguments."""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one error style."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}; see `{self.prog} --help`\n")
