"""`python -m agent.tui [flags] [PROMPT]`: the TUI without going through `agent/cli.py` (for development, and
for tests and benchmarks while the `codex` command does not start it yet). Takes the same global flags."""

from __future__ import annotations

import argparse
import sys

from agent.cli import add_shared_flags, overrides_from
from agent.tui import run_tui


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.tui", description="The Codex TUI.")
    add_shared_flags(parser)
    parser.add_argument("--no-alt-screen", action="store_true", help="run inline, under the shell prompt")
    parser.add_argument("--resume", metavar="ID", nargs="?", const="picker",
                        help="resume a session: an id, --last style 'last', or no value for a picker")
    parser.add_argument("--ephemeral", action="store_true", help="write no session file")
    parser.add_argument("prompt", nargs="?", help="the first prompt")
    args = parser.parse_args(argv)
    resume = "--last" if args.resume == "last" else args.resume
    return run_tui(overrides_from(args), args.prompt, alt_screen=not args.no_alt_screen, resume=resume,
                   ephemeral=args.ephemeral)


if __name__ == "__main__":
    sys.exit(main())
