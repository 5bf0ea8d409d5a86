"""bot.leader against the sandbox apiserver: one of two replicas leads; leader tasks run
only while leading; a clean stop hands over at once; a killed leader (tasks cancelled,
lease not released) is replaced, not before its lease ran out (the Lease's own
timestamps), and without a release in between (the Lease's history); a leader that finds another
holder cancels its tasks; the Lease fields are what client-go writes; the expiry rule."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import parse_time
from bot.kube.client import KubeClient
from bot.kube.kinds import LEASES
from bot.kube.lease import live_holder
from bot.leader import LEASE_NAME, LeaderElector
from bot.tasks import background
from sandbox.cluster.server import SandboxCluster
from tests.fixtures.lease import held_s, holders, lease_spec, renewed

NS = "deckhand"
LEASE_S = 2.0
RETRY_S = 0.2


def elector(kube: KubeClient, identity: str, **overrides: object) -> LeaderElector:
    values: dict[str, object] = {
        "lease_duration_s": LEASE_S,
        "renew_deadline_s": 1.5,
        "retry_period_s": RETRY_S,
    }
    values.update(overrides)
    return LeaderElector(kube, NS, identity, **values)  # type: ignore[arg-type]


class Work:
    """A leader task that records when it runs and when it is cancelled."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0
        self.cancels = 0

    async def __call__(self) -> None:
        self.running = True
        self.starts += 1
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False
            self.cancels += 1


@contextlib.asynccontextmanager
async def campaigning(*pairs: tuple[LeaderElector, Work]) -> AsyncIterator[None]:
    tasks = {f"elector-{e.identity}": e.run({"work": w}) for e, w in pairs}
    async with background(tasks):
        yield


async def until(predicate: object, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("spec", "holder"),
    [
        ({}, None),
        ({"holderIdentity": "a"}, "a"),
        ({"holderIdentity": "a", "renewTime": "2026-01-01T00:00:00.000000Z"}, "a"),
        (
            {
                "holderIdentity": "a",
                "renewTime": "2026-01-01T00:00:00.000000Z",
                "leaseDurationSeconds": 15,
            },
            None,
        ),
        (
            {
                "holderIdentity": "a",
                "renewTime": "2026-01-01T11:59:50.000000Z",
                "leaseDurationSeconds": 15,
            },
            "a",
        ),
    ],
)
def test_live_holder(spec: dict[str, object], holder: str | None) -> None:
    assert live_holder(spec, now=datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == holder


def test_timings_must_nest() -> None:
    with pytest.raises(ValueError, match="renew deadline"):
        LeaderElector(None, NS, "a", lease_duration_s=2, renew_deadline_s=3)  # type: ignore[arg-type]


async def test_one_of_two_leads_and_only_the_leader_runs_its_tasks(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    a, b = elector(kube, "deckhand-a"), elector(kube, "deckhand-b")
    work_a, work_b = Work(), Work()
    async with campaigning((a, work_a), (b, work_b)):
        await until(lambda: a.is_leader or b.is_leader, 5)
        # Held past one lease duration by the Lease's own record (several renewals):
        # the other replica had every chance to take an expired Lease, and didn't.
        await kube_cluster.store.wait_until(
            lambda: held_s(lease_spec(kube_cluster)) > LEASE_S, within_s=20
        )
        assert a.is_leader != b.is_leader
        assert (work_a.running, work_b.running) == (a.is_leader, b.is_leader)
        lease = await kube.get(LEASES, LEASE_NAME, namespace=NS)
        leader = a if a.is_leader else b
        spec = lease["spec"]
        assert spec["holderIdentity"] == leader.identity
        assert spec["leaseDurationSeconds"] == 2
        assert spec["renewTime"] > spec["acquireTime"]


async def test_clean_stop_hands_over_at_once(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    a, b = elector(kube, "deckhand-a"), elector(kube, "deckhand-b")
    work_a, work_b = Work(), Work()
    async with campaigning((a, work_a)):
        await a.wait_until_leading(timeout_s=5)
        async with campaigning((b, work_b)):
            await renewed(kube_cluster, 3)  # b campaigned meanwhile: a live Lease stays a's
            assert not b.is_leader
            with holders(kube_cluster) as order:
                await campaigning_stop(a)  # a clean stop releases the Lease
                assert work_a.cancels == 1
                await until(lambda: b.is_leader, 20)
            # Released, not expired: the Lease went a -> nobody -> b, not a -> b.
            assert order[-2:] == ["", b.identity], order
            await until(lambda: work_b.running, 2)  # spawned once it leads


async def test_killed_leader_is_replaced_after_the_lease_duration(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    a = elector(kube, "deckhand-a", release_on_exit=False)
    b = elector(kube, "deckhand-b")
    work_a, work_b = Work(), Work()
    async with campaigning((a, work_a)):
        await until(lambda: a.is_leader, 5)
        async with campaigning((b, work_b)):
            await renewed(kube_cluster, 3)  # b campaigned meanwhile: a live Lease stays a's
            assert not b.is_leader
            # kill a: its tasks are cancelled, the Lease is left as it was
            with holders(kube_cluster) as order:
                await campaigning_stop(a)
                held = lease_spec(kube_cluster)
                await until(lambda: b.is_leader, 20)  # a deadline, not a measurement
            # Taken over from the dead holder (a -> b, nothing released), and only once its
            # lease ran out: on the Lease's own timestamps, b's acquisition comes no
            # earlier than a's last renewal plus the lease duration.
            assert order[-1] == b.identity, order
            assert "" not in order, order
            taken = lease_spec(kube_cluster)
            renewal, acquired = parse_time(held["renewTime"]), parse_time(taken["acquireTime"])
            assert renewal is not None
            assert acquired is not None
            assert acquired >= renewal + timedelta(seconds=LEASE_S)
            # Its leader tasks are spawned once it leads: they start a moment later.
            await until(lambda: work_b.running, 2)
    assert work_a.cancels == 1


async def campaigning_stop(elector: LeaderElector) -> None:
    """Stand-in for a dead process: cancel the elector's task from the outside."""
    for task in asyncio.all_tasks():
        if task.get_name() == f"elector-{elector.identity}":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_leader_that_finds_another_holder_stops_its_tasks(kube: KubeClient) -> None:
    a = elector(kube, "deckhand-a")
    work = Work()
    async with campaigning((a, work)):
        await until(lambda: work.running, 5)

        def steal(lease: dict[str, object]) -> dict[str, object]:
            now = datetime.now(UTC) + timedelta(seconds=60)
            lease["spec"] = {
                "holderIdentity": "intruder",
                "leaseDurationSeconds": 60,
                "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            return lease

        await kube.update(LEASES, LEASE_NAME, steal, namespace=NS)
        await until(lambda: not a.is_leader and not work.running, 3)
        assert work.cancels == 1
