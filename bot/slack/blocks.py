"""Block Kit limits, enforced before anything is sent (pure functions, no I/O).

Slack rejects a whole message (`invalid_blocks`) when one limit is exceeded, so a long
log excerpt would cost the user the entire progress message. `fit_blocks` instead
truncates each over-long text with a visible note and drops blocks past the 50th (100th
in a view), replacing them with a one-line context note saying how many were left out.
It also keeps the message's text across all blocks under 12,000 characters: Slack
refuses ~13,200 in all with `msg_blocks_too_long` (bolt-js#2509), whatever each block's
own limit.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 12_000
# Smallest useful remainder of a section cut to fit the message's budget.
MIN_CUT_SECTION = 200
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONTEXT_TEXT = 3000
# chat.postMessage accepts 40k; a notification preview is useless long before that.
MAX_FALLBACK_TEXT = 4000
TRUNCATED = "… (truncated)"

Block = dict[str, Any]
"""One Block Kit block as JSON (the one alias: renderers build these, `fit_blocks` fits them)."""


def section(text: str) -> Block:
    """A `section` block of mrkdwn `text`. Pure."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def truncate(text: str, limit: int, *, note: str = TRUNCATED) -> str:
    """`text` cut to at most `limit` characters, ending with `note` when cut. Pure."""
    if len(text) <= limit:
        return text
    if limit <= len(note):
        return text[:limit]
    return text[: limit - len(note)] + note


def _fit_text_object(obj: Any, limit: int, *, note: str = TRUNCATED) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = truncate(obj["text"], limit, note=note)


def _fit_element(element: Any) -> None:
    if not isinstance(element, dict):
        return
    if element.get("type") == "button":
        # A button label has no room for a note: a plain ellipsis.
        _fit_text_object(element.get("text"), MAX_BUTTON_TEXT, note="…")
        if isinstance(element.get("value"), str):
            element["value"] = element["value"][:MAX_BUTTON_VALUE]
    elif element.get("type") in ("mrkdwn", "plain_text"):
        _fit_text_object(element, MAX_CONTEXT_TEXT)


def fit_block(block: Mapping[str, Any]) -> Block:
    """A copy of `block` with every text within its Block Kit limit. Pure."""
    fitted: Block = copy.deepcopy(dict(block))
    kind = fitted.get("type")
    if kind == "header":
        _fit_text_object(fitted.get("text"), MAX_HEADER_TEXT, note="…")
    elif kind == "section":
        _fit_text_object(fitted.get("text"), MAX_SECTION_TEXT)
        for field in fitted.get("fields") or []:
            _fit_text_object(field, MAX_FIELD_TEXT)
        _fit_element(fitted.get("accessory"))
    for element in fitted.get("elements") or []:
        _fit_element(element)
    return fitted


def text_length(node: Any) -> int:
    """Characters of text in a block tree (every `text` string), as Slack sums them. Pure."""
    if isinstance(node, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else text_length(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    return 0


def _cut_to(block: Block, budget: int) -> Block | None:
    """A section cut so its text fits `budget` characters, or None when it can't be."""
    text = block.get("text")
    if block.get("type") != "section" or block.get("fields") or not isinstance(text, dict):
        return None
    others = text_length(block) - len(str(text.get("text", "")))
    room = budget - others
    if room < MIN_CUT_SECTION:
        return None
    cut = copy.deepcopy(block)
    cut["text"]["text"] = truncate(str(text.get("text", "")), room)
    return cut


def _dropped_note(dropped: int, limit: int) -> Block:
    return {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"_{dropped} more blocks not shown (Slack shows at most {limit})_",
            }
        ],
    }


def fit_blocks(blocks: Sequence[Mapping[str, Any]], *, max_blocks: int = MAX_BLOCKS) -> list[Block]:
    """`blocks` within Slack's limits: texts truncated, at most `max_blocks` blocks (50 a
    message, `MAX_VIEW_BLOCKS` a view) and `MAX_MESSAGE_TEXT` characters of text. Pure.

    When blocks are dropped, the last one kept is followed by a context note
    "N more blocks not shown" (within the block count).
    """
    fitted = [fit_block(b) for b in blocks]
    note_room = text_length(_dropped_note(len(fitted), max_blocks))
    budget = MAX_MESSAGE_TEXT - note_room
    kept: list[Block] = []
    for block in fitted:
        if len(fitted) > max_blocks and len(kept) == max_blocks - 1:
            break
        size = text_length(block)
        if size > budget:
            cut = _cut_to(block, budget)
            if cut is not None:
                kept.append(cut)
            break
        kept.append(block)
        budget -= size
    dropped = len(fitted) - len(kept)
    if dropped == 0:
        return kept
    if len(kept) >= max_blocks:
        kept = kept[: max_blocks - 1]
        dropped = len(fitted) - len(kept)
    return [*kept, _dropped_note(dropped, max_blocks)]


def fit_text(text: str) -> str:
    """The notification/fallback `text` of a message, within a sane length. Pure."""
    return truncate(text, MAX_FALLBACK_TEXT)
