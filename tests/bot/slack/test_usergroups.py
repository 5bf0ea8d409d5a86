"""`UserGroups` against the local Slack Web API: membership, the TTL cache, shared
concurrent lookups, and deny-by-default (stale answer kept) when Slack fails."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.usergroups import UserGroups
from sandbox.slack import LocalSlack


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_member_of_only_the_groups_asked(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    local_slack.add_usergroup("S0OTHERS", "others", ["U0BOB"])
    groups = UserGroups(slack_web_client)
    assert await groups.member_of("U0ALICE", among=("S0DEPLOYERS", "S0OTHERS")) == {"S0DEPLOYERS"}
    assert await groups.member_of("U0BOB", among=("S0DEPLOYERS",)) == frozenset()


async def test_members_are_cached_until_the_ttl_passes(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    clock = FakeClock()
    groups = UserGroups(slack_web_client, ttl_s=60, clock=clock)
    for _ in range(3):
        await groups.member_of("U0ALICE", among=("S0DEPLOYERS",))
    assert len(local_slack.calls_to("usergroups.users.list")) == 1
    local_slack.add_usergroup("S0DEPLOYERS", "deployers", ["U0ALICE", "U0BOB"])
    assert await groups.member_of("U0BOB", among=("S0DEPLOYERS",)) == frozenset()  # cached
    clock.now = 61
    assert await groups.member_of("U0BOB", among=("S0DEPLOYERS",)) == {"S0DEPLOYERS"}
    assert len(local_slack.calls_to("usergroups.users.list")) == 2


async def test_concurrent_lookups_share_one_call(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    groups = UserGroups(slack_web_client)
    results = await asyncio.gather(*(groups.members("S0DEPLOYERS") for _ in range(5)))
    assert all(r == {"U0ALICE"} for r in results)
    assert len(local_slack.calls_to("usergroups.users.list")) == 1


async def test_an_unknown_group_denies(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    groups = UserGroups(slack_web_client)
    assert await groups.member_of("U0ALICE", among=("S0NOSUCH",)) == frozenset()


async def test_slack_failing_keeps_the_stale_answer_or_denies(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    clock = FakeClock()
    groups = UserGroups(slack_web_client, ttl_s=10, clock=clock)
    local_slack.fail_next(
        "usergroups.users.list", status=500, retry_after=None, times=4
    )  # the call and its 3 retries
    assert await groups.member_of("U0ALICE", among=("S0DEPLOYERS",)) == frozenset()
    groups.forget()
    assert await groups.member_of("U0ALICE", among=("S0DEPLOYERS",)) == {"S0DEPLOYERS"}
    clock.now = 11
    local_slack.fail_next(
        "usergroups.users.list", status=500, retry_after=None, times=4
    )  # the call and its 3 retries
    assert await groups.member_of("U0ALICE", among=("S0DEPLOYERS",)) == {"S0DEPLOYERS"}
