"""`bot.leader.LeaderWork`, the leader-only jobs: they start the moment leadership is
gained (not an interval later) and again each time it is regained, run only while
leading, a periodic job keeps its interval; a round that fails on the cluster or
overruns its deadline is logged and retried (a run-once job until it succeeds); a bug
gives leadership up; the jobs stop when leadership ends (no leaked task). Against the
sandbox apiserver (the Lease) and with jobs that record when they ran."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.kube.client import KubeClient
from bot.kube.errors import Request, Unreachable
from bot.kube.kinds import LEASES
from bot.leader import LEASE_NAME, LeaderElector, LeaderWork
from bot.tasks import background
from sandbox.cluster.server import SandboxCluster
from tests.fixtures.lease import renewed

NS = "deckhand"


def elector(kube: KubeClient, identity: str = "deckhand-a") -> LeaderElector:
    return LeaderElector(
        kube, NS, identity, lease_duration_s=2.0, renew_deadline_s=1.5, retry_period_s=0.2
    )


class Job:
    """Records its rounds; `fail` rounds raise a cluster error, `slow` ones hang."""

    def __init__(self, *, fail: int = 0, slow: int = 0, bug: bool = False) -> None:
        self.rounds = 0
        self.fail, self.slow, self.bug = fail, slow, bug
        self.ran = asyncio.Event()

    async def __call__(self) -> None:
        self.rounds += 1
        if self.bug:
            raise KeyError("a bug")
        if self.fail:
            self.fail -= 1
            raise Unreachable(Request("list", "configmaps", NS), url="x", cause="down")
        if self.slow:
            self.slow -= 1
            await asyncio.sleep(10)
        self.ran.set()


async def rounds_reach(job: Job, n: int, *, within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while job.rounds < n:
            job.ran.clear()
            await job.ran.wait()


async def test_jobs_start_when_leadership_is_gained_and_again_when_regained(
    kube: KubeClient,
) -> None:
    once, periodic = Job(), Job()
    work = LeaderWork(retry_s=0.05)
    work.on_gained("resume", once)
    work.every("reports", 3600.0, periodic)  # the interval is not waited before the first
    a = elector(kube)
    assert (once.rounds, periodic.rounds) == (0, 0)
    async with background({"elector": a.run(work.tasks())}):
        await a.wait_until_leading(timeout_s=5)
        await asyncio.wait_for(once.ran.wait(), 10)
        await asyncio.wait_for(periodic.ran.wait(), 10)
        once.ran.clear()

        def steal(lease: dict[str, object]) -> dict[str, object]:
            soon = datetime.now(UTC) + timedelta(seconds=1)
            lease["spec"] = {
                "holderIdentity": "intruder",
                "leaseDurationSeconds": 1,
                "renewTime": soon.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            return lease

        await kube.update(LEASES, LEASE_NAME, steal, namespace=NS)
        async with asyncio.timeout(5):  # lost, then regained once the intruder's lease ends
            while a.is_leader:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert once.rounds == 1
        await a.wait_until_leading(timeout_s=10)
        await asyncio.wait_for(once.ran.wait(), 10)
        assert once.rounds == 2
        assert periodic.rounds == 2


async def test_a_follower_runs_nothing(kube: KubeClient, kube_cluster: SandboxCluster) -> None:
    leader_job, follower_job = Job(), Job()
    first, second = LeaderWork(), LeaderWork()
    first.every("expiry", 0.05, leader_job)
    second.every("expiry", 0.05, follower_job)
    a, b = elector(kube, "deckhand-a"), elector(kube, "deckhand-b")
    async with background({"a": a.run(first.tasks())}):
        await a.wait_until_leading(timeout_s=5)
        async with background({"b": b.run(second.tasks())}):
            await rounds_reach(leader_job, 5)
            # b campaigned meanwhile (the holder renewed its Lease three more times,
            # each a retry period everybody waits) and never led: its job never ran.
            await renewed(kube_cluster, 3)
            assert not b.is_leader
    assert follower_job.rounds == 0


@pytest.mark.parametrize(
    ("job", "rounds"),
    [(Job(fail=2), 3), (Job(slow=1), 2)],
    ids=["cluster-failures", "round-overruns"],
)
async def test_a_failed_run_once_round_is_retried_until_it_succeeds(
    job: Job, rounds: int, caplog: pytest.LogCaptureFixture
) -> None:
    work = LeaderWork(round_timeout_s=0.1, retry_s=0.01)
    work.on_gained("resume", job)
    task = asyncio.create_task(work.tasks()["resume"]())
    try:
        await asyncio.wait_for(job.ran.wait(), 3)
        assert job.rounds == rounds
        assert not task.done()  # done, it waits for leadership to end
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == rounds - 1
    assert all("leader work resume" in r.getMessage() for r in warnings)


async def test_a_periodic_job_keeps_going_after_a_failed_round() -> None:
    job = Job(fail=1)
    work = LeaderWork()
    work.every("expiry", 0.01, job)
    task = asyncio.create_task(work.tasks()["expiry"]())
    try:
        await rounds_reach(job, 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()


async def test_a_bug_gives_leadership_up(kube: KubeClient) -> None:
    work = LeaderWork()
    buggy = Job(bug=True)
    work.every("expiry", 3600.0, buggy)
    a = elector(kube)
    async with background({"elector": a.run(work.tasks())}):
        await a.wait_until_leading(timeout_s=5)
        async with asyncio.timeout(5):
            while buggy.rounds < 2:  # noqa: ASYNC110  (gave up, campaigned, ran it again)
                await asyncio.sleep(0.02)


def test_a_job_name_is_registered_once() -> None:
    work = LeaderWork()
    work.every("expiry", 1.0, Job())
    with pytest.raises(ValueError, match="twice"):
        work.on_gained("expiry", Job())
