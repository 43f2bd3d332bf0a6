"""Cut text in the middle, keeping its head and tail, to fit a byte and a line budget.

The end of a build log matters as much as its start, so command output, MCP results, tool outputs over
`tool_output_token_limit` and history shortened for the context window are all cut this way. This module only
cuts text; who cuts what, and to which budget, is decided by its callers.
"""

from __future__ import annotations

MODEL_MAX_BYTES = 10 * 1024  # a command's output as the model gets it
MODEL_MAX_LINES = 256
BYTES_PER_TOKEN = 4  # how Codex turns tool_output_token_limit into bytes


def truncate_middle(text: str, max_bytes: int = MODEL_MAX_BYTES, max_lines: int = MODEL_MAX_LINES) -> str:
    """Keep the head and tail of `text` within both budgets, saying how much was cut."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= max_lines and len(text.encode()) <= max_bytes:
        return text
    if len(lines) == 1:  # one enormous line: keep both of its ends (characters: at most 4 bytes each)
        keep = max_bytes // 8
        marker = f"\n[... {len(text) - 2 * keep} characters cut from the middle of a {len(text)}-character line ...]\n"
        return text[:keep] + marker + text[-keep:]
    head, tail = _split_budget(lines, max_lines // 2, max_bytes // 2)
    cut_lines = len(lines) - len(head) - len(tail)
    marker = f"\n[... {cut_lines} lines cut from the middle; {len(lines)} lines in total ...]\n"
    return "".join(head) + marker + "".join(tail)


def truncate_to_tokens(text: str, token_limit: int | None) -> str:
    """`text` cut in the middle to about `token_limit` tokens (no limit: unchanged), lines not counted."""
    if not token_limit:
        return text
    return truncate_middle(text, token_limit * BYTES_PER_TOKEN, max_lines=1 << 30)


def _split_budget(lines: list[str], line_budget: int, byte_budget: int) -> tuple[list[str], list[str]]:
    def take(seq: list[str]) -> list[str]:
        taken, used = [], 0
        for line in seq[:line_budget]:
            size = len(line.encode())
            if used + size > byte_budget:
                if not taken:  # one enormous line: keep a slice of it
                    taken.append(line[: byte_budget // 4] + "…\n")
                break
            taken.append(line)
            used += size
        return taken

    head = take(lines)
    tail = list(reversed(take(list(reversed(lines[len(head):])))))
    return head, tail
