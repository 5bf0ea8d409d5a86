"""`/deploy` commands other than a plain deploy, end to end through real Bolt.

Covers: help and typo suggestions (ephemeral, nothing posted); unknown service/env
with "did you mean"; authorization (outsider, wrong channel: refused ephemerally, the
cluster untouched; a deployer through the @devs user group allowed, the group's
members looked up once); a protected env (prod) asks for an approval (Approve and
Reject buttons, nothing deployed), the checked plan recorded as the approval request;
`status`, `history`, `tags` answers; `lock` refusing deploys until `unlock`; a final
report Slack refused (past the live message's own retries) delivered later by the
leader's sweep from the deploy record.
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
    is_final,
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


def _record_data(stack: DeployStack) -> dict[str, str]:
    """The data of the one deploy record (the ConfigMap as the cluster stores it)."""
    (record,) = stack.deploy_records()
    return dict(record["data"])


async def test_a_final_report_slack_refused_is_delivered_later(stack: DeployStack) -> None:
    # Slack refuses every chat.update (HTTP 500, the client's retries included) until the
    # live message has given its final state up (FinalUpdateFailed) and the flow marked
    # the record unreported; only then does Slack answer again, so the final state can
    # only arrive through the leader's sweep (`DeployFlow.retry_unreported`), re-rendered
    # from the record.
    outage = 10_000  # more refusals than the deploy could ever use: ended by stop_failing
    stack.slack.fail_next("chat.update", status=500, retry_after=None, times=outage)
    changes = stack.env.cluster.store.subscribe()
    try:
        await stack.command(f"api {API.good[1]}")
        message = await stack.wait_message()

        def final_attempts() -> int:
            return sum(
                "Succeeded" in block_text(c.params.get("blocks") or [])
                for c in stack.slack.calls_to("chat.update")
            )

        # The live message's own delivery: one call, retried by the client, all refused.
        attempts_per_call = 1 + stack.settings.slack_max_retries
        await stack.until(lambda: final_attempts() >= attempts_per_call, within_s=60)
        # ... after which (not before: those attempts follow the engine's claim) the flow
        # marks the record unreported for a later retry.
        await stack.env.cluster.store.wait_until(
            lambda: _record_data(stack)["reported"] == "false", within_s=20
        )
        assert not is_final(message)  # nothing final reached Slack yet
        unused = stack.slack.stop_failing("chat.update")

        text = await stack.wait_final(message, within_s=20)
        await stack.env.cluster.store.wait_until(
            lambda: _record_data(stack)["reported"] == "true", within_s=20
        )
    finally:
        stack.env.cluster.store.unsubscribe(changes)
    assert "Succeeded" in text, text
    assert API.good[1] in stack.image_of("api")
    # Every chat.update Slack answered was refused but the one that delivered the state.
    updates = stack.slack.calls_to("chat.update")
    assert len(updates) == (outage - unused) + 1
    assert "Succeeded" in block_text(updates[-1].params["blocks"])
    # The record's own history once final: claimed (by the deploy, before its attempts),
    # given back when Slack refused, and claimed again (by the sweep) when it answered.
    reported: list[str] = []
    while not changes.empty():
        _, _, obj = changes.get_nowait()
        if obj["metadata"].get("labels", {}).get("deckhand.dev/record") != "deploy":
            continue
        data = obj.get("data") or {}
        if data.get("phase") == "succeeded" and reported[-1:] != [data["reported"]]:
            reported.append(data["reported"])
    assert reported[-3:] == ["true", "false", "true"], reported


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
