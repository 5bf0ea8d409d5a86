"""Production approvals end to end: signed slash commands and block_actions / view
submissions → real Bolt → the deploy backend and its `ApprovalDesk` → the sandbox
cluster and registry; what Slack received is asserted through `LocalSlack`.

Covers: the request message (who, service, env, tag, digest, current → new, compare
link, expiry, Approve/Reject); the requester's own approval refused; an approver's
approval → exactly one rollout on the SAME message; two approvers at the same instant
plus one click delivered twice → one rollout; expiry → can't approve, message expired
without buttons; Reject → modal → reason recorded (and in `/deploy history`); a
restart between request and approval; a tag re-pushed to another digest → void; a
member of the approvers' user group approves, an outsider can't; two approvals
required; `/deploy cancel ID`; a click on one request's message carrying another
request's id is refused and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.env import AMD64, APPROVER, OUTSIDER, REQUESTER, SERVICES
from sandbox.registry.images import build_image
from sandbox.slack.store import StoredMessage
from tests.bot.approvals.harness import DAVE, ApprovalStack, approval_id, approval_stack
from tests.bot.deploys.harness import buttons

API = SERVICES[0]
TAG = API.good[2]
DEPLOY = f"api {TAG} to prod"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[ApprovalStack]:
    async with approval_stack(tmp_path / "env") as running:
        yield running


def _records(stack: ApprovalStack, deploy_id: str) -> list[dict[str, Any]]:
    found = stack.deckhand.deploy_records()
    return [o for o in found if o.get("data", {}).get("id") == deploy_id]


async def _rolled_out(stack: ApprovalStack, message: StoredMessage) -> str:
    text = await stack.deckhand.wait_final(message)
    assert "Succeeded" in text, text
    assert TAG in stack.prod_image()
    return text


async def test_request_message_then_self_approval_refused(stack: ApprovalStack) -> None:
    before = stack.prod_image()
    message = await stack.request(DEPLOY)
    text = stack.text(message)
    assert f"<@{REQUESTER}>" in text
    assert "`api`" in text
    assert f"`{TAG}`" in text
    assert "`prod`" in text
    assert "sha256:" in text
    assert f"{API.current}`" in text
    assert "→" in text
    assert f"/compare/{API.current}..." in text
    assert "expires" in text
    assert [b["text"]["text"] for b in buttons(message)] == ["Approve", "Reject"]

    await stack.click(message, "deckhand:approve", user=REQUESTER)
    said = await stack.deckhand.wait_ephemeral(REQUESTER)
    assert "someone else has to approve" in said
    assert stack.prod_image() == before
    assert buttons(message)  # still open


async def test_an_approval_starts_exactly_one_rollout_on_the_same_message(
    stack: ApprovalStack,
) -> None:
    message = await stack.request(DEPLOY)
    deploy_id = approval_id(message)
    await stack.click(message, "deckhand:approve", user=APPROVER)
    text = await _rolled_out(stack, message)
    assert f"<@{APPROVER}>" in text  # who approved, on the rollout's message
    assert len(stack.deckhand.deploy_messages()) == 1
    assert len(_records(stack, deploy_id)) == 1
    assert not buttons(message)


async def test_concurrent_approvals_and_a_duplicate_click_start_one_rollout(
    stack: ApprovalStack,
) -> None:
    message = await stack.request(DEPLOY)
    deploy_id = approval_id(message)
    await asyncio.gather(
        stack.click(message, "deckhand:approve", user=APPROVER),
        stack.click(message, "deckhand:approve", user=APPROVER),  # delivered twice
        stack.click(message, "deckhand:approve", user=DAVE),  # same instant
    )
    await _rolled_out(stack, message)
    assert len(_records(stack, deploy_id)) == 1
    refused = [e.text for e in stack.slack.ephemerals()]
    assert len(refused) == 2, refused
    assert all("already" in t for t in refused), refused


async def test_expired_request_cannot_be_approved(stack: ApprovalStack) -> None:
    before = stack.prod_image()
    message = await stack.request(DEPLOY)
    stack.clock.advance(31 * 60)
    await stack.click(message, "deckhand:approve", user=APPROVER)
    said = await stack.deckhand.wait_ephemeral(APPROVER)
    assert "expired" in said
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "Expired" in stack.text(message)
    assert stack.prod_image() == before


async def test_reject_asks_for_a_reason_and_records_it(stack: ApprovalStack) -> None:
    message = await stack.request(DEPLOY)
    deploy_id = approval_id(message)
    await stack.click(message, "deckhand:reject", user=APPROVER)
    await stack.deckhand.until(lambda: bool(stack.slack.workspace.views), within_s=10)
    (view,) = stack.slack.workspace.views
    assert view["callback_id"] == "deckhand:reject"
    await stack.submit("deckhand:reject", user=APPROVER, view=view, reason="release freeze")
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    text = stack.text(message)
    assert "Rejected" in text
    assert f"<@{APPROVER}>" in text
    assert "release freeze" in text

    await stack.deckhand.command("history api prod")
    history = await stack.deckhand.wait_ephemeral(REQUESTER)
    assert deploy_id in history
    assert "rejected" in history
    assert "release freeze" in history
    assert "requested" in history


async def test_restart_between_request_and_approval(stack: ApprovalStack) -> None:
    message = await stack.request(DEPLOY)
    await stack.restart()
    await stack.click(message, "deckhand:approve", user=APPROVER)
    await _rolled_out(stack, message)


async def test_expiry_keeps_running_across_a_restart(stack: ApprovalStack) -> None:
    message = await stack.request(DEPLOY)
    await stack.restart()
    stack.clock.advance(31 * 60)
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "Expired" in stack.text(message)


async def test_tag_repushed_to_another_digest_voids_the_approval(stack: ApprovalStack) -> None:
    before = stack.prod_image()
    message = await stack.request(DEPLOY)
    other = build_image(platforms=[AMD64], labels={}, salt="re-pushed")
    stack.env.registry.seed("admin/honeydue-api", TAG, other)
    await stack.click(message, "deckhand:approve", user=APPROVER)
    said = await stack.deckhand.wait_ephemeral(APPROVER)
    assert "void" in said
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "void" in stack.text(message)
    assert stack.prod_image() == before


async def test_group_member_approves_and_an_outsider_cannot(stack: ApprovalStack) -> None:
    message = await stack.request(DEPLOY)
    await stack.click(message, "deckhand:approve", user=OUTSIDER)
    said = await stack.deckhand.wait_ephemeral(OUTSIDER)
    assert "can't approve" in said
    assert buttons(message)
    await stack.click(message, "deckhand:approve", user=DAVE)
    await _rolled_out(stack, message)


async def test_cancel_by_the_requester_withdraws_the_request(stack: ApprovalStack) -> None:
    before = stack.prod_image()
    message = await stack.request(DEPLOY)
    await stack.deckhand.command(f"cancel {approval_id(message)}")
    said = await stack.deckhand.wait_ephemeral(REQUESTER)
    assert "withdrawn" in said
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "Cancelled" in stack.text(message)
    assert stack.prod_image() == before


async def test_two_approvals_required(tmp_path: Path) -> None:
    async with approval_stack(tmp_path / "env", required=2) as stack:
        message = await stack.request(DEPLOY)
        await stack.click(message, "deckhand:approve", user=APPROVER)
        await stack.deckhand.until(lambda: "1 of 2" in stack.text(message), within_s=10)
        assert buttons(message)
        assert TAG not in stack.prod_image()
        await stack.click(message, "deckhand:approve", user=DAVE)
        await _rolled_out(stack, message)


async def test_unanswered_request_expires_by_itself(stack: ApprovalStack) -> None:
    message = await stack.request(DEPLOY)
    stack.clock.advance(31 * 60)
    await stack.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "Expired" in stack.text(message)


ALWAYS_FROZEN = [
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "00:00"}
]


async def test_freeze_window_needs_a_forced_approval_with_reason(tmp_path: Path) -> None:
    async with approval_stack(tmp_path / "env", windows=ALWAYS_FROZEN) as stack:
        message = await stack.request(DEPLOY)
        assert "deploy freeze" in stack.text(message)
        labels = [b["text"]["text"] for b in buttons(message)]
        assert labels == ["Force (freeze window)", "Reject"]
        await stack.click(message, "deckhand:approve", user=APPROVER)  # a plain approval
        said = await stack.deckhand.wait_ephemeral(APPROVER)
        assert "freeze" in said
        await stack.click(message, "deckhand:force", user=APPROVER)
        await stack.deckhand.until(lambda: bool(stack.slack.workspace.views), within_s=10)
        (view,) = stack.slack.workspace.views
        await stack.submit("deckhand:force", user=APPROVER, view=view, reason="hotfix INC-42")
        text = await _rolled_out(stack, message)
        assert "hotfix INC-42" in text


async def test_a_click_naming_another_request_is_refused(stack: ApprovalStack) -> None:
    before = stack.prod_image()
    first = await stack.request(DEPLOY)
    second = await stack.request(f"admin {SERVICES[2].good[2]} to prod")
    other_id = approval_id(second)
    await stack.click(first, "deckhand:approve", user=APPROVER, value=other_id)
    said = await stack.deckhand.wait_ephemeral(APPROVER)
    assert "doesn't belong" in said, said
    assert other_id in said, said
    assert stack.prod_image() == before
    assert stack.deckhand.image_of("admin", namespace="honeydue").endswith(SERVICES[2].current)
    assert [b["text"]["text"] for b in buttons(first)] == ["Approve", "Reject"]
    assert [b["text"]["text"] for b in buttons(second)] == ["Approve", "Reject"]
    assert not _records(stack, other_id)
    # The request's own button still works.
    await stack.click(second, "deckhand:approve", user=APPROVER)
    text = await stack.deckhand.wait_final(second)
    assert "Succeeded" in text, text
