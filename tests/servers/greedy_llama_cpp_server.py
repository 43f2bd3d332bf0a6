"""`python -m llama_cpp.server`, unchanged but for its default temperature: 0 (greedy) instead of 0.8.

llama-server takes `--temp 0`; llama_cpp.server has no such flag, and our requests carry no temperature (a user's
server decides). The tests want replies that do not change from run to run, so this sets the request models'
default before the server starts. Everything else — the chat formats, dropping `tools` in `chatml` mode, the
wire format — is the real server's. Run as `python -m tests.servers.greedy_llama_cpp_server ARGS…`.
"""

from __future__ import annotations

from llama_cpp.server import types
from llama_cpp.server.__main__ import main

for request_model in (types.CreateChatCompletionRequest, types.CreateCompletionRequest):
    request_model.model_fields["temperature"].default = 0.0
    request_model.model_rebuild(force=True)

if __name__ == "__main__":
    main()
