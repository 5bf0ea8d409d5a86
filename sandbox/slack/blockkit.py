"""Block Kit validation as slack.com does it, for messages and views. Pure.

slack_sdk's own models do most of it: `Block.parse` (an unknown block type parses to
None: Slack refuses it) and `validate_json()` on the block AND on every nested object
(the models validate only their own attributes: a button's 75-character text and its
2,000-character value are checked on the button, not on the actions block).
On top, the limits the models leave to the server:

- at most 50 blocks in a message, 100 in a view (`View` checks only views);
- `block_id` unique in a message or view, `action_id` unique in it too;
- a message's blocks carry at most ~13,000 characters of text in all (Slack's
  undocumented cumulative limit, answered `msg_blocks_too_long`; measured at ~13,200
  in bolt-js#2509: this stand-in refuses at 13,000, never kinder);
- a view: `View.validate_json()` (title 24, private_metadata 3,000, 100 blocks, ...).

Errors read like Slack's: `"<what> [json-pointer:/blocks/3/text]"`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCKS_TEXT = 13_000

# slack_sdk logs a warning for each unknown block it skips; the error says it instead.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)


def _object_errors(obj: JsonObject, pointer: str) -> Iterator[str]:
    try:
        obj.validate_json()
    except SlackObjectFormationError as e:
        yield f"{e} [json-pointer:{pointer}]"
    for name in sorted(obj.attributes):
        value = getattr(obj, name, None)
        if isinstance(value, JsonObject):
            yield from _object_errors(value, f"{pointer}/{name}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, JsonObject):
                    yield from _object_errors(item, f"{pointer}/{name}/{i}")


def _ids(node: Any, key: str) -> Iterator[str]:
    """Every string value under `key` in a JSON tree (depth first)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _ids(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _ids(item, key)


def text_length(node: Any) -> int:
    """How many characters of text a block tree carries (every `text` string). Pure."""
    return sum(len(text) for text in _ids(node, "text"))


def blocks_errors(blocks: object, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Why Slack refuses these blocks (`[]`: it takes them). Pure."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"no more than {limit} items allowed [json-pointer:{pointer}]")
    for i, raw in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(raw, dict):
            errors.append(f"must be an object [json-pointer:{at}]")
            continue
        try:
            block = Block.parse(dict(raw))
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            errors.append(f"invalid block ({type(e).__name__}) [json-pointer:{at}]")
            continue
        if block is None:
            errors.append(f"unsupported type: {raw.get('type')!r} [json-pointer:{at}/type]")
            continue
        errors.extend(_object_errors(block, at))
    for key in ("block_id", "action_id"):
        seen: set[str] = set()
        for value in _ids(blocks, key):
            if value in seen:
                errors.append(f"duplicate {key} {value!r} [json-pointer:{pointer}]")
            seen.add(value)
    return errors


def message_blocks_problem(blocks: object) -> tuple[str, list[str]] | None:
    """(Slack's error code, details) for a message's blocks, or None when accepted. Pure."""
    errors = blocks_errors(blocks, limit=MAX_MESSAGE_BLOCKS)
    if errors:
        return "invalid_blocks", errors
    if text_length(blocks) > MAX_MESSAGE_BLOCKS_TEXT:
        return "msg_blocks_too_long", []
    return None


def view_errors(view: object) -> list[str]:
    """Why Slack refuses this view (`[]`: it takes it). Pure."""
    if not isinstance(view, dict):
        return ["must be an object [json-pointer:/view]"]
    errors = blocks_errors(view.get("blocks", []), limit=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    try:
        View(**view).validate_json()
    except SlackObjectFormationError as e:
        errors.append(f"{e} [json-pointer:/view]")
    except (TypeError, AttributeError, KeyError, ValueError) as e:
        errors.append(f"invalid view ({type(e).__name__}) [json-pointer:/view]")
    return errors
