"""The `shell` tool: its spec and arguments, and the handler that asks the policy, the user and the sandbox,
runs the command (agent.tools.process_runner) and emits the command item the user sees.

Order of a call: a disguised `apply_patch` is routed to the patch tool; the policy
(agent.safety.approval) says whether to ask and whether to sandbox; the user may be asked;
the command runs (started by agent.safety.launchers, confined by agent.safety.sandbox when sandboxed), a
`bash -lc` one from the session's shell snapshot when one of its kind is ready (agent.tools.shell_snapshot);
under `on-failure` a failure that looks like the sandbox's doing may be retried unsandboxed after approval.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import Config
from agent.errors import UserError
from agent.models.base import ToolSpec
from agent.processes import Spawn, popen
from agent.protocol import ApprovalRequested, CommandExecution, ItemStarted, OutputDelta
from agent.safety import approval, commands, git_programs, launchers, sandbox
from agent.tools import apply_patch, process_runner, shell_snapshot
from agent.tools.apply_patch_tool import run_apply_patch
from agent.tools.command_env import build_env
from agent.tools.context import Tool, ToolContext, ToolError, finish, settle

# Never inherited by a command: the agent's own home, and the key variable Codex's SDK uses.
WITHHELD_ENV = ("CODEX_HOME", "CODEX_API_KEY")
UNSANDBOXED = sandbox.SandboxPolicy("danger-full-access", network=True)

SPEC = ToolSpec(
    name="shell",
    description=(
        "Run a command and get its exit code, wall time and combined stdout+stderr. "
        'Pass argv as a list, e.g. ["bash", "-lc", "ls -la src"]; use bash -lc for pipes, globs and &&. '
        "Runs in the session's working directory unless workdir is given. Long output is cut in the middle. "
        "Use apply_patch, not shell, to edit files."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "array", "items": {"type": "string"},
                        "description": 'argv, e.g. ["bash", "-lc", "pytest -q"]'},
            "workdir": {"type": "string", "description": "working directory, default: the session's cwd"},
            "timeout_ms": {"type": "number", "description": "kill after this many milliseconds"},
            "with_escalated_permissions": {"type": "boolean", "description": "ask to run outside the sandbox"},
            "justification": {"type": "string", "description": "why escalation is needed, shown to the user"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
)


class ShellArgumentError(ValueError):
    """The model's arguments do not describe a command; the message tells it what to send."""


@dataclass(frozen=True)
class ShellParams:
    command: tuple[str, ...]
    workdir: str | None = None
    timeout_ms: int | None = None
    with_escalated_permissions: bool = False
    justification: str | None = None

    @property
    def display(self) -> str:
        return shlex.join(self.command)


