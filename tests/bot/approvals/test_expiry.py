"""`bot.approvals.expiry`: rounds run only while leading, a cluster failure or a slow
round is logged and retried, and the loop stops when cancelled (no leaked task)."""

from __future__ import annotations

import asyncio

import pytest

from bot.approvals.expiry import expire_round, keep_expiring
from bot.kube.errors import Request, Unreachable


class FakeDesk:
    def __init__(self, *, fail: bool = False, slow: bool = False) -> None:
        self.rounds = 0
        self.fail = fail
        self.slow = slow

    async def expire_due(self) -> int:
        self.rounds += 1
        if self.fail:
            raise Unreachable(Request("list", "configmaps", "deckhand"), url="x", cause="down")
        if self.slow:
            await asyncio.sleep(10)
        return 1


async def test_only_the_leader_expires() -> None:
    desk = FakeDesk()
    asked = 0

    def is_leader() -> bool:
        nonlocal asked
        asked += 1
        return asked > 3  # a follower for three rounds, then the leader

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await keep_expiring(desk, interval_s=0.01, is_leader=is_leader)
    assert asked > 4
    assert desk.rounds == asked - 3


async def test_failures_are_answers() -> None:
    assert await expire_round(FakeDesk(fail=True), timeout_s=1) == 0
    assert await expire_round(FakeDesk(slow=True), timeout_s=0.05) == 0
    assert await expire_round(FakeDesk(), timeout_s=1) == 1
