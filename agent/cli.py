"""The `codex` command: argument parsing only.

It builds `Overrides` from the flags and hands them to a front end. Heavy modules (openai,
textual, llama_cpp) are imported only on the paths that need them, so `codex --version`
and `codex --help` stay instant. User errors become one line on stderr and an exit code
here, in one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent import __version__

SANDBOX_CHOICES = ("read-only", "workspace-write", "danger-full-access")
APPROVAL_CHOICES = ("untrusted", "on-failure", "on-request", "never")


def add_shared_flags(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Flags valid both before and after the subcommand (`codex -m x exec …` and `codex exec -m x …`)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    listing = {"default": argparse.SUPPRESS} if suppress else {"default": []}
    parser.add_argument("-m", "--model", help="model name, or a .gguf path for the embedded engine", **default)
    parser.add_argument("--oss", action="store_true", help="use a local model provider (oss_provider)", **default)
    parser.add_argument("--local-provider", help="with --oss: embedded, ollama or lmstudio", **default)
    parser.add_argument("-p", "--profile", help="a [profiles.NAME] table of config.toml", **default)
    parser.add_argument("-c", "--config", action="append", metavar="key=value",
                        help="override a config.toml key (value parsed as TOML)", **listing)
    parser.add_argument("-C", "--cd", type=Path, help="working directory (the workspace root)", **default)
    parser.add_argument("-s", "--sandbox", choices=SANDBOX_CHOICES, help="sandbox policy for commands", **default)
    parser.add_argument("-a", "--ask-for-approval", choices=APPROVAL_CHOICES, help="when to ask before acting",
                        **default)
    parser.add_argument("--full-auto", action="store_true", help="= --sandbox workspace-write -a on-request",
                        **default)
    parser.add_argument("--dangerously-bypass-approvals-and-sandbox", "--yolo", action="store_true",
                        dest="yolo", help="no sandbox and no approvals", **default)
    parser.add_argument("--add-dir", action="append", type=Path, metavar="DIR",
                        help="another writable directory", **listing)
    parser.add_argument("--local-only", action="store_true",
                        help="refuse any provider whose host is not loopback or a private network", **default)


def add_exec_flags(parser: argparse.ArgumentParser) -> None:
    add_shared_flags(parser, suppress=True)
    parser.add_argument("--json", "--experimental-json", action="store_true", dest="json",
                        help="print the event stream as JSONL on stdout")
    parser.add_argument("-o", "--output-last-message", type=Path, metavar="FILE",
                        help="write the final message to FILE")
    parser.add_argument("--color", choices=("always", "never", "auto"), default="auto")
    parser.add_argument("--skip-git-repo-check", action="store_true", help="allow running outside a git repository")
    parser.add_argument("--ephemeral", action="store_true", help="write no session file (rollout)")
    parser.add_argument("--output-schema", type=Path, metavar="FILE",
                        help="the final message must be JSON valid against this JSON Schema")


def add_tui_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-alt-screen", action="store_true", help="run the TUI inline, not in the alternate screen")
    parser.add_argument("--ephemeral", action="store_true", help="write no session file (rollout)")


def build_tui_parser() -> argparse.ArgumentParser:
    """`codex [flags] [PROMPT]`: the TUI (a separate parser, since a prompt and subcommands cannot share a slot)."""
    parser = argparse.ArgumentParser(prog="codex", description="Open the TUI; see `codex --help` for commands.")
    add_tui_flags(parser)
    add_shared_flags(parser)
    parser.add_argument("--list-models", action="store_true", help="with --oss: list local models and exit")
    parser.add_argument("prompt", nargs="?", help="the first prompt")
    parser.set_defaults(command=None)
    return parser


def _first_positional(parser: argparse.ArgumentParser, argv: list[str]) -> int | None:
    """Index of the first word that is not an option or an option's value (the command or the prompt)."""
    takes_value = {s for a in parser._actions if a.nargs != 0 for s in a.option_strings}
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
        elif token in takes_value:
            skip = True
        elif not token.startswith("-"):
            return index
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codex", description="A local coding agent (Codex CLI for local models).")
    parser.add_argument("--version", action="version", version=f"codex-local {__version__}")
    add_tui_flags(parser)
    add_shared_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    exec_parser = commands.add_parser("exec", aliases=["e"], help="run one prompt headless (scripts, CI)")
    exec_parser.add_argument("prompt", nargs="?", help="the prompt; '-' or none reads stdin")
    add_exec_flags(exec_parser)
    resume_parser = commands.add_parser("exec-resume", help=argparse.SUPPRESS)  # `codex exec resume …`
    resume_parser.add_argument("session_id", nargs="?", help="the session id (or a unique prefix)")
    resume_parser.add_argument("prompt", nargs="?", help="the next prompt; '-' or none reads stdin")
    resume_parser.add_argument("--last", action="store_true", help="the newest session in this directory")
    add_exec_flags(resume_parser)
    tui_resume = commands.add_parser("resume", help="continue a session in the TUI (a picker, --last or an ID)")
    tui_resume.add_argument("session_id", nargs="?", help="the session id (or a unique prefix)")
    tui_resume.add_argument("--last", action="store_true", help="the newest session in this directory")
    add_shared_flags(tui_resume, suppress=True)
    undo_parser = commands.add_parser("undo", help="revert the last turn's edits of the newest session here")
    add_shared_flags(undo_parser, suppress=True)
    sandbox_parser = commands.add_parser("sandbox", help="run a command under the sandbox policy (-s)")
    add_shared_flags(sandbox_parser, suppress=True)
    sandbox_parser.add_argument("--check", action="store_true",
                                help="print what this machine's kernel supports and exit (1 if no sandbox)")
    sandbox_parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND…")
    audit_parser = commands.add_parser("audit", help="verify, show or retire the audit log (codex audit verify | "
                                                     "show | retire)")
    audit_parser.add_argument("audit_args", nargs=argparse.REMAINDER,
                              metavar="verify [FILE] | show [--since …] | retire --before YYYY-MM")
    mcp_parser = commands.add_parser("mcp", help="manage the MCP servers of config.toml (codex mcp list | get NAME | "
                                                 "add NAME -- COMMAND… | add NAME --url URL | remove NAME)")
    mcp_parser.add_argument("mcp_args", nargs=argparse.REMAINDER, metavar="list | get | add | remove …")
    mcp_server_parser = commands.add_parser("mcp-server", help="serve the agent to MCP clients over stdio "
                                                               "(tools codex and codex-reply)")
    add_shared_flags(mcp_server_parser, suppress=True)
    models_parser = commands.add_parser("models", help="list the GGUF models the embedded engine can find")
    add_shared_flags(models_parser, suppress=True)
    parser.add_argument("--list-models", action="store_true", help="with --oss: list local models and exit")
    return parser


