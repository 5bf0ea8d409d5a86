"""`/deploy` commands other than a plain deploy, end to end through real Bolt.

Covers: help and typo suggestions (ephemeral, nothing posted); unknown service/env
with "did you mean"; authorization (outsider, wrong channel: refused ephemerally, the
cluster untouched; a deployer through the @devs user group allowed, the group's
members looked up once); a protected env (prod) asks for an approval (Approve and
Reject buttons, nothing deployed), the checked plan recorded as the approval request;
`status`, `history`, `tags` answers; `lock` refusing deploys until `unlock`; a final
report Slack refused delivered later from the deploy record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import CHANNEL, OUTSIDER, REQUESTER, SERVICES
from tests.bot.deploys.harness import (
    CAROL,
    OTHER_CHANNEL,
    DeployStack,
    block_text,
    buttons,
    deploy_stack,
)

API = SERVICES[0]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", "Deckhand commands"),
        ("", "Deckhand commands"),
        ("help rollback", "/deploy rollback SERVICE"),
        ("deplyo api 237c6b8", "deploy"),
        ("statsu", "status"),
        ("apii 237c6b8", "Did you mean `api`"),
        ("api 237c6b8 to prdo", "prod"),
    ],
)
async def test_help_and_typos_answer_ephemerally(
    stack: DeployStack, text: str, expected: str
) -> None:
    assert await stack.command(text) == 200
    answer = await stack.wait_ephemeral(REQUESTER)
    assert expected.lower() in answer.lower(), answer
    assert stack.deploy_messages() == []


async def test_an_outsider_is_refused_and_nothing_happens(stack: DeployStack) -> None:
    before = stack.image_of("api")
    await stack.command(f"api {API.good[1]}", user=OUTSIDER)
    answer = await stack.wait_ephemeral(OUTSIDER)
    assert "can't deploy" in answer
    assert stack.deploy_messages() == []
    assert stack.image_of("api") == before


async def test_a_channel_not_allowed_is_refused(stack: DeployStack) -> None:
    await stack.command(f"api {API.good[1]}", channel=OTHER_CHANNEL)
    answer = await stack.wait_ephemeral(REQUESTER)
    assert CHANNEL in answer
    assert stack.slack.messages(OTHER_CHANNEL) == []


async def test_a_user_group_member_may_deploy_and_the_group_is_cached(
    stack: DeployStack,
) -> None:
    await stack.command(f"api {API.good[1]}", user=CAROL)
    text = await stack.wait_final(await stack.wait_message())
    assert "Succeeded" in text, text
    await stack.command(f"api {API.good[2]}", user=CAROL)
    text = await stack.wait_final(await stack.wait_message(count=2))
    assert "Succeeded" in text, text
    assert len(stack.slack.calls_to("usergroups.users.list")) == 1


async def test_prod_needs_an_approval_and_nothing_is_deployed(stack: DeployStack) -> None:
    before = stack.image_of("api", "honeydue")
    await stack.command(f"api {API.good[1]} to prod")
    message = await stack.wait_message()
    await stack.until(lambda: bool(buttons(message)), within_s=20)
    assert "Approval needed" in block_text(message.blocks)
    assert [b["action_id"] for b in buttons(message)] == ["deckhand:approve", "deckhand:reject"]
    assert stack.image_of("api", "honeydue") == before


async def test_a_checked_prod_plan_goes_to_the_approval_desk(stack: DeployStack) -> None:
    before = stack.image_of("api", "honeydue")
    await stack.command(f"api {API.good[1]} to prod")
    message = await stack.wait_message()
    await stack.until(lambda: bool(buttons(message)), within_s=20)
    (plan,) = await stack.deckhand.desk.store.pending()
    assert plan.env == "prod"
    assert plan.required == 1
    assert (plan.slack_channel, plan.slack_ts) == (CHANNEL, message.ts)
    assert stack.image_of("api", "honeydue") == before


async def test_status_history_and_tags(stack: DeployStack) -> None:
    await stack.command("status api")
    status = await stack.wait_ephemeral(REQUESTER)
    assert API.current in status
    assert "staging" in status
    assert "prod" in status

    await stack.command(f"api {API.good[3]}")
    await stack.wait_final(await stack.wait_message())
    await stack.command("history api")
    history = await stack.wait_ephemeral(REQUESTER, count=2)
    assert API.good[3] in history
    assert "succeeded" in history

    await stack.command("tags api")
    tags = await stack.wait_ephemeral(REQUESTER, count=3)
    for tag in API.good:
        assert tag in tags


async def test_a_lock_refuses_deploys_until_unlocked(stack: DeployStack) -> None:
    await stack.command("lock api staging db migration")
    locked = await stack.wait_message()
    assert "db migration" in locked.text

    before = stack.image_of("api")
    await stack.command(f"api {API.good[1]}", user=CAROL)
    text = await stack.wait_final(await stack.wait_message(count=2))
    assert "locked" in text, text
    assert stack.image_of("api") == before

    await stack.command("unlock api staging")
    await stack.wait_message(count=3)
    await stack.command(f"api {API.good[1]}", user=CAROL)
    text = await stack.wait_final(await stack.wait_message(count=4))
    assert "Succeeded" in text, text


async def test_a_final_report_slack_refused_is_delivered_later(stack: DeployStack) -> None:
    # Every chat.update fails (5xx) for a while, retries included: the final state is not
    # delivered, the record is marked unreported again, and the periodic retry (every
    # 0.5 s here) delivers it from the record once Slack answers again.
    stack.slack.fail_next("chat.update", status=500, retry_after=None, times=12)
    await stack.command(f"api {API.good[1]}")
    message = await stack.wait_message()
    text = await stack.wait_final(message, within_s=60)
    assert "Succeeded" in text, text
    assert API.good[1] in stack.image_of("api")
    failed = [c for c in stack.slack.calls_to("chat.update")]
    assert len(failed) > 12  # the final state came after the failures were used up


async def test_rollback_command_goes_back_to_the_previous_image(stack: DeployStack) -> None:
    before = stack.image_of("api")
    await stack.command(f"api {API.good[1]}")
    assert "Succeeded" in await stack.wait_final(await stack.wait_message())
    assert stack.image_of("api") != before

    await stack.command("rollback api staging", user=OUTSIDER)
    assert "can't roll back" in await stack.wait_ephemeral(OUTSIDER)

    await stack.command("rollback api staging -- bad release")
    text = await stack.wait_final(await stack.wait_message(count=2))
    assert "Rollback api to the previous revision" in text
    assert "Succeeded" in text, text
    assert stack.image_of("api") == before
