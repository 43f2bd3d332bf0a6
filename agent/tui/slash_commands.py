"""The slash commands the composer completes and the command palette lists: names and one-line help.

Data only: what each command does is the app's business (`CodexApp.run_slash`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    name: str
    description: str
    needs_idle: bool = True  # refused while a turn runs


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("model", "switch the model or provider"),
    SlashCommand("approvals", "choose what Codex may do without asking (sandbox + approval preset)"),
    SlashCommand("status", "show model, provider, sandbox, AGENTS.md files and token use", needs_idle=False),
    SlashCommand("diff", "show the git diff, untracked files included", needs_idle=False),
    SlashCommand("undo", "revert the edits of the last turn"),
    SlashCommand("new", "start a new session"),
    SlashCommand("compact", "summarise the conversation to free context"),
    SlashCommand("init", "write an AGENTS.md for this repository with the model's help"),
    SlashCommand("mention", "insert a file path (same as @)", needs_idle=False),
    SlashCommand("quit", "exit Codex", needs_idle=False),
)
BY_NAME = {command.name: command for command in COMMANDS}


def complete(text: str) -> list[SlashCommand]:
    """The commands the composer's text could be the start of: `/st` → [status]; none once there is a space."""
    if not text.startswith("/") or any(c.isspace() for c in text):
        return []
    prefix = text[1:].lower()
    return [command for command in COMMANDS if command.name.startswith(prefix)]


def parse(text: str) -> tuple[SlashCommand, str] | None:
    """`/model qwen` → (model, "qwen"); None when the text is not a known slash command."""
    if not text.startswith("/"):
        return None
    name, _, argument = text[1:].strip().partition(" ")
    command = BY_NAME.get(name.lower())
    return (command, argument.strip()) if command else None
