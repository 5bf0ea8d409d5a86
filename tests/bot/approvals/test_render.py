"""`bot.approvals.render`: the request message per state (buttons only while pending;
Force instead of Approve in a freeze; the outcome line says who, when and why), the
reason modal (callback id, metadata, input limits), the history trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvals.render import (
    modal_target,
    reason_modal,
    render_request,
    trail_lines,
)
from commands.approvals import ApprovalRequest, ApprovalState, EventKind, ImageChange, Vote

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def request(**changes: object) -> ApprovalRequest:
    made = ApprovalRequest(
        id="d-7f3a2c",
        env="prod",
        tag="237c6b8",
        services=("api",),
        changes=(
            ImageChange(
                "api",
                "sha256:abc",
                "r/api:237c6b8@sha256:abc",
                "r/api:1111111@sha256:0",
                "https://g/a/h/compare/1111111...237c6b8",
            ),
        ),
        requested_by="U0ALICE",
        requested_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        required=2,
    ).with_event(EventKind.REQUESTED, "U0ALICE", T0)
    return replace(made, **changes)  # type: ignore[arg-type]


def _text(blocks: list[dict[str, object]]) -> str:
    return str(blocks)


def _actions(blocks: list[dict[str, object]]) -> list[str]:
    return [
        str(e["action_id"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]  # type: ignore[attr-defined]
    ]


def test_pending_message() -> None:
    blocks, text = render_request(request(votes=(Vote("U0BOB", T0),)))
    shown = _text(blocks)
    assert "Approval needed" in text
    assert "<@U0ALICE>" in shown
    assert "`r/api:1111111@sha256:0` → `r/api:237c6b8@sha256:abc`" in shown
    assert "<https://g/a/h/compare/1111111...237c6b8|compare>" in shown
    assert "1 of 2 approval(s) · approved by <@U0BOB>" in shown
    assert "expires 2026-11-26 10:30 UTC" in shown
    assert _actions(blocks) == ["deckhand:approve", "deckhand:reject"]


def test_frozen_message_offers_force() -> None:
    blocks, _ = render_request(request(frozen=True))
    assert "deploy freeze" in _text(blocks)
    assert _actions(blocks) == ["deckhand:force", "deckhand:reject"]


@pytest.mark.parametrize(
    ("state", "kind", "who", "note", "shown"),
    [
        (ApprovalState.REJECTED, EventKind.REJECTED, "U0BOB", "not now", "Rejected by <@U0BOB>"),
        (ApprovalState.EXPIRED, EventKind.EXPIRED, "", "", "Expired"),
        (ApprovalState.CANCELLED, EventKind.CANCELLED, "U0ALICE", "", "Cancelled by <@U0ALICE>"),
        (ApprovalState.VOID, EventKind.VOID, "", "moved", "Approval void"),
    ],
)
def test_decided_messages_have_no_buttons(
    state: ApprovalState, kind: EventKind, who: str, note: str, shown: str
) -> None:
    decided = request(state=state).with_event(kind, who, T0 + timedelta(minutes=5), note)
    blocks, text = render_request(decided)
    assert _actions(blocks) == []
    assert shown in _text(blocks)
    assert note in _text(blocks)
    assert state.value in text


def test_reason_modal() -> None:
    view = reason_modal(kind="reject", request_id="d-1", channel_id="C0DEPLOYS", max_length=300)
    assert view["callback_id"] == "deckhand:reject"
    assert modal_target(view["private_metadata"]) == "d-1"
    (element,) = [b["element"] for b in view["blocks"] if b["type"] == "input"]
    assert (element["min_length"], element["max_length"]) == (1, 300)
    assert len(view["title"]["text"]) <= 24  # Block Kit's limit for modal titles
    force = reason_modal(kind="force", request_id="d-1", channel_id="C0DEPLOYS", max_length=300)
    assert force["callback_id"] == "deckhand:force"
    assert len(force["title"]["text"]) <= 24
    assert modal_target("not json") is None
    assert modal_target('{"id": 3}') is None


def test_trail_lines() -> None:
    rejected = request(state=ApprovalState.REJECTED).with_event(
        EventKind.REJECTED, "U0BOB", T0, "not now"
    )
    header, line = trail_lines([rejected])
    assert header == "Approval requests:"
    assert "`d-7f3a2c`" in line
    assert "rejected <@U0BOB>" in line
    assert "(not now)" in line
    assert trail_lines([]) == []
