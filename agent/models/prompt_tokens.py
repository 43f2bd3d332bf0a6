"""The embedded prompt's tokens, in which only the chat template's own markup can be a special token.

Why this exists: llama.cpp's tokenizer, asked to parse special tokens (`special=True`), turns every occurrence of
a control token's text into that token wherever it stands. A prompt rendered from the chat template and tokenized
whole that way lets a message's content (a tool result, a file the agent read, an MCP result, pasted text) holding
`<|im_end|>\\n<|im_start|>system\\n...` open a real turn of its own, which the model cannot tell from ours.

How: the template is rendered a second time with a placeholder for each message's content, which splits the real
rendering into the template's markup and the contents (a content the template trims is found trimmed). Special
tokens are looked for in the markup only, as llama.cpp looks for them (longest text first, whitespace stripped
beside the tokens marked lstrip/rstrip); each stretch of plain text between two of them, markup text and contents
together, is tokenized with `special=False`. llama.cpp still matches user-defined (added) tokens in plain text, so
a user-defined token that the markup itself uses is broken apart where it appears in a content. For contents
without such text the tokens are exactly those of the whole prompt tokenized with `special=True` (the model sees
what it saw before and a saved prefix's KV state still matches); a content that holds it reaches the model as
ordinary text tokens.

A template that changes a content beyond trimming it, shows it twice or out of order cannot be split this way;
the prompt is then rendered with the text of every special token inside each content broken by a word joiner
(U+2060) and tokenized whole: the model sees that text almost unchanged, but never as a token.

Which tokens are special comes from the model's vocabulary (llama.cpp's token attributes), so any GGUF works.
Not here: which messages to send or which template renders them (agent.models.embedded, agent.models.prompt_profile).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")  # private-use marks: no template or vocabulary holds them
WORD_JOINER = "\u2060"
C_SPACE = " \t\n\v\f\r"  # what llama.cpp's isspace() strips beside an lstrip/rstrip token

Formatter = Callable[..., Any]  # a llama-cpp-python chat formatter: formatter(messages=[...]) -> ChatFormatterResponse


@dataclass(frozen=True)
class SpecialToken:
    id: int
    text: str
    user_defined: bool  # llama.cpp matches it in plain text too (special=False)
    lstrip: bool = False
    rstrip: bool = False


@dataclass(frozen=True)
class ChatTokens:
    tokens: list[int]
    stop: list[str]
    split: bool  # False: the template could not be split, the contents' special texts were neutralised instead


@dataclass
class Vocabulary:
    """The model's special tokens (those llama.cpp parses from text with special=True) and its tokenizer."""

    vocab: Any  # llama_vocab pointer
    specials: tuple[SpecialToken, ...]  # longest text first, as llama.cpp tries them
    add_bos: bool
    add_eos: bool
    bos: int
    eos: int
    _markup: dict[str, list[str | SpecialToken]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, model: Any) -> Vocabulary:
        """From a llama-cpp-python LlamaModel (`Llama._model`)."""
        import llama_cpp

        special = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
        special |= llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        tokens = []
        for token in range(model.n_vocab()):
            attr = model.token_get_attr(token)
            if not attr & special:
                continue
            text = model.token_get_text(token)
            if text:
                tokens.append(SpecialToken(token, text, bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED),
                                           bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_LSTRIP),
                                           bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_RSTRIP)))
        tokens.sort(key=lambda t: len(t.text.encode("utf-8")), reverse=True)
        vocab = model.vocab
        return cls(vocab, tuple(tokens), bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
                   bool(llama_cpp.llama_vocab_get_add_eos(vocab)), model.token_bos(), model.token_eos())

    def text_tokens(self, text: str) -> list[int]:
        """`text` tokenized as plain text (special=False, no BOS)."""
        return self._tokenize(text, add_bos=False, special=False) if text else []

    def whole_tokens(self, text: str, add_bos: bool) -> list[int]:
        """`text` tokenized whole with special=True, as the engine did before (the neutralising path)."""
        return self._tokenize(text, add_bos=add_bos, special=True)

    def _tokenize(self, text: str, add_bos: bool, special: bool) -> list[int]:
        """llama_tokenize with a buffer sized to the text (Llama.tokenize allocates n_ctx_train tokens per call)."""
        import llama_cpp

        data = text.encode("utf-8")
        room = len(data) + 8
        for _attempt in range(2):
            buffer = (llama_cpp.llama_token * room)()
            count = llama_cpp.llama_tokenize(self.vocab, data, len(data), buffer, room, add_bos, special)
            if count >= 0:
                return buffer[:count]
            room = -count
        raise RuntimeError(f"llama_tokenize could not tokenize {len(data)} bytes")

    def markup_parts(self, markup: str) -> list[str | SpecialToken]:
        """`markup` split at its special tokens as llama.cpp's tokenizer splits text (longest token first)."""
        cached = self._markup.get(markup)
        if cached is not None:
            return cached
        parts: list[str | SpecialToken] = [markup] if markup else []
        for token in (t for t in self.specials if t.text in markup):
            split: list[str | SpecialToken] = []
            for part in parts:
                if not isinstance(part, str):
                    split.append(part)
                    continue
                pieces = part.split(token.text)
                for index, piece in enumerate(pieces):
                    if index:
                        split.append(token)
                    if piece:
                        split.append(piece)
            parts = split
        if len(self._markup) < 4096:
            self._markup[markup] = parts
        return parts


