"""Two Deckhand replicas (two alert services, each under its own `LeaderElector`, one
sandbox cluster, one LocalSlack): a failing pull is alerted once, by the leader (still
once when a later incident, the witness, has been alerted). The
leader is killed (its tasks cancelled, the Lease not released): the other replica takes
over, not before the killed leader's lease ran out (the Lease's own timestamps), does
not repeat the open alert, alerts the next incident, and resolves the first one on its
original message."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from bot.clock import parse_time
from bot.kube.kinds import LEASES
from bot.leader import LEASE_NAME, LeaderElector
from bot.tasks import background
from sandbox.env import ALERT_CHANNEL, SERVICES
from tests.bot.alerts.harness import (
    GRACE_S,
    AlertWorld,
    alert_world,
    past_the_grace_period,
    text_of,
    wait_until,
)

__all__ = ["alert_world"]

LEASE_S = 3.0
RETRY_S = 0.3


async def kill(name: str) -> None:
    """A replica dying: its task is cancelled from outside; it releases nothing."""
    for task in asyncio.all_tasks():
        if task.get_name() == name:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def alerted(world: AlertWorld, workload: str) -> int:
    """How many alert messages name honeydue/`workload`."""
    return sum(f"honeydue/{workload}" in text_of(a) for a in world.alerts())


async def test_two_replicas_one_alert_and_take_over(alert_world: AlertWorld) -> None:
    world = alert_world
    electors = {
        name: LeaderElector(
            world.kube,
            world.config.deckhand.namespace,
            name,
            lease_duration_s=LEASE_S,
            renew_deadline_s=2.0,
            retry_period_s=RETRY_S,
            release_on_exit=False,  # a killed replica doesn't get to release
        )
        for name in ("deckhand-0", "deckhand-1")
    }
    replicas = {
        f"replica-{name}": elector.run({"alerts": world.service().run})
        for name, elector in electors.items()
    }
    async with background(replicas):
        await wait_until(
            lambda: any(e.is_leader for e in electors.values()), within_s=30, what="a leader"
        )
        await world.set_image("honeydue", "api", world.image("api", "deadbee"))
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 15, what="the alert")
        # A later incident alerted proves the replicas judged the first one again past
        # its grace: still one message for it, and one for the witness.
        await past_the_grace_period(world)
        assert [alerted(world, w) for w in ("api", "witness")] == [1, 1]
        first = world.alerts()[0]

        leader = next(n for n, e in electors.items() if e.is_leader)
        follower = next(e for n, e in electors.items() if n != leader)
        await kill(f"replica-{leader}")
        held = (await world.kube.get(LEASES, LEASE_NAME, namespace="deckhand"))["spec"]
        # A deadline, not a measurement: the order is checked on the Lease's timestamps.
        await wait_until(lambda: follower.is_leader, within_s=LEASE_S + 30, what="the take-over")
        # In the Lease's own record: taken over by the follower, never before the killed
        # leader's lease ran out (its last renewal + the lease duration).
        taken = (await world.kube.get(LEASES, LEASE_NAME, namespace="deckhand"))["spec"]
        assert taken["holderIdentity"] == follower.identity
        renewed, acquired = parse_time(held["renewTime"]), parse_time(taken["acquireTime"])
        assert renewed is not None
        assert acquired is not None
        assert acquired >= renewed + timedelta(seconds=LEASE_S)

        await world.set_image("honeydue", "admin", world.image("admin", "deadbee"))
        await wait_until(
            lambda: alerted(world, "admin") == 1, within_s=GRACE_S + 15, what="the follower's alert"
        )

        await world.set_image("honeydue", "api", world.image("api", SERVICES[0].good[1]))
        await wait_until(
            lambda: bool(world.slack.message(ALERT_CHANNEL, first.ts).replies),
            within_s=45,
            what="the first incident resolved by the new leader",
        )
    assert [alerted(world, w) for w in ("api", "witness", "admin")] == [1, 1, 1]
    assert len(world.alerts()) == 3
