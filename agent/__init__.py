"""codex-local: a local coding agent compatible with OpenAI's Codex CLI.

The core takes typed operations and emits typed events (`protocol.py`); front ends only send the one and
render the other. Map (docs/architecture.md has the data flow of one turn):

- contract: `protocol.py` (ops, events, items, policy names, the `exec --json` form)
- core: `session_open.py` (new or resumed thread) → `session.py` (`submit(op)`) → `turn.py` (the loop), with
  `thread.py` (history), `context_budget.py` (the window), `turn_end.py` (loop guard, step limit),
  `structured_output.py` (`--output-schema`), `recorder.py` (redact + persist: `session_store.py`, `rollout.py`,
  `undo.py`, `history.py`, `audit.py`)
- below the core: `models/` (back ends), `tools/` (what the model can call), `safety/` (policy and sandbox),
  `mcp/` (MCP client and server), `config.py`, `instructions.py` (AGENTS.md), `fileio.py`, `git.py`
- front ends: `exec.py` + `exec_output.py` (headless), `tui/` (Textual), `mcp/server.py` (`codex mcp-server`);
  `terminal_text.py` (outside text made safe for a terminal, for both);
  `cli.py` parses the command line and imports each front end only when it runs.

Nothing in the core imports Textual; nothing in `tui/` decides policy; `safety/` imports nothing above it.
"""

__version__ = "0.1.0"
