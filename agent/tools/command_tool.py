"""The `shell` tool's handler: approval, sandbox, run, and the command item the user sees.

Order of a call: a disguised `apply_patch` is routed to the patch tool; the policy
(agent.safety.approval) says whether to ask and whether to sandbox; the user may be asked;
the command runs (wrapped by agent.safety.sandbox when sandboxed); under `on-failure` a
failure that looks like the sandbox's doing may be retried unsandboxed after approval.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

from agent.config import Config
from agent.errors import TurnStopped, UserError
from agent.protocol import ApprovalRequested, CommandExecution, ItemStarted, OutputDelta
from agent.safety import approval, commands, git_programs, launchers, sandbox
from agent.tools import apply_patch, shell
from agent.tools.router import ToolContext, ToolError, finish

# Never inherited by a command: the agent's own home, and the key variable Codex's SDK uses.
WITHHELD_ENV = ("CODEX_HOME", "CODEX_API_KEY")
UNSANDBOXED = sandbox.SandboxPolicy("danger-full-access", network=True)


def run_shell(args: dict[str, Any], ctx: ToolContext) -> str:
    try:
        params = shell.parse_params(args)
        patch_text = apply_patch.extract_patch_from_command(list(params.command))
        if patch_text is not None:
            from agent.tools.patch_tool import run_apply_patch

            return run_apply_patch({"input": patch_text}, ctx)
        workdir = shell.resolve_workdir(params, ctx.cwd)
    except shell.ShellArgumentError as e:
        raise ToolError(str(e)) from e
    item = CommandExecution(ctx.new_item_id(), params.display, cwd=str(workdir))
    ctx.emit(ItemStarted(item))
    known_safe = commands.is_known_safe(params.command)
    asks_unless_safe = ctx.config.approval_policy == "untrusted"  # the only policy where known-safe matters
    programs = (git_programs.configured_programs(workdir)
                if asks_unless_safe and known_safe and commands.runs_git(params.command) else [])
    plan = approval.plan_command(ctx.config, params.command, params.with_escalated_permissions, known_safe,
                                 programs)
    if plan.ask and params.command not in ctx.approvals.commands:
        refusal = _ask(ctx, item, params, plan.reason)
        if refusal:
            return refusal
    sandboxed = plan.sandboxed
    result = _run(ctx, item, params, workdir, sandboxed)
    if isinstance(result, str):
        return result
    if sandboxed and approval.should_offer_unsandboxed_retry(ctx.config, result.exit_code, result.output):
        reason = f"it failed in the sandbox (exit {result.exit_code}); run it again without the sandbox?"
        if not _ask(ctx, item, params, reason, retry=True):
            ctx.emit(OutputDelta(item.id, "\n[retrying without the sandbox]\n"))
            sandboxed = False
            result = _run(ctx, item, params, workdir, sandboxed)
            if isinstance(result, str):
                return result
    status = "completed" if result.exit_code == 0 and not result.timed_out else "failed"
    finish(ctx, item, status=status, aggregated_output=result.output, exit_code=result.exit_code,
           duration_ms=int(result.duration_s * 1000), sandboxed=sandboxed)
    return shell.format_for_model(result)


def _ask(ctx: ToolContext, item: CommandExecution, params: shell.ShellParams, reason: str,
         retry: bool = False) -> str | None:
    """Ask the user; None when approved, else the tool output (after declining the item)."""
    request = ApprovalRequested(
        request_id=item.id, kind="command", reason=reason, command=params.display, cwd=item.cwd,
        justification=params.justification, danger_flags=tuple(commands.danger_flags(params.command)),
    )
    decision = ctx.ask(request)
    if decision == "approve_session":
        ctx.approvals.commands.add(params.command)
    if decision in ("approve", "approve_session"):
        return None
    if retry:
        return "declined"  # the sandboxed result stands; the caller reports it
    message = f"this command needed approval and was not approved ({reason})"
    finish(ctx, item, status="declined", reason=message)
    if decision == "abort":
        raise TurnStopped("the user denied a command and stopped the turn")
    return f"error: {message}; do not retry it in another form"


def warm_up(config: Config) -> None:
    """Start the launcher for this config's commands ahead of the first one, in the background: the kernel
    probe and building the launcher take ~50 ms that the first command would otherwise wait for."""

    def run() -> None:
        sandboxed = config.sandbox_mode != "danger-full-access"
        policy = sandbox.SandboxPolicy.from_config(config) if sandboxed else UNSANDBOXED
        with contextlib.suppress(UserError, OSError):
            sandbox.check_available(policy)
            launchers.shared().warm_up(policy)

    threading.Thread(target=run, name="codex-sandbox-warm-up", daemon=True).start()


def _run(ctx: ToolContext, item: CommandExecution, params: shell.ShellParams, workdir, sandboxed: bool):
    """The command's result, or the tool output when the sandbox cannot be set up."""
    withheld = [*WITHHELD_ENV, *filter(None, [ctx.config.provider.env_key])]
    policy = sandbox.SandboxPolicy.from_config(ctx.config) if sandboxed else UNSANDBOXED
    try:
        sandbox.check_available(policy)
    except UserError as e:
        finish(ctx, item, status="declined", reason=str(e))
        return f"error: {e}"
    if not policy.network:
        withheld.append("SSH_AUTH_SOCK")  # its socket is hidden anyway; the name would only mislead
    spawn = functools.partial(launchers.shared().start, policy)  # unsandboxed too: its processes die with it
    env = shell.build_env(ctx.config.shell_environment_policy, withheld=withheld)
    return shell.run(list(params.command), workdir, env, params.timeout_ms,
                     on_output=lambda chunk: ctx.emit(OutputDelta(item.id, chunk)), cancel=ctx.cancel, spawn=spawn)