def overrides_from(args: argparse.Namespace):  # -> agent.config.Overrides
    from agent.config import Overrides

    return Overrides(
        model=args.model,
        profile=args.profile,
        config_overrides=tuple(args.config),
        sandbox_mode=args.sandbox,
        approval_policy=args.ask_for_approval,
        full_auto=args.full_auto,
        dangerously_bypass=args.yolo,
        oss=args.oss,
        local_provider=args.local_provider,
        cwd=args.cd,
        add_dirs=tuple(args.add_dir),
        local_only=args.local_only,
    )


def _rewrite_exec_resume(argv: list[str], at: int | None) -> list[str]:
    """`codex exec resume …` is parsed as the hidden `exec-resume` command (exec also takes a prompt)."""
    if at is not None and argv[at] in ("exec", "e") and argv[at + 1 : at + 2] == ["resume"]:
        return [*argv[:at], "exec-resume", *argv[at + 2 :]]
    return argv


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    first = _first_positional(parser, argv)
    if first is not None and argv[first] not in commands:
        return build_tui_parser().parse_args(argv)
    return parser.parse_args(_rewrite_exec_resume(argv, first))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    from agent.errors import UserError

    try:
        _recover_interrupted_edits()
        return _dispatch(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


def _recover_interrupted_edits() -> None:
    """Roll forward or back an apply_patch that a killed codex left unfinished (agent/tools/patch_journal.py)."""
    from agent.config import codex_home
    from agent.tools.patch_journal import recover

    try:
        results = recover(codex_home())
    except OSError as e:
        print(f"codex: could not check {codex_home()}/journal for interrupted edits: {e.strerror or e}",
              file=sys.stderr)
        return
    for result in results:
        print(f"codex: {result.message()}", file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "models" or args.list_models:
        from agent.models.listing import print_models

        return print_models(overrides_from(args))
    if args.command in ("exec", "e", "exec-resume"):
        from agent.exec import run_exec

        return run_exec(overrides_from(args), _exec_options(args))
    if args.command == "audit":
        from agent.audit import run_audit_command
        from agent.config import codex_home

        return run_audit_command(codex_home(), args.audit_args)
    if args.command == "mcp":
        from agent.mcp.config_edit import run_mcp_command

        return run_mcp_command(args.mcp_args, overrides_from(args))
    if args.command == "mcp-server":
        from agent.mcp.server import run_mcp_server

        return run_mcp_server(overrides_from(args))
    if args.command == "undo":
        from agent.config import load_config
        from agent.session_store import undo_last_session

        for path in undo_last_session(load_config(overrides_from(args))):
            print(f"restored {path}")
        return 0
    if args.command == "sandbox" and args.check:
        from agent.safety.sandbox import capabilities_report

        report, works = capabilities_report()
        print(report)
        return 0 if works else 1
    if args.command == "sandbox":
        from agent.config import load_config
        from agent.safety.sandbox import run_sandbox_command

        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            raise SystemExit("codex sandbox: give the command after --, e.g. codex sandbox -s read-only -- ls")
        return run_sandbox_command(load_config(overrides_from(args)), command)
    from agent.tui import run_tui

    resume = None
    if args.command == "resume":
        resume = "--last" if args.last else args.session_id or "picker"
    return run_tui(overrides_from(args), getattr(args, "prompt", None), alt_screen=not args.no_alt_screen,
                   resume=resume, ephemeral=args.ephemeral)


def _exec_options(args: argparse.Namespace):  # -> agent.exec.ExecOptions
    from agent.exec import ExecOptions

    prompt, resume = args.prompt, None
    if args.command == "exec-resume":
        resume = "--last" if args.last else args.session_id
        if args.last and args.session_id is not None:  # `resume --last "prompt"`: the one positional is the prompt
            prompt = args.session_id
        if resume is None:
            raise SystemExit("codex exec resume: name a session id, or pass --last")
    return ExecOptions(prompt, args.json, args.output_last_message, args.color, args.skip_git_repo_check,
                       args.ephemeral, resume, args.output_schema)


if __name__ == "__main__":
    sys.exit(main())
