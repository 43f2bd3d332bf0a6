"""`codex mcp list | get | add | remove` as a user runs them: config.toml keeps every other byte."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCodex

ORIGINAL = '''# My Codex config -- keep this comment
model = "qwen"   # trailing comment
approval_policy = "on-request"

[mcp_servers.old]
command = "old-server"
# a comment inside old
args = ["--flag"]

[mcp_servers.old.env]
TOKEN = "x"

# the comment above profiles belongs to profiles
[profiles.fast]
model = "small"   # keep
'''


def test_add_list_get_remove_keep_the_rest_of_the_file_byte_for_byte(codex_home: Path, git_repo: Path,
                                                                    run_codex: RunCodex):
    config = codex_home / "config.toml"
    config.write_text(ORIGINAL)
    added = run_codex(["mcp", "add", "docs", "--env", "API_KEY=k1", "--", "docs-server", "--port", "4000"], git_repo)
    assert added.returncode == 0, added.stderr
    assert added.stdout == f"Added MCP server docs in {config}.\n"
    text = config.read_text()
    assert text.startswith(ORIGINAL)
    assert text[len(ORIGINAL):] == ('\n[mcp_servers.docs]\ncommand = "docs-server"\nargs = ["--port", "4000"]\n'
                                    'env = { "API_KEY" = "k1" }\n')
    again = run_codex(["mcp", "add", "docs", "--env", "API_KEY=k1", "--", "docs-server", "--port", "4000"],
                      git_repo)
    assert again.stdout == f"Updated MCP server docs in {config}.\n" and config.read_text() == text
    web = run_codex(["mcp", "add", "web", "--url", "http://127.0.0.1:4000/mcp", "--bearer-token-env-var", "TOK"],
                    git_repo)
    assert web.returncode == 0, web.stderr

    listed = run_codex(["mcp", "list", "--json"], git_repo)
    servers = {s["name"]: s for s in json.loads(listed.stdout)}
    assert servers["docs"]["transport"] == {"type": "stdio", "command": "docs-server", "args": ["--port", "4000"],
                                            "env": {"API_KEY": "k1"}, "env_vars": [], "cwd": None}
    assert servers["web"]["transport"]["url"] == "http://127.0.0.1:4000/mcp"
    table = run_codex(["mcp", "list"], git_repo).stdout
    assert "docs  stdio" in table and "docs-server --port 4000" in table and "streamable_http" in table
    got = run_codex(["mcp", "get", "docs"], git_repo).stdout
    assert "command: docs-server" in got and "API_KEY=*****" in got and "k1" not in got

    for name in ("docs", "web"):
        removed = run_codex(["mcp", "remove", name], git_repo)
        assert removed.returncode == 0, removed.stderr
    assert config.read_text() == ORIGINAL

    run_codex(["mcp", "remove", "old"], git_repo)
    assert config.read_text() == ('# My Codex config -- keep this comment\nmodel = "qwen"   # trailing comment\n'
                                  'approval_policy = "on-request"\n\n'
                                  '# the comment above profiles belongs to profiles\n[profiles.fast]\n'
                                  'model = "small"   # keep\n')


def test_mistakes_are_one_line_and_change_nothing(codex_home: Path, git_repo: Path, run_codex: RunCodex):
    config = codex_home / "config.toml"
    config.write_text(ORIGINAL)
    missing = run_codex(["mcp", "remove", "nope"], git_repo)
    assert missing.returncode != 0
    assert missing.stderr == (f"error: No MCP server named 'nope' in {config} (configured: old); "
                              "see codex mcp list\n")
    both = run_codex(["mcp", "add", "x", "--url", "http://127.0.0.1:1/mcp", "--", "cmd"], git_repo)
    assert both.returncode != 0 and "not both and not neither" in both.stderr
    bad_name = run_codex(["mcp", "add", "bad name", "--", "cmd"], git_repo)
    assert bad_name.returncode != 0 and "may hold only letters" in bad_name.stderr
    config.write_text('mcp_servers = { inline = { command = "x" } }\n')
    inline = run_codex(["mcp", "remove", "inline"], git_repo)
    assert "is not written as its own table" in inline.stderr
    assert config.read_text() == 'mcp_servers = { inline = { command = "x" } }\n'


def test_add_creates_the_file_when_there_is_none(codex_home: Path, git_repo: Path, run_codex: RunCodex):
    added = run_codex(["mcp", "add", "time", "--", "mcp-server-time"], git_repo)
    assert added.returncode == 0, added.stderr
    assert (codex_home / "config.toml").read_text() == '[mcp_servers.time]\ncommand = "mcp-server-time"\n'
    assert run_codex(["mcp", "list"], git_repo).stdout.splitlines()[1].split()[:2] == ["time", "stdio"]
