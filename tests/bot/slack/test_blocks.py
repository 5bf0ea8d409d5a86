"""Block Kit limits (`bot.slack.blocks`, pure): truncation with a note, the 50-block cap
(100 in a view), the 12,000 characters of text a message's blocks carry in all."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_MESSAGE_TEXT,
    MAX_VIEW_BLOCKS,
    TRUNCATED,
    fit_block,
    fit_blocks,
    fit_text,
    text_length,
    truncate,
)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("a" * 20, 15, "aa" + TRUNCATED),
        ("abcdef", 3, "abc"),  # no room for the note: hard cut
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected
    assert len(truncate(text, limit)) <= limit


def button(label: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "deckhand:approve",
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


@pytest.mark.parametrize(
    ("block", "path", "limit"),
    [
        ({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 4000}}, ("text",), 3000),
        ({"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}, ("text",), 150),
        (
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2500}]},
            ("fields", 0),
            2000,
        ),
        ({"type": "actions", "elements": [button("b" * 100)]}, ("elements", 0, "text"), 75),
        (
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "t"},
                "accessory": button("b" * 80),
            },
            ("accessory", "text"),
            75,
        ),
        (
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3500}]},
            ("elements", 0),
            3000,
        ),
    ],
)
def test_fit_block_truncates_each_kind_of_text(
    block: dict[str, Any], path: tuple[str | int, ...], limit: int
) -> None:
    fitted: Any = fit_block(block)
    for key in path:
        fitted = fitted[key]
    assert len(fitted["text"]) == limit
    original: Any = block
    for key in path:
        original = original[key]
    assert len(original["text"]) > limit  # the input is not mutated


def test_button_value_is_capped() -> None:
    fitted = fit_block({"type": "actions", "elements": [button("ok", "v" * 2500)]})
    assert len(fitted["elements"][0]["value"]) == 2000


@pytest.mark.parametrize(("count", "kept"), [(0, 0), (50, 50), (51, 50), (120, 50)])
def test_fit_blocks_caps_the_count_with_a_note(count: int, kept: int) -> None:
    blocks = [{"type": "divider"} for _ in range(count)]
    fitted = fit_blocks(blocks)
    assert len(fitted) == kept
    if count > MAX_BLOCKS:
        note = fitted[-1]["elements"][0]["text"]
        assert f"{count - MAX_BLOCKS + 1} more blocks not shown" in note


def test_a_view_keeps_up_to_a_hundred_blocks() -> None:
    blocks = [{"type": "divider"} for _ in range(120)]
    fitted = fit_blocks(blocks, max_blocks=MAX_VIEW_BLOCKS)
    assert len(fitted) == MAX_VIEW_BLOCKS
    assert "21 more blocks not shown" in fitted[-1]["elements"][0]["text"]


@pytest.mark.parametrize(
    ("sizes", "kept_whole", "cut", "dropped"),
    [
        ([3000] * 4, 3, True, False),  # 12,000 in all leaves no room for the note: 4th cut
        ([2000] * 5, 5, False, False),
        ([3000] * 60, 3, True, True),
        ([100] * 40 + [3000] * 5, 42, True, True),
        ([2900] * 4 + [10], 4, False, False),
    ],
)
def test_the_message_text_budget_cuts_then_drops(
    sizes: list[int], kept_whole: int, cut: bool, dropped: bool
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * n}} for n in sizes]
    fitted = fit_blocks(blocks)
    assert text_length(fitted) <= MAX_MESSAGE_TEXT
    whole = [
        b for b in fitted if b["type"] == "section" and not b["text"]["text"].endswith(TRUNCATED)
    ]
    assert len(whole) >= kept_whole
    assert (
        any(b["text"]["text"].endswith(TRUNCATED) for b in fitted if b["type"] == "section") is cut
    )
    assert (len([b for b in fitted if b["type"] == "section"]) < len(blocks)) is dropped
    if dropped:  # pinned by the case, not by what fit_blocks did
        assert "more blocks not shown" in fitted[-1]["elements"][0]["text"]


def test_fit_text() -> None:
    assert fit_text("hi") == "hi"
    assert len(fit_text("x" * 50_000)) == 4000
