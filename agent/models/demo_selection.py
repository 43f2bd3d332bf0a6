"""Which worked examples a request is shown right before it: the few whose requests are most like it.

The smallest models copy the call of the most recent example they saw (measured on SmolLM2-135M: with the
matching example's command form the only one allowed, it passes all 8 chores of the suite; with every form
allowed and a fixed example order, 2 of 8). So, as in example selection for few-shot prompts (Liu et al.,
"What Makes Good In-Context Examples for GPT-3?", 2021), each request gets the examples nearest to it, the
nearest last, and the first call of the turn takes the command form of one of them.

"Near" is word overlap weighted by rarity over the examples' phrasings (each example has its request and a few
other phrasings of it, `also`), after the shapes of names are abstracted: a file name, a code name, a number and
a quoted phrase count as one kind of word each, so "Rename a.txt to b.txt" is near "Move notes.md to
docs/notes.md" by its shape and "rename"/"move" phrasings, not by the names. Nothing here knows any task; the
examples (agent/prompts/demonstrations.toml) are data.

This module does not build prompts or grammars (agent.models.prompt_profile does).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from agent.models.slot_values import QUOTED

_TOKEN = re.compile(r"[\w./-]+")
STOPWORDS = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "from", "for", "with", "by", "and", "or", "is", "are", "was",
    "be", "been", "it", "its", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom",
    "whose", "how", "me", "my", "i", "you", "your", "we", "our", "us", "do", "does", "did", "can", "could", "would",
    "should", "will", "please", "just", "now", "right", "some", "any", "all", "tell", "let",
})


@dataclass(frozen=True)
class Candidate:
    """An example's phrasings, as the selection sees them."""

    phrasings: tuple[str, ...]


def words(text: str) -> tuple[str, ...]:
    """The request's words for comparing: lower case, stemmed, stopwords dropped, names by their shape."""
    found = ["<text>" for _ in QUOTED.finditer(text)]
    for token in _TOKEN.findall(QUOTED.sub(" ", text)):
        token = token.strip("./-")
        if not token:
            continue
        if "/" in token or re.search(r"\w\.\w", token):
            found.append("<path>")
        elif token.isdigit():
            found.append("<n>")
        elif "_" in token or any(c.isupper() for c in token[1:]) or any(c.isdigit() for c in token):
            found.append("<name>")
        elif token.lower() not in STOPWORDS:
            found.append(_stem(token.lower()))
    return tuple(found)


def _stem(word: str) -> str:
    """A crude English stem, the same for "file", "files", "filed": suffixes off, then a final "e"."""
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def nearest(request: str, candidates: Sequence[Candidate], k: int) -> list[int]:
    """Indexes of up to k candidates with any word in common with the request, least alike first."""
    scorer = _scorer(tuple(candidates))
    query = Counter(words(request))
    scores = [(scorer.score(query, index), index) for index in range(len(candidates))]
    best = sorted((s for s in scores if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
    return [index for _, index in reversed(best)]


@dataclass(frozen=True)
class _Scorer:
    """Two measures, added: how much of the request's weight the example's words (all its phrasings) cover,
    and the cosine with its closest phrasing; weights are inverse document frequencies over the examples."""

    phrasings: tuple[tuple[Counter, ...], ...]
    vocabulary: tuple[frozenset[str], ...]
    idf: dict[str, float]
    unseen: float  # the weight of a word no example has

    def score(self, query: Counter, index: int) -> float:
        total = sum(self._weight(w) for w in query)
        coverage = sum(self._weight(w) for w in query if w in self.vocabulary[index]) / total if total else 0.0
        return coverage + max(self._cosine(query, bag) for bag in self.phrasings[index]) if coverage else 0.0

    def _cosine(self, query: Counter, bag: Counter) -> float:
        shared = sum(min(query[w], bag[w]) * self._weight(w) for w in query if w in bag)
        return shared / (self._norm(query) * self._norm(bag)) if shared else 0.0

    def _norm(self, bag: Counter) -> float:
        return math.sqrt(sum(n * self._weight(w) for w, n in bag.items())) or 1.0

    def _weight(self, word: str) -> float:
        return self.idf.get(word, self.unseen) ** 2


@cache
def _scorer(candidates: tuple[Candidate, ...]) -> _Scorer:
    phrasings = tuple(tuple(Counter(words(p)) for p in c.phrasings) for c in candidates)
    vocabulary = tuple(frozenset().union(*bags) for bags in phrasings)
    frequency = Counter(w for vocab in vocabulary for w in vocab)
    count = len(candidates)
    return _Scorer(phrasings, vocabulary, {w: math.log(1 + count / n) for w, n in frequency.items()},
                   math.log(1 + count))