def parse_params(args: Mapping[str, Any]) -> ShellParams:
    command = args.get("command")
    if isinstance(command, str) and command.strip():
        command = ["bash", "-lc", command]  # small models often send a string
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise ShellArgumentError('"command" must be a non-empty list of strings, e.g. ["bash", "-lc", "ls"]')
    timeout = args.get("timeout_ms")
    return ShellParams(
        command=tuple(command),
        workdir=args.get("workdir") or None,
        timeout_ms=int(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
        with_escalated_permissions=bool(args.get("with_escalated_permissions", False)),
        justification=args.get("justification") or None,
    )


def resolve_workdir(params: ShellParams, cwd: Path) -> Path:
    workdir = (cwd / params.workdir).resolve() if params.workdir else cwd
    if not workdir.is_dir():
        raise ShellArgumentError(f"workdir {params.workdir!r} is not a directory")
    return workdir


def run_shell(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        params = parse_params(args)
        patch_text = apply_patch.extract_patch_from_command(list(params.command))
        if patch_text is not None:
            return run_apply_patch({"input": patch_text}, ctx)
        workdir = resolve_workdir(params, ctx.cwd)
    except ShellArgumentError as e:
        raise ToolError(str(e)) from e
    item = CommandExecution(ctx.new_item_id(), params.display, cwd=str(workdir))
    ctx.emit(ItemStarted(item))
    known_safe = commands.is_known_safe(params.command)
    asks_unless_safe = ctx.config.approval_policy == "untrusted"  # the only policy where known-safe matters
    programs = (git_programs.configured_programs(workdir)
                if asks_unless_safe and known_safe and commands.runs_git(params.command) else [])
    plan = approval.plan_command(ctx.config, params.command, params.with_escalated_permissions, known_safe,
                                 programs, ctx.approvals)
    if plan.ask:
        refusal = _ask(ctx, item, params, plan.reason)
        if refusal:
            return refusal
    sandboxed = plan.sandboxed
    result = _run(ctx, item, params, workdir, sandboxed)
    if isinstance(result, str):
        return result
    if sandboxed and approval.should_offer_unsandboxed_retry(ctx.config, result.exit_code, result.output) and \
            _retry_approved(ctx, item, params, result.exit_code):
        ctx.emit(OutputDelta(item.id, "\n[retrying without the sandbox]\n"))
        sandboxed = False
        result = _run(ctx, item, params, workdir, sandboxed)
        if isinstance(result, str):
            return result
    status = "completed" if result.exit_code == 0 and not result.timed_out else "failed"
    finish(ctx, item, status=status, aggregated_output=result.output, exit_code=result.exit_code,
           duration_ms=int(result.duration_s * 1000), sandboxed=sandboxed)
    return process_runner.format_for_model(result)


def _request(item: CommandExecution, params: ShellParams, reason: str) -> ApprovalRequested:
    return ApprovalRequested(
        request_id=item.id, kind="command", reason=reason, command=params.display, cwd=item.cwd,
        justification=params.justification, danger_flags=tuple(commands.danger_flags(params.command)),
    )


def _ask(ctx: ToolContext, item: CommandExecution, params: ShellParams, reason: str) -> str | None:
    """Ask the user; None when approved, else the tool output (after declining the item)."""
    outcome = approval.command_outcome(ctx.ask(_request(item, params, reason)), params.command, reason,
                                       ctx.approvals)
    declined = settle(ctx, item, outcome, "reason")
    return None if declined is None else f"error: {declined}; do not retry it in another form"


def _retry_approved(ctx: ToolContext, item: CommandExecution, params: ShellParams, exit_code: int) -> bool:
    """Ask whether to run it again without the sandbox; a refusal keeps the sandboxed result."""
    reason = f"it failed in the sandbox (exit {exit_code}); run it again without the sandbox?"
    return approval.retry_outcome(ctx.ask(_request(item, params, reason)), params.command, ctx.approvals).proceed


def warm_up(config: Config) -> None:
    """`prepare` in the background, as a session starts (overlapping the model client's start-up)."""
    threading.Thread(target=prepare, args=(config,), name="codex-sandbox-warm-up", daemon=True).start()


def prepare(config: Config) -> None:
    """Start the launcher for this config's commands ahead of the first one (the kernel probe and building the
    launcher take ~50 ms that the first command would otherwise wait for), then take the shell snapshot the
    session's `bash -lc` commands will use (agent.tools.shell_snapshot). Never raises."""
    sandboxed = config.sandbox_mode != "danger-full-access"
    policy = _policy(config, sandboxed)
    with contextlib.suppress(UserError, OSError):
        sandbox.check_available(policy)
        launchers.shared().warm_up(policy)
        if _may_use_snapshot(config, sandboxed):
            key = shell_snapshot.SnapshotKey.of(policy, config.cwd, _command_env(config, policy))
            shell_snapshot.shared().ensure(key, _snapshot_spawn(policy))


def _policy(config: Config, sandboxed: bool) -> sandbox.SandboxPolicy:
    """The policy a command runs under; in a sandbox the snapshot directory is visible and read-only."""
    if not sandboxed:
        return UNSANDBOXED
    policy = sandbox.SandboxPolicy.from_config(config)
    if not config.shell_snapshot:
        return policy
    try:
        return policy.keeping_read_only(shell_snapshot.snapshot_dir())
    except OSError:  # no temporary directory: no snapshot either (taking one fails the same way)
        return policy


def _may_use_snapshot(config: Config, sandboxed: bool) -> bool:
    """Whether a command may use a shell snapshot: a sandboxed one (its snapshot was taken in the same
    sandbox), or any in a danger-full-access session (taken unconfined, as its rc files would run anyway).
    An unconfined command of a sandboxed session (an escalation, an on-failure retry) runs plain `bash -lc`."""
    return config.shell_snapshot and (sandboxed or config.sandbox_mode == "danger-full-access")


def _snapshot_spawn(policy: sandbox.SandboxPolicy) -> Spawn:
    """How a snapshot's login shell starts: a confined one through the commands' launcher (the same sandbox);
    an unconfined one as a plain child in its own session, not through the launcher, which kills it when the
    agent dies: a login shell killed in its rc files may leave a lock that stalls every later one (pyenv
    rehash's shims/.pyenv-shim, 60 s). It ends at its own pace then (its output pipe is gone)."""
    return popen if policy.mode == "danger-full-access" else functools.partial(launchers.shared().start, policy)


def _command_env(config: Config, policy: sandbox.SandboxPolicy) -> dict[str, str]:
    withheld = [*WITHHELD_ENV, *filter(None, [config.provider.env_key])]
    if not policy.network:
        withheld.append("SSH_AUTH_SOCK")  # its socket is hidden anyway; the name would only mislead
    return build_env(config.shell_environment_policy, withheld=withheld)


def _run(ctx: ToolContext, item: CommandExecution, params: ShellParams, workdir: Path,
         sandboxed: bool) -> process_runner.ShellResult | str:
    """The command's result, or the tool output when the sandbox cannot be set up."""
    policy = _policy(ctx.config, sandboxed)
    try:
        sandbox.check_available(policy)
    except UserError as e:
        finish(ctx, item, status="declined", reason=str(e))
        return f"error: {e}"
    spawn = functools.partial(launchers.shared().start, policy)  # unsandboxed too: its processes die with it
    env = _command_env(ctx.config, policy)
    argv = list(params.command)
    if _may_use_snapshot(ctx.config, sandboxed) and shell_snapshot.login_script(argv) is not None:
        snapshot = shell_snapshot.shared().get(shell_snapshot.SnapshotKey.of(policy, workdir, env),
                                               _snapshot_spawn(policy))
        if snapshot is not None:
            argv = shell_snapshot.rewrite(argv, snapshot) or argv
    return process_runner.run(argv, workdir, env, params.timeout_ms,
                              on_output=lambda chunk: ctx.emit(OutputDelta(item.id, chunk)), cancel=ctx.cancel,
                              spawn=spawn)


SHELL = Tool(SPEC, run_shell, warm_up=warm_up)
