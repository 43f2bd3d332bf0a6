"""A logits processor that helps a small model copy: while its answer repeats a run of a tool result, the token
that continues that run gets a bonus.

Measured on SmolLM2-135M, answers fail at copying more than at understanding: `feature/login-form` came back as
`feature-login-form`, a listing of 16 names turned into invented ones after the fourth. A copy mechanism (as in
pointer-generator networks, or prompt-lookup decoding used as a bias instead of a guess) fixes that without
reading anything: at each step, the longest suffix of the answer so far that also occurs in the turn's tool
results (at least `min_match` tokens) votes for the token that followed it there. The model still decides what
to start copying and when to stop; the bonus (quirks `copy_bias`, in logits) only keeps a copy it began on track.

Only for text answers (agent.models.embedded applies it when the reply cannot be a call). It does not tokenize
(the caller passes token ids) and keeps no state between requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

MAX_MATCH = 16  # tokens compared backwards: enough to tell two runs of a listing apart
MAX_CHOICES = 2  # more continuations than this: no bonus
END = -1  # "the source ends here"


class CopyBias:
    def __init__(self, sources: Sequence[Sequence[int]], prompt_length: int, bias: float, min_match: int = 1):
        self._sources = [list(s) for s in sources if s]
        self._positions: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for which, source in enumerate(self._sources):
            for position, token in enumerate(source):
                self._positions[token].append((which, position))
        self._prompt_length = prompt_length
        self._bias = bias
        self._min_match = min_match

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        generated = input_ids[self._prompt_length:]
        if len(generated) == 0 or self._bias == 0:
            return scores
        following = self.next_tokens([int(t) for t in generated[-MAX_MATCH:]])
        if following:
            scores[list(following)] += self._bias
        return scores

    def next_tokens(self, generated: list[int]) -> set[int]:
        """The tokens that follow, in a source, the longest run that ends the generated tokens; none when that
        run ends a source (the copy is complete) or is followed by more than MAX_CHOICES different tokens (a
        run as common as a line break says nothing about what to copy next)."""
        best, following = 0, set()
        for which, position in self._positions.get(generated[-1], ()):
            source = self._sources[which]
            length = 1
            while (length < len(generated) and length <= position
                   and source[position - length] == generated[-1 - length]):
                length += 1
            after = source[position + 1] if position + 1 < len(source) else END
            if length > best:
                best, following = length, {after}
            elif length == best:
                following.add(after)
        if best < self._min_match or END in following or len(following) > MAX_CHOICES:
            return set()
        return following
