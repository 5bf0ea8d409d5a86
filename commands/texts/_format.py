"""Formatting shared by every text module: code spans, "a, b or c" lists, did-you-mean.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable


def _code(value: object) -> str:
    return f"`{value}`"


def _list(values: Iterable[str]) -> str:
    items = [_code(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def did_you_mean(candidates: Iterable[str]) -> str:
    """` Did you mean `a` or `b`?` (with a leading space), or '' when there is nothing."""
    items = list(candidates)
    return f" Did you mean {_list(items)}?" if items else ""
