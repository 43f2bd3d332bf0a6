"""Codex's names for MCP tools (codex-rs/core/src/mcp_connection_manager.rs: qualify_tools)."""

from __future__ import annotations

import hashlib

from agent.mcp.naming import MAX_LENGTH, qualified_name, qualify


def test_server_and_tool_are_joined_with_double_underscores():
    assert qualified_name("github", "create_issue") == "mcp__github__create_issue"
    assert qualified_name("everything", "get-sum") == "mcp__everything__get-sum"


def test_characters_the_responses_api_refuses_become_underscores():
    assert qualified_name("docs", "search.v2 beta") == "mcp__docs__search_v2_beta"


def test_a_long_name_keeps_a_prefix_and_the_sha1_of_the_raw_name():
    raw = "mcp__server__" + "t" * 80
    name = qualified_name("server", "t" * 80)
    digest = hashlib.sha1(raw.encode()).hexdigest()
    assert len(name) == MAX_LENGTH and name.endswith(digest) and name.startswith("mcp__server__ttt")


def test_a_second_tool_with_the_same_name_after_sanitising_is_left_out():
    names = qualify([("a", "x.y"), ("a", "x_y"), ("b", "x")])
    assert names == {"mcp__a__x_y": ("a", "x.y"), "mcp__b__x": ("b", "x")}
