"""`[mcp_servers.<name>]` in config.toml, parsed by agent/config.py as Codex documents the keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ConfigError
from tests.mcp.conftest import load


def test_stdio_and_http_servers_with_every_documented_key(codex_home: Path, git_repo: Path):
    config = load(codex_home, f'''
[mcp_servers.docs]
command = "npx"
args = ["-y", "mcp-server"]
env = {{ "API_KEY" = "value" }}
env_vars = ["API_KEY2"]
cwd = "{git_repo}"
startup_timeout_sec = 20
tool_timeout_sec = 30.5
enabled_tools = ["search", "summarize"]
disabled_tools = ["search"]

[mcp_servers.figma]
url = "https://mcp.figma.com/mcp"
bearer_token_env_var = "ENV_VAR"
http_headers = {{ "HEADER_NAME" = "HEADER_VALUE" }}
env_http_headers = {{ "X-Env" = "ENV_VAR2" }}
enabled = false
''')
    docs, figma = config.mcp_servers["docs"], config.mcp_servers["figma"]
    assert (docs.command, docs.args, dict(docs.env), docs.env_vars) == ("npx", ("-y", "mcp-server"),
                                                                         {"API_KEY": "value"}, ("API_KEY2",))
    assert docs.cwd == git_repo and docs.transport == "stdio"
    assert (docs.startup_timeout_sec, docs.tool_timeout_sec) == (20.0, 30.5)
    assert docs.enabled_tools == ("search", "summarize") and docs.disabled_tools == ("search",)
    assert figma.transport == "streamable_http" and figma.url == "https://mcp.figma.com/mcp"
    assert figma.bearer_token_env_var == "ENV_VAR" and dict(figma.http_headers) == {"HEADER_NAME": "HEADER_VALUE"}
    assert not figma.enabled and figma.enabled_tools is None
    assert (figma.startup_timeout_sec, figma.tool_timeout_sec) == (10.0, 60.0), "Codex's defaults"
    assert config.warnings == ()


def test_an_env_subtable_and_startup_timeout_ms_work_too(codex_home: Path):
    config = load(codex_home, '[mcp_servers.a]\ncommand = "a"\nstartup_timeout_ms = 2500\n'
                              '[mcp_servers.a.env]\nAPI_KEY = "v"\n')
    assert dict(config.mcp_servers["a"].env) == {"API_KEY": "v"}
    assert config.mcp_servers["a"].startup_timeout_sec == 2.5


def test_an_unknown_key_in_a_server_warns(codex_home: Path):
    config = load(codex_home, '[mcp_servers.a]\ncommand = "a"\ncomand = "typo"\n')
    assert len(config.warnings) == 1 and "unknown key 'mcp_servers.a.comand'" in config.warnings[0]


@pytest.mark.parametrize(("body", "message"), [
    ('command = "a"\nurl = "http://x"', "[mcp_servers.a] has both command and url"),
    ('args = ["x"]', "[mcp_servers.a] has neither command nor url"),
    ('command = "a"\ntool_timeout_sec = 0', "is not a positive number of seconds"),
    ('command = "a"\nargs = "x"', "is not a list of strings"),
])
def test_mistakes_name_the_file_the_server_and_the_fix(codex_home: Path, body: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load(codex_home, f"[mcp_servers.a]\n{body}\n")
    assert message in str(caught.value) and "config.toml" in str(caught.value)
