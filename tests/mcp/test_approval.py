"""agent.safety.approval.plan_mcp_tool_call: which MCP calls ask first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import Overrides, load_config
from agent.safety.approval import plan_mcp_tool_call


@pytest.fixture
def config(codex_home: Path):
    return load_config(Overrides(), env={"CODEX_HOME": str(codex_home)})


@pytest.mark.parametrize("policy", ["untrusted", "on-failure", "on-request", "never"])
def test_a_read_only_tool_never_asks(config, policy):
    assert not plan_mcp_tool_call(replace(config, approval_policy=policy), "git", "git_status", True, False).ask


@pytest.mark.parametrize(("policy", "asks"), [("untrusted", True), ("on-request", True), ("on-failure", False),
                                              ("never", False)])
def test_other_tools_ask_under_untrusted_and_on_request(config, policy, asks):
    plan = plan_mcp_tool_call(replace(config, approval_policy=policy), "git", "git_commit", False, False)
    assert plan.ask is asks
    if asks:
        assert plan.reason == (f"the MCP tool git_commit of server git is not annotated read-only, and "
                               f"approval_policy is '{policy}'")


def test_a_tool_approved_for_the_session_or_full_access_does_not_ask(config):
    asking = replace(config, approval_policy="untrusted")
    assert not plan_mcp_tool_call(asking, "git", "git_commit", False, True).ask
    assert not plan_mcp_tool_call(replace(asking, sandbox_mode="danger-full-access"), "git", "git_commit", False,
                                  False).ask
