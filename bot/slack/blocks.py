"""Block Kit limits, enforced before anything is sent (pure functions, no I/O).

Slack rejects a whole message (`invalid_blocks`) when one limit is exceeded, so a long
log excerpt would cost the user the entire progress message. `fit_blocks` instead
truncates each over-long text with a visible note and drops blocks past the 50th,
replacing them with a one-line context note saying how many were left out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

MAX_BLOCKS = 50
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


def fit_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[Block]:
    """`blocks` within Slack's limits: texts truncated, at most 50 blocks. Pure.

    When blocks are dropped, the 50th becomes a context note "N more blocks not shown".
    """
    fitted = [fit_block(b) for b in blocks]
    if len(fitted) <= MAX_BLOCKS:
        return fitted
    dropped = len(fitted) - (MAX_BLOCKS - 1)
    note: Block = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f"_{dropped} more blocks not shown (Slack shows at most {MAX_BLOCKS})_",
            }
        ],
    }
    return [*fitted[: MAX_BLOCKS - 1], note]


def fit_text(text: str) -> str:
    """The notification/fallback `text` of a message, within a sane length. Pure."""
    return truncate(text, MAX_FALLBACK_TEXT)
