"""What the slots of a shell command form may hold: names and words copied from the conversation.

The smallest models can follow a command form but cannot copy its arguments: measured on SmolLM2-135M with the
right form forced, it wrote `head -n 100 docs/project.md` for README.md, `git grep -n 1000…` for a function name,
`mv b.txt b.txt` for "a.txt to b.txt" and dropped a word of the text to append. So on the compact profile's form
grammar a slot offers only what the conversation holds:

- `{path}`: a file name the user wrote or a tool result of this turn printed; a request that names no file
  offers its other words ("the docs folder");
- `{word}`: a word of those; where the request holds words shaped like names in code (parse_config, VERSION),
  one of those names;
- `{text}`: a quoted phrase of the request, or any run of its words when it quotes none;
- `{n}`: a number of the request, or 1;
- `{sed}`: `s/old/new/g` of those words;
- two path slots side by side (`mv {path} {path}`): two different names in the order the conversation gave them
  ("a.txt to b.txt"): `mv x x` is a no-op, and a request names the source first.

A slot with nothing to copy keeps its free rule (agent.models.tool_grammar.FORM_SLOTS). This is a copy mechanism,
not a reading of the request: nothing here looks for particular words; every value comes out of the text by its
shape (a name with a dot or a slash, a quoted span, a number). It does not choose the form
(agent.models.prompt_profile does, from the nearest example).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Characters a copied value may hold: it sits inside a JSON string, inside single quotes, and "<" begins
# chat-template markup (the grammar's command rule excludes the same).
_UNSAFE = re.compile(r"[\"'\\<`$\x00-\x1f]")
_PATH = re.compile(r"(?<![\w./-])(?:\.{0,2}/)?\w[\w.-]*(?:/[\w.-]+)*")  # never "-…": not an option
_WORD = re.compile(r"[A-Za-z_][\w.-]*[\w]|[A-Za-z]")
_NUMBER = re.compile(r"(?<![\w.])\d{1,4}(?![\w.])")
QUOTED = re.compile(  # a quoted phrase: "…", '…', “…”, ‘…’ (the phrase is the one group that matched)
    r"\"([^\"\n]{1,200})\"|'([^'\n]{1,200})'|\u201c([^\u201d\n]{1,200})\u201d|\u2018([^\u2019\n]{1,200})\u2019")
MAX_VALUES = 60  # per slot kind: a tool result with thousands of names would make the grammar slow to build
MAX_TEXTS = 400  # the runs of words of a long request
MAX_SPAN_WORDS = 12
COMMON_WORDS = frozenset({  # words of a request that do not name a file (the rest may: docs, src, Makefile)
    "a", "an", "the", "of", "in", "on", "at", "to", "from", "for", "with", "by", "and", "or", "is", "are", "be",
    "it", "this", "that", "what", "which", "how", "many", "much", "me", "my", "i", "you", "do", "does", "can",
    "please", "file", "files", "folder", "directory", "dir", "repository", "repo", "project", "here", "there",
    "count", "list", "show", "tell", "number", "all", "every", "each", "lines", "line",
})


@dataclass(frozen=True)
class SlotValues:
    paths: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

    @classmethod
    def from_conversation(cls, request: str, results: Iterable[str] = ()) -> SlotValues:
        """Values from the user's request and this turn's tool results (request first, then results in order)."""
        sources = [request, *results]
        asked = _WORD.findall(request)
        words = [w for text in sources for w in _WORD.findall(text)]
        paths = [p for text in sources for p in _paths(text)]
        if not _paths(request):  # "the docs folder": a plain word of the request may name a file or directory
            paths += [w for w in asked if w.lower() not in COMMON_WORDS]
        names_asked = any(_is_name(w) for w in asked)
        return cls(paths=_unique(paths),
                   words=_unique([w for w in words if _is_name(w)] if names_asked else words),
                   texts=_unique(_texts(request), MAX_TEXTS),
                   numbers=_unique([*_NUMBER.findall(request), "1"]))

    def rules(self) -> dict[str, str]:
        """GBNF per slot name, for the slots that have values to copy."""
        rules: dict[str, str] = {}
        if self.paths:
            rules["path"] = _choice(self.paths)
        if len(self.paths) > 1:  # two different names, in the order the conversation gave them
            rules["path_pair"] = "(" + " | ".join(
                f'{json.dumps(a, ensure_ascii=False)} " " {json.dumps(b, ensure_ascii=False)}'
                for i, a in enumerate(self.paths) for b in self.paths[i + 1:]) + ")"
        if self.words:
            rules["word"] = _choice(self.words)
            replacements = self.words + tuple(t for t in self.texts if "/" not in t)  # "/" would end the s///
            rules["sed"] = f'"\'s/" {rules["word"]} "/" {_choice(replacements)} "/g\'"'
        if self.texts:
            rules["text"] = f'"\'" {_choice(self.texts)} "\'"'
        if self.numbers:
            rules["n"] = _choice(self.numbers)
        return rules


def _is_name(word: str) -> bool:
    """Shaped like a name in code rather than an English word or a file name: parse_config, VERSION, v2."""
    if _paths(word):
        return False
    return "_" in word or any(c.isdigit() for c in word) or any(c.isupper() for c in word[1:])


def _paths(text: str) -> list[str]:
    """Names shaped like files: a dot inside (README.md, app/settings.py) or a slash (docs/guide); a trailing
    sentence dot is not part of the name. A `path:line:` prefix (grep's output) counts as a path."""
    found = []
    for match in _PATH.finditer(text):
        name = match.group().rstrip(".-")
        if ("." in name.strip(".") or "/" in name.strip("./")) and not name.replace(".", "").isdigit():
            found.append(name)
    return found


def _texts(request: str) -> list[str]:
    """The request's quoted phrases; if it quotes none, every run of up to MAX_SPAN_WORDS of its words."""
    quoted = [next(group for group in match.groups() if group) for match in QUOTED.finditer(request)]
    if quoted:
        return [q.strip() for q in quoted if q.strip()]
    words = [w.strip(".,;:!?") for w in request.split()]
    words = [w for w in words if w]
    return [" ".join(words[i:j]) for i in range(len(words))
            for j in range(i + 1, min(len(words), i + MAX_SPAN_WORDS) + 1)]


def _unique(values: Iterable[str], limit: int = MAX_VALUES) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value and not _UNSAFE.search(value) and value not in seen:
            seen[value] = None
            if len(seen) == limit:
                break
    return tuple(seen)


def _choice(values: tuple[str, ...]) -> str:
    return "(" + " | ".join(json.dumps(v, ensure_ascii=False) for v in values) + ")"
