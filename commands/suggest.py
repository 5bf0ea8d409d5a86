""" "Did you mean …?": the nearest known names to a word someone typed.

Used for unknown services, environments, verbs and help topics. Tags have their own,
registry-aware ranking in `commands.images.suggest_tags`.

Pure: every function here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6
"""difflib similarity below which a candidate isn't worth suggesting."""


def did_you_mean(word: str, candidates: Iterable[str], *, n: int = 3) -> tuple[str, ...]:
    """Up to `n` of `candidates` closest to `word`, best first (case-insensitive).

    Candidates that start with `word` (at least 2 characters typed) come first, so
    `wor` suggests `worker` even though difflib alone would rank it low. Ties keep the
    candidates' order. `word` itself is never suggested.
    """
    low = word.lower()
    unique = list(dict.fromkeys(candidates))
    prefixed = [c for c in unique if len(low) >= 2 and c.lower().startswith(low)]
    scored = []
    for index, candidate in enumerate(unique):
        ratio = difflib.SequenceMatcher(None, low, candidate.lower()).ratio()
        if ratio >= CUTOFF:
            scored.append((-ratio, index, candidate))
    close = [c for _, _, c in sorted(scored)]
    result: list[str] = []
    for candidate in prefixed + close:
        if candidate not in result and candidate.lower() != low:
            result.append(candidate)
    return tuple(result[:n])


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The single best suggestion for `word`, or None when nothing is close."""
    found = did_you_mean(word, candidates, n=1)
    return found[0] if found else None
