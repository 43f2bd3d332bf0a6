"""Whether real servers give the model our `tools`, as tool_call_format = "auto" and `codex doctor` judge it
(agent/models/tool_support.py): llama_cpp.server drops them in `chatml` mode and reads them in
`chatml-function-calling` mode; the judgement is the prompt size each reports, not the tiny model's choice."""

from __future__ import annotations

import openai
import pytest

from agent.models import tool_support
from tests.servers.real_servers import RealServer

pytestmark = pytest.mark.timeout(120, func_only=True)


def sdk(server: RealServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)


def test_the_probe_finds_that_a_chatml_llama_cpp_server_drops_tools(chatml_server: RealServer):
    verdict = tool_support.probe(sdk(chatml_server), "chat", chatml_server.model)
    assert verdict.format == "text" and not verdict.rejected
    assert "drops `tools`" in verdict.reason


def test_the_probe_finds_native_tools_on_chatml_function_calling(function_calling_server: RealServer):
    verdict = tool_support.probe(sdk(function_calling_server), "chat", function_calling_server.model)
    assert verdict.format == "native", verdict.reason
    assert "reads `tools`" in verdict.reason


def test_the_model_listings_name_the_servers(chatml_server: RealServer, llama_server: RealServer):
    assert tool_support.listed(sdk(chatml_server)) == ([chatml_server.model], "llama_cpp.server")
    assert tool_support.listed(sdk(llama_server))[1] == "llama.cpp"
