"""The slash commands in Textual's command palette (Ctrl+P), next to its system commands."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from agent.tui.slash_commands import COMMANDS


class SlashCommandsProvider(Provider):
    def _run(self, name: str) -> None:
        self.app.run_slash(name)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for command in COMMANDS:
            yield DiscoveryHit(f"/{command.name}", partial(self._run, command.name), help=command.description)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in COMMANDS:
            text = f"/{command.name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, command.name), text=text,
                          help=command.description)
