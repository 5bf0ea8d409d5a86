"""Day one outside the sandbox's comfort: every answer reaches the user.

Against the strict LocalSlack (the bot is a member only where invited):
- `/deploy help` from a channel the bot is not in, and from a DM, is answered through
  the command's response_url (asserted on what that endpoint received), never by a
  chat.postEphemeral Slack would refuse;
- a deploy asked for from there is refused (and said so through the response_url);
  from a deploy channel the bot was removed from, the requester is told to
  `/invite @deckhand` and the Deployment is unchanged (no patch, no record);
- a rollback's thread reply names the image it went back to;
- a Reject submitted with a blank reason gets `response_action: errors` naming the
  reason field, the modal stays open and the request stays pending; a real reason
  then rejects it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import APPROVER, CHANNEL, REQUESTER, SERVICES
from tests.bot.approvals.harness import ApprovalStack, approval_id, approval_stack
from tests.bot.deploys.harness import OTHER_CHANNEL, DeployStack, buttons, deploy_stack

API = SERVICES[0]
DM = "D0ALICEDM1"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


@pytest.mark.parametrize("where", [OTHER_CHANNEL, DM])
async def test_help_arrives_through_the_response_url_where_the_bot_is_not(
    stack: DeployStack, where: str
) -> None:
    assert await stack.command("help", channel=where) == 200
    ((_, payload),) = await stack.slack.wait_for_responses(count=1, within_s=10)
    assert payload["response_type"] == "ephemeral"
    assert "/deploy" in payload["text"]
    (shown,) = stack.slack.ephemerals(user_id=REQUESTER)
    assert shown.channel == where
    assert stack.slack.calls_to("chat.postEphemeral") == []


@pytest.mark.parametrize("where", [OTHER_CHANNEL, DM])
async def test_a_deploy_from_a_conversation_without_the_bot_is_refused_there(
    stack: DeployStack, where: str
) -> None:
    before = stack.image_of("api")
    assert await stack.command(f"api {API.good[2]}", channel=where) == 200
    ((_, payload),) = await stack.slack.wait_for_responses(count=1, within_s=10)
    assert f"<#{CHANNEL}>" in payload["text"]  # where to deploy from instead
    assert stack.image_of("api") == before
    assert stack.slack.calls_to("chat.postMessage") == []


async def test_a_deploy_channel_without_the_bot_gets_the_invite_fix_and_nothing_changes(
    stack: DeployStack,
) -> None:
    stack.slack.remove_bot(CHANNEL)
    before = stack.image_of("api")
    assert await stack.command(f"api {API.good[2]}") == 200
    said = await stack.wait_ephemeral(REQUESTER)
    assert "/invite @deckhand" in said
    assert f"<#{CHANNEL}>" in said
    assert "Nothing was changed" in said
    assert stack.image_of("api") == before
    assert stack.deploy_records() == []
    assert stack.slack.messages(CHANNEL) == []

    assert await stack.command("lock api staging") == 200
    said = await stack.wait_ephemeral(REQUESTER, count=2)
    assert "/invite @deckhand" in said


async def test_the_rollback_reply_names_the_image_it_went_back_to(stack: DeployStack) -> None:
    before = stack.image_of("api")
    await stack.command(f"api {API.good[2]}")
    first = await stack.wait_message()
    assert "Succeeded" in await stack.wait_final(first)
    await stack.command("rollback api")
    message = await stack.wait_message(count=2)
    assert "Succeeded" in await stack.wait_final(message)
    await stack.until(lambda: bool(message.replies), within_s=10)
    reply = message.replies[0].text
    assert "to the previous revision" not in reply
    repository, _, tag = before.partition("@")[0].rpartition(":")
    assert tag in reply, reply
    assert repository in reply, reply


@pytest.fixture
async def approvals(tmp_path: Path) -> AsyncIterator[ApprovalStack]:
    async with approval_stack(tmp_path / "env") as running:
        yield running


async def test_a_blank_reject_reason_keeps_the_modal_open_and_the_request_pending(
    approvals: ApprovalStack,
) -> None:
    message = await approvals.request(f"api {API.good[2]} to prod")
    request_id = approval_id(message)
    await approvals.click(message, "deckhand:reject", user=APPROVER)
    await approvals.deckhand.until(lambda: bool(approvals.slack.workspace.views), within_s=10)
    (view,) = approvals.slack.workspace.views

    status, body = await approvals.deckhand.sender.view_submission(
        user_id=APPROVER,
        callback_id="deckhand:reject",
        values={"reason": {"reason": {"type": "plain_text_input", "value": "   "}}},
        private_metadata=str(view["private_metadata"]),
    )
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"reason"}
    assert buttons(message)  # still pending: Approve / Reject
    assert "Rejected" not in approvals.text(message)

    await approvals.submit("deckhand:reject", user=APPROVER, view=view, reason="not today")
    await approvals.deckhand.until(lambda: not buttons(message), within_s=10)
    assert "Rejected" in approvals.text(message)
    assert "not today" in approvals.text(message)
    assert request_id in approvals.text(message)