def chat_tokens(formatter: Formatter, messages: Sequence[dict[str, str]], vocabulary: Vocabulary) -> ChatTokens:
    """The prompt for `messages` under `formatter`: the template's markup may hold special tokens, contents never."""
    rendered = formatter(messages=list(messages))
    add_bos = not getattr(rendered, "added_special", False)
    stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop] if rendered.stop else []
    segments = _segments(formatter, messages, rendered.prompt)
    if segments is None:
        neutral = [{**m, "content": neutralised(m.get("content"), vocabulary)} for m in messages]
        return ChatTokens(vocabulary.whole_tokens(formatter(messages=neutral).prompt, add_bos), stop, False)
    return ChatTokens(spliced_tokens(segments, vocabulary, add_bos), stop, True)


def neutralised(content: Any, vocabulary: Vocabulary) -> Any:
    """`content` with a word joiner after the first character of every special token's text in it."""
    if not isinstance(content, str):
        return content
    for token in vocabulary.specials:
        if len(token.text) > 1 and token.text.strip() and token.text in content:
            content = content.replace(token.text, token.text[0] + WORD_JOINER + token.text[1:])
    return content


def _segments(formatter: Formatter, messages: Sequence[dict[str, str]],
              prompt: str) -> list[tuple[str, bool]] | None:
    """`prompt` as (text, is_content) pieces, found by rendering placeholders; None if it cannot be split."""
    if not all(isinstance(m.get("content"), str) for m in messages):
        return None
    marked = [{**m, "content": f"\ue000{index}\ue001"} for index, m in enumerate(messages)]
    try:
        skeleton = formatter(messages=marked).prompt
    except Exception:  # a template that rejects the placeholders: the neutralising path
        return None
    pieces = PLACEHOLDER.split(skeleton)  # markup, index, markup, index, ..., markup
    markups, indices = pieces[0::2], [int(i) for i in pieces[1::2]]
    if any(later <= earlier for earlier, later in zip(indices, indices[1:], strict=False)):
        return None  # a content shown twice or out of order
    segments: list[tuple[str, bool]] = []
    position = 0
    for markup, index, following in zip(markups, indices, markups[1:], strict=False):
        if not prompt.startswith(markup, position):
            return None
        segments.append((markup, False))
        position += len(markup)
        content = messages[index]["content"]
        shown = next((c for c in (content, content.strip())
                      if prompt.startswith(c, position) and prompt.startswith(following, position + len(c))), None)
        if shown is None:
            return None  # the template changed this content beyond trimming it
        segments.append((shown, True))
        position += len(shown)
    if prompt[position:] != markups[-1]:
        return None
    segments.append((markups[-1], False))
    return segments


def spliced_tokens(segments: Sequence[tuple[str, bool]], vocabulary: Vocabulary, add_bos: bool) -> list[int]:
    """Tokens of the (text, is_content) segments: special tokens from the markup, everything else as text."""
    items: list[SpecialToken | list[tuple[str, bool]]] = []  # special tokens and runs of plain text between them
    used: set[SpecialToken] = set()
    for text, is_content in segments:
        for part in ([text] if is_content else vocabulary.markup_parts(text)):
            if isinstance(part, SpecialToken):
                items.append(part)
                used.add(part)
            elif items and isinstance(items[-1], list):
                items[-1].append((part, is_content))
            else:
                items.append([(part, is_content)])
    _strip_beside_tokens(items)
    breakable = sorted((t.text for t in used if t.user_defined), key=len, reverse=True)
    tokens = [vocabulary.bos] if add_bos and vocabulary.add_bos else []
    for item in items:
        if isinstance(item, SpecialToken):
            tokens.append(item.id)
        else:
            for text in _broken_run(item, breakable):
                tokens += vocabulary.text_tokens(text)
    if add_bos and vocabulary.add_eos:
        tokens.append(vocabulary.eos)
    return tokens


def _strip_beside_tokens(items: list[SpecialToken | list[tuple[str, bool]]]) -> None:
    """Drop the whitespace llama.cpp strips right of an rstrip token and left of an lstrip token."""
    for index, item in enumerate(items):
        if not isinstance(item, SpecialToken):
            continue
        if item.rstrip and index + 1 < len(items) and isinstance(items[index + 1], list):
            run = items[index + 1]
            while run and not run[0][0].lstrip(C_SPACE):
                run.pop(0)
            if run:
                run[0] = (run[0][0].lstrip(C_SPACE), run[0][1])
        if item.lstrip and index > 0 and isinstance(items[index - 1], list):
            run = items[index - 1]
            while run and not run[-1][0].rstrip(C_SPACE):
                run.pop()
            if run:
                run[-1] = (run[-1][0].rstrip(C_SPACE), run[-1][1])


def _broken_run(run: list[tuple[str, bool]], breakable: list[str]) -> list[str]:
    """A run of plain text as the strings to tokenize one by one: the whole run, unless a content holds the text of
    a user-defined token the markup uses (llama.cpp would match it even as plain text); it is cut after its first
    character there."""
    texts, current = [], ""
    for text, is_content in run:
        if is_content and breakable and any(b in text for b in breakable):
            pattern = re.compile("|".join(re.escape(b) for b in breakable))
            start = 0
            for match in pattern.finditer(text):
                texts.append(current + text[start:match.start() + 1])
                current, start = "", match.start() + 1
            current += text[start:]
        else:
            current += text
    if current:
        texts.append(current)
    return [t for t in texts if t]
