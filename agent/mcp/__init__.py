"""MCP (Model Context Protocol), both ways, through the official `mcp` SDK.

As a client (`[mcp_servers.<name>]` in config.toml): `connections` starts the configured servers in the background
and keeps them for the session, `naming` gives their tools Codex's names (`mcp__server__tool`), `tool_call` runs a
model's call to one of them (approval, items, audit), `config_edit` is `codex mcp list|get|add|remove`.
As a server: `server` is `codex mcp-server`, the agent as the `codex` / `codex-reply` tools over stdio.

Nothing here is imported unless a server is configured or an `mcp` command runs: the SDK costs ~0.3 s to import.
"""
