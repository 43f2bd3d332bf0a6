"""What may run, where, and what it can reach: policy and the kernel sandbox.

`approval.py` decides whether a command, an edit or an MCP tool call may go ahead and when to ask, what each
answer means, and keeps the session's "always" memory; `commands.py` knows the known-safe commands
(tree-sitter-bash) and danger flags; `git_programs.py` finds programs a repository's git config would run;
`sandbox.py` turns a config into a `SandboxPolicy` and wraps a command; `sandbox_exec.py` is the launcher that
builds the sandbox (namespaces, mounts, Landlock) and is passed as bytecode, never loaded from a file;
`launchers.py` keeps the next launcher started ahead of need; `local_only.py` keeps provider and MCP hosts on
loopback or private networks.

This package imports nothing from agent/tools, agent/tui or agent/cli (tests/test_architecture.py): the tools
call policy, never the other way round.
"""
