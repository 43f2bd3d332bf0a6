"""Text from outside (a model, a command, an MCP server, a file) made safe to show on a terminal: every
character a terminal would obey rather than print is shown as an escape instead.

Shown escaped: the C0 controls except newline and tab (ESC, CR, BEL, backspace, …), DEL, the C1 controls
(U+0080-U+009F, which some terminals obey as ESC sequences) and the bidirectional overrides and isolates
(U+202A-U+202E, U+2066-U+2069, which reorder what a line seems to say). Each becomes its Python escape
(`\\x1b`, `\\u202e`), one character for one, so nothing is lost and nothing is obeyed: an OSC 52 cannot set
the clipboard, `\\r\\x1b[2K` cannot erase a line to forge another.

It does not strip or interpret escape sequences (a renderer that wants a command's colours gone does that
first), does not touch Rich markup (front ends build `Text` objects for that) and knows nothing of our own
colour codes: apply it to outside text only, before adding ours.
"""

from __future__ import annotations

KEPT = {"\n", "\t"}
CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
BIDI_CONTROLS = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escape(codepoint: int) -> str:
    return f"\\x{codepoint:02x}" if codepoint < 0x100 else f"\\u{codepoint:04x}"


SHOWN: dict[int, str] = {cp: _escape(cp) for cp in [*CONTROLS, *BIDI_CONTROLS] if chr(cp) not in KEPT}


def visible(text: str) -> str:
    """The text with every terminal control character in it written as an escape (`\\x1b`), newline and tab kept."""
    return text.translate(SHOWN)

