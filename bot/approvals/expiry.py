"""Expire unanswered approval requests: the leader's periodic task.

    supervisor.spawn(keep_expiring(desk, interval_s=15, is_leader=elector_is_leader),
                     name="approval-expiry")

Every `interval_s` (wall seconds), while `is_leader()` says this replica leads, every
PENDING request past its `expires_at` becomes EXPIRED and its message says so, without
buttons (`ApprovalDesk.expire_due`). Expiry times are stored with the requests, so it
keeps running across restarts and replica hand-overs; a click on an expired request
expires it at once too, so the interval only bounds how long an unclicked message
looks open. With one replica `is_leader` is always true (`bot.deploys.runtime`).
A cluster failure is logged and retried on the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from bot.kube.errors import KubeError

log = logging.getLogger(__name__)

EXPIRY_INTERVAL_S = 15.0
"""How often the leader looks for expired requests (wall seconds)."""


class Expirer(Protocol):
    async def expire_due(self) -> int: ...


async def expire_round(desk: Expirer, *, timeout_s: float) -> int:
    """One round within `timeout_s`; returns how many expired (0 on a cluster failure)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await desk.expire_due()
    except KubeError as e:
        log.warning("approval expiry: cluster unavailable (%s); retrying later", e.sentence())
    except TimeoutError:
        log.warning("approval expiry: round took longer than %.0fs; retrying later", timeout_s)
    return 0


async def keep_expiring(
    desk: Expirer,
    *,
    interval_s: float = EXPIRY_INTERVAL_S,
    is_leader: Callable[[], bool],
    round_timeout_s: float = 60.0,
) -> None:
    """Run `expire_round` every `interval_s` while leading, until cancelled."""
    while True:
        if is_leader():
            expired = await expire_round(desk, timeout_s=round_timeout_s)
            if expired:
                log.info("approval expiry: %d request(s) expired", expired)
        await asyncio.sleep(interval_s)
