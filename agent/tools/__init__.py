"""The tools a model may call. Each tool is one `Tool` record (spec + handler) in the module named for it
(`shell_tool`, `apply_patch_tool`, `plan_tool`), written against the shared contract in `context`; `registry`
lists them and dispatches calls. The engines they use keep their own modules (`process_runner`, `command_env`,
`truncation`, `apply_patch`, `patch_journal`, `safe_fs`, `patch_diff`). Policy is not here (agent.safety)."""
