"""`reason_errors` (pure): which reason-modal submissions stay open, naming the field."""

from __future__ import annotations

import json

import pytest

from bot.approvals.gate import reason_errors
from bot.approvals.render import FORCE_ACTION, REASON_BLOCK, REJECT_ACTION
from commands import texts

OURS = json.dumps({"id": "d-1a2b3c", "channel_id": "C0DEPLOYS"})


@pytest.mark.parametrize(
    ("callback_id", "metadata", "reason", "errors"),
    [
        (REJECT_ACTION, OURS, "release freeze", {}),
        (REJECT_ACTION, OURS, "   ", {REASON_BLOCK: texts.approval_reason_required()}),
        (REJECT_ACTION, OURS, "\n\t ", {REASON_BLOCK: texts.approval_reason_required()}),
        (FORCE_ACTION, OURS, "", {REASON_BLOCK: texts.approval_reason_required()}),
        (FORCE_ACTION, OURS, "site down", {}),
        (REJECT_ACTION, "not json", "   ", {}),  # not our modal: nothing to say
        ("deckhand:other", OURS, "   ", {}),
    ],
)
def test_reason_errors(
    callback_id: str, metadata: str, reason: str, errors: dict[str, str]
) -> None:
    assert reason_errors(callback_id, metadata, {REASON_BLOCK: reason}) == errors
