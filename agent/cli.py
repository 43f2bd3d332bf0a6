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
from agent.arguments import Parser
from agent.errors import UsageError, UserError

SANDBOX_CHOICES = ("read-only", "workspace-write", "danger-full-access")
APPROVAL_CHOICES = ("untrusted", "on-failure", "on-request", "never")


def add_shared_flags(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Flags valid both before and after the subcommand (`codex -m x exec …` and `codex exec -m x …`)."""
    add_config_flags(parser, suppress=suppress)
    add_model_flags(parser, suppress=suppress)
    add_policy_flags(parser, suppress=suppress)


def _defaults(suppress: bool) -> tuple[dict, dict]:
    """The default of a single-valued flag and of a repeated one; a subcommand's copy keeps the top level's."""
    if suppress:
        return {"default": argparse.SUPPRESS}, {"default": argparse.SUPPRESS}
    return {}, {"default": []}


def add_config_flags(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    default, listing = _defaults(suppress)
    parser.add_argument("-p", "--profile", help="a [profiles.NAME] table of config.toml", **default)
    parser.add_argument("-c", "--config", action="append", metavar="key=value",
                        help="override a config.toml key (value parsed as TOML)", **listing)
    parser.add_argument("-C", "--cd", type=Path, metavar="DIR", help="working directory (the workspace root)",
                        **default)


def add_model_flags(parser: argparse.ArgumentParser, *, suppress: bool = False, model: bool = True) -> None:
    default, _ = _defaults(suppress)
    if model:
        parser.add_argument("-m", "--model", help="model name, or a .gguf path for the embedded engine", **default)
    parser.add_argument("--oss", action="store_true", help="use a local model provider (oss_provider)", **default)
    parser.add_argument("--local-provider", choices=("embedded", "ollama", "lmstudio"),
                        help="with --oss: which local provider", **default)
    parser.add_argument("--local-only", action="store_true",
                        help="refuse any provider whose host is not loopback or a private network", **default)


def add_policy_flags(parser: argparse.ArgumentParser, *, suppress: bool = False, approvals: bool = True) -> None:
    default, listing = _defaults(suppress)
    parser.add_argument("-s", "--sandbox", choices=SANDBOX_CHOICES, help="sandbox policy for commands", **default)
    if approvals:
        parser.add_argument("-a", "--ask-for-approval", choices=APPROVAL_CHOICES, help="when to ask before acting",
                            **default)
    parser.add_argument("--full-auto", action="store_true", help="= --sandbox workspace-write -a on-request",
                        **default)
    if approvals:
        parser.add_argument("--dangerously-bypass-approvals-and-sandbox", "--yolo", action="store_true",
                            dest="yolo", help="no sandbox and no approvals", **default)
    parser.add_argument("--add-dir", action="append", type=Path, metavar="DIR",
                        help="another writable directory (not / or your home)", **listing)


def add_exec_flags(parser: argparse.ArgumentParser) -> None:
    add_shared_flags(parser, suppress=True)
    parser.add_argument("--json", "--experimental-json", action="store_true", dest="json",
                        help="print the event stream as JSONL on stdout")
    parser.add_argument("-o", "--output-last-message", type=Path, metavar="FILE",
                        help="write the final message to FILE")
    parser.add_argument("--color", choices=("always", "never", "auto"), default="auto",
                        help="color the progress on stderr (auto: on a terminal, unless NO_COLOR is set)")
    parser.add_argument("--skip-git-repo-check", action="store_true", help="allow running outside a git repository")
    parser.add_argument("--ephemeral", action="store_true", help="write no session file (rollout)")
    parser.add_argument("--output-schema", type=Path, metavar="FILE",
                        help="the final message must be JSON valid against this JSON Schema")
    parser.add_argument("-i", "--image", action="append", default=[], metavar="FILE[,FILE…]",
                        help="attach an image to the prompt (repeatable, or comma-separated)")
    # Flags that only mean something to OpenAI's service; the Codex SDK passes them. Accepted and recorded.
    parser.add_argument("--thread-source", metavar="SOURCE", help="recorded only (OpenAI's service uses it)")
    parser.add_argument("--cyber-access-program", metavar="PROGRAM", help="recorded only (OpenAI's service uses it)")


def add_tui_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-alt-screen", action="store_true", help="run the TUI inline, not in the alternate screen")
    parser.add_argument("--ephemeral", action="store_true", help="write no session file (rollout)")


def build_tui_parser() -> argparse.ArgumentParser:
    """`codex [flags] [PROMPT]`: the TUI (a separate parser, since a prompt and subcommands cannot share a slot)."""
    parser = Parser(prog="codex", description="Open the TUI; see `codex --help` for commands.")
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


TOP_USAGE = "codex [OPTIONS] [PROMPT]\n       codex [OPTIONS] COMMAND [ARGS]"
TOP_DESCRIPTION = ("A local coding agent: Codex CLI's workflow on local models. With no command, codex opens the "
                   "TUI in this directory (PROMPT, if given, is the first message).")
TOP_EPILOG = ("`codex COMMAND --help` shows a command's own options. Exit codes: 0 done, 1 the turn or the "
              "command failed, 2 a usage or configuration error.")
EXEC_EPILOG = ("To continue a session: codex exec resume [--last | SESSION_ID] [PROMPT] (the same options; "
               "--last is the newest session in this directory).")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="codex", usage=TOP_USAGE, description=TOP_DESCRIPTION, epilog=TOP_EPILOG)
    parser.add_argument("--version", action="version", version=f"codex-local {__version__}")
    add_tui_flags(parser)
    add_shared_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser, prog="codex")

    def command(name: str, summary: str, **kwargs) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                   **kwargs)

    exec_parser = command("exec", "run one prompt headless (scripts, CI): progress on stderr, the final message "
                          "on stdout", aliases=["e"], epilog=EXEC_EPILOG)
    exec_parser.add_argument("prompt", nargs="?", help="the prompt; '-' or none reads stdin")
    add_exec_flags(exec_parser)
    resume_parser = commands.add_parser("exec-resume", prog="codex exec resume",
                                        description="Continue a session headless.")
    # no help= above: `codex exec resume …` is listed under exec, not as a command of its own
    resume_parser.add_argument("session_id", nargs="?", help="the session id (or a unique prefix)")
    resume_parser.add_argument("prompt", nargs="?", help="the next prompt; '-' or none reads stdin")
    resume_parser.add_argument("--last", action="store_true", help="the newest session in this directory")
    add_exec_flags(resume_parser)
    tui_resume = command("resume", "continue a session in the TUI (a picker, --last or a session id)")
    tui_resume.add_argument("session_id", nargs="?", help="the session id (or a unique prefix)")
    tui_resume.add_argument("--last", action="store_true", help="the newest session in this directory")
    add_shared_flags(tui_resume, suppress=True)
    undo_parser = command("undo", "revert the last turn's edits of the newest session in this directory")
    add_config_flags(undo_parser, suppress=True)
    sandbox_parser = command("sandbox", "run a command under a sandbox policy (-s), as the agent runs its commands")
    add_config_flags(sandbox_parser, suppress=True)
    add_policy_flags(sandbox_parser, suppress=True, approvals=False)
    sandbox_parser.add_argument("--check", action="store_true",
                                help="print what this machine's kernel supports and exit (1 if no sandbox)")
    sandbox_parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND…")
    audit_parser = command("audit", "verify, show or retire the audit log")
    audit_parser.add_argument("audit_args", nargs=argparse.REMAINDER,
                              metavar="verify [FILE] | show [--since …] | retire --before YYYY-MM")
    mcp_parser = command("mcp", "manage the MCP servers of config.toml (list | get NAME | add NAME -- COMMAND… | "
                         "add NAME --url URL | remove NAME)")
    mcp_parser.add_argument("mcp_args", nargs=argparse.REMAINDER, metavar="list | get | add | remove …")
    mcp_server_parser = command("mcp-server", "serve the agent to MCP clients over stdio (tools codex and "
                                "codex-reply)")
    add_shared_flags(mcp_server_parser, suppress=True)
    models_parser = command("models", "list the GGUF models the embedded engine can find on this machine")
    add_config_flags(models_parser, suppress=True)
    add_model_flags(models_parser, suppress=True, model=False)
    # codex doctor (our extension): a report on the configured provider for bug reports
    doctor_parser = command("doctor", "check the configured model provider (a report for bug reports)")
    add_config_flags(doctor_parser, suppress=True)
    add_model_flags(doctor_parser, suppress=True)
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


def _rewrite_exec_resume(argv: list[str], at: int | None, exec_parser: argparse.ArgumentParser) -> list[str]:
    """`codex exec [flags] resume …` is parsed as the hidden `exec-resume` command (exec also takes a prompt).

    `resume` may come after exec's flags, as OpenAI's Codex SDK passes it (`exec --json -c k=v resume ID`)."""
    if at is None or argv[at] not in ("exec", "e"):
        return argv
    offset = _first_positional(exec_parser, argv[at + 1:])
    if offset is None or argv[at + 1 + offset] != "resume":
        return argv
    where = at + 1 + offset
    return [*argv[:at], "exec-resume", *argv[at + 1:where], *argv[where + 1:]]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    first = _first_positional(parser, argv)
    if first is not None and argv[first] not in commands:
        return build_tui_parser().parse_args(argv)
    args, unknown = parser.parse_known_args(_rewrite_exec_resume(argv, first, commands["exec"]))
    if unknown:  # name the command's own usage, not the top level's
        commands.get(args.command or "", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `codex --help | head -1`
        _silence_stdout()
        return 141
    try:
        _recover_interrupted_edits()
        return _dispatch(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `codex … | head`: the reader left; end quietly, as a killed writer would
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail on the closed pipe again."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
    if args.command == "doctor":
        from agent.doctor import run_doctor

        return run_doctor(overrides_from(args))
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
            print(f"{'restored' if path.exists() or path.is_symlink() else 'removed'} {path}")
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
            raise UsageError("codex sandbox needs the command after --, e.g. codex sandbox -s read-only -- ls")
        return run_sandbox_command(load_config(overrides_from(args)), command)
    from agent.tui import run_tui

    resume = None
    if args.command == "resume":
        resume = "--last" if args.last else args.session_id or "picker"
    if resume not in (None, "picker"):  # a bad id fails here, before the TUI, a model or a server starts
        from agent.config import load_config
        from agent.session_open import find_session

        find_session(load_config(overrides_from(args)), resume)
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
            raise UsageError("codex exec resume needs a session id or --last, e.g. codex exec resume --last "
                             "\"next prompt\"")
    images = tuple(Path(part) for value in args.image for part in value.split(",") if part)
    service_flags = {flag: value for flag, value in (("--thread-source", args.thread_source),
                                                     ("--cyber-access-program", args.cyber_access_program))
                     if value is not None}
    return ExecOptions(prompt, args.json, args.output_last_message, args.color, args.skip_git_repo_check,
                       args.ephemeral, resume, args.output_schema, images, service_flags)


def run() -> None:
    """The `codex` console command: `main`, then an exit without the interpreter's teardown, which costs
    100-200 ms after every run (freeing every module and object one by one; benchmarks/README.md). Everything
    the run keeps is already written and closed by then (the rollout at Shutdown, audit records as they
    happen); the output streams are flushed and the atexit handlers (launchers, temporary directories) run."""
    import atexit
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach the reader
            code = code or 141
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run()
