"""bot.rollout.locks and bot.rollout.records against the sandbox API server.

Locks: a second deploy is refused naming the holder; a manual lock refuses deploys
until unlocked; an expired deploy lease is taken over; `holding` renews and releases;
a resume (`take_over`) yields to a live follower and takes over a gone one (or one
cancelled mid-rollout at once); `deploy_locks` lists only live deploy locks.
Records: created, updated by compare-and-swap, `history` newest first per service/env,
`in_flight` lists unfinished deploys, `claim_report` succeeds exactly once (and again
for the same claimant token: a retry after a lost answer).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.kube.client import KubeClient
from bot.kube.kinds import LEASES
from bot.rollout.locks import LockHeld, Locks, lock_name
from bot.rollout.records import DeployRecord, RecordPhase, Records, TargetRecord
from sandbox.cluster.server import SandboxCluster


def locks(kube: KubeClient, cluster: SandboxCluster, duration_s: int = 60) -> Locks:
    return Locks(kube, namespace="deckhand", clock=cluster.clock, duration_s=duration_s)


async def test_second_deploy_is_refused_naming_the_holder(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    lk = locks(kube, kube_cluster)
    await lk.acquire("api", "prod", deploy_id="d1", who="alice", why="237c6b8")
    with pytest.raises(LockHeld) as caught:
        await lk.acquire("api", "prod", deploy_id="d2", who="bob", why="237c6b9")
    assert "being deployed by alice (deploy d1)" in str(caught.value)
    await lk.acquire("api", "staging", deploy_id="d2", who="bob", why="x")  # other env: free
    assert await lk.release("api", "prod", holder="d1")
    await lk.acquire("api", "prod", deploy_id="d2", who="bob", why="237c6b9")


async def test_concurrent_acquires_have_exactly_one_winner(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    lk = locks(kube, kube_cluster)
    results = await asyncio.gather(
        *(lk.acquire("api", "prod", deploy_id=f"d{i}", who=f"u{i}", why="") for i in range(4)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, LockHeld) for r in results if r is not None)


async def test_manual_lock_refuses_until_unlock(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    lk = locks(kube, kube_cluster)
    await lk.lock("api", "prod", who="carol", why="incident 42")
    with pytest.raises(LockHeld) as caught:
        await lk.acquire("api", "prod", deploy_id="d1", who="alice", why="")
    assert "locked by carol: incident 42" in str(caught.value)
    lease = await kube.get(LEASES, lock_name("api", "prod"), namespace="deckhand")
    assert "leaseDurationSeconds" not in lease["spec"]  # never expires
    assert not await lk.release("api", "prod", holder="d1")
    assert await lk.release("api", "prod", holder="manual")
    assert await lk.holder("api", "prod") is None
    await lk.acquire("api", "prod", deploy_id="d1", who="alice", why="")


async def test_expired_deploy_lock_is_taken_over(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    lk = locks(kube, kube_cluster, duration_s=20)  # 0.5 wall seconds at speed 40
    await lk.acquire("api", "prod", deploy_id="dead", who="alice", why="")
    await kube_cluster.clock.sleep(25)
    assert await lk.holder("api", "prod") is None
    await lk.acquire("api", "prod", deploy_id="d2", who="bob", why="")
    holder = await lk.holder("api", "prod")
    assert holder is not None
    assert holder.holder == "d2"


async def test_holding_renews_and_releases(kube: KubeClient, kube_cluster: SandboxCluster) -> None:
    lk = locks(kube, kube_cluster, duration_s=30)
    async with lk.holding("api", "prod", deploy_id="d1", who="alice", why=""):
        await kube_cluster.clock.sleep(75)  # 2.5 lease durations: only renewal keeps it
        holder = await lk.holder("api", "prod")
        assert holder is not None
        assert holder.holder == "d1"
    assert await lk.holder("api", "prod") is None


def record(deploy_id: str, when_offset: int, cluster: SandboxCluster, **kw: object) -> DeployRecord:
    from datetime import timedelta

    target = TargetRecord("api", "api", "api", "r/a/api:237c6b8@sha256:1", "sha256:1", "r/a/api:1")
    base = DeployRecord(
        id=deploy_id,
        who="alice",
        when=cluster.clock.now() + timedelta(seconds=when_offset),
        env="prod",
        namespace="honeydue",
        tag="237c6b8",
        targets=(target,),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_records_history_in_flight_and_report_once(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    records = Records(kube, namespace="deckhand")
    await records.create(record("d1", 0, kube_cluster))
    await records.create(record("d2", 10, kube_cluster))
    await records.create(record("d3", 20, kube_cluster, env="staging"))
    await records.finish(
        "d1", phase=RecordPhase.SUCCEEDED, result="succeeded", cause="", duration_s=12.5
    )
    history = await records.history("api", "prod")
    assert [r.id for r in history] == ["d2", "d1"]
    assert history[1].phase is RecordPhase.SUCCEEDED
    assert history[1].duration_s == 12.5
    assert [r.id for r in await records.in_flight()] == ["d2", "d3"]
    claims = await asyncio.gather(*(records.claim_report("d2") for _ in range(3)))
    assert sorted(claims) == [False, False, True]
    assert (await records.get("d2")).reported


async def test_a_resume_yields_to_a_live_follower_and_takes_over_a_gone_one(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    following = locks(kube, kube_cluster)
    resumer = locks(kube, kube_cluster)
    await following.acquire("api", "prod", deploy_id="d1", who="alice", why="")
    with pytest.raises(LockHeld):  # its follower renews: nobody follows it twice
        await resumer.acquire("api", "prod", deploy_id="d1", who="alice", why="", take_over=True)
    await following.acquire("api", "prod", deploy_id="d1", who="alice", why="", take_over=True)
    await asyncio.sleep(kube_cluster.clock.wall(resumer.stale_after_s + 1))  # the follower died
    await resumer.acquire("api", "prod", deploy_id="d1", who="alice", why="", take_over=True)
    lease = await kube.get(LEASES, lock_name("api", "prod"), namespace="deckhand")
    assert lease["metadata"]["annotations"]["deckhand.dev/follower"] == resumer.follower


async def test_a_follower_cancelled_mid_rollout_lets_the_next_one_resume_at_once(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    first = locks(kube, kube_cluster)
    entered = asyncio.Event()

    async def follow() -> None:
        async with first.holding("api", "prod", deploy_id="d1", who="alice", why=""):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(follow())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    holder = await first.holder("api", "prod")
    assert holder is not None  # kept for the deploy
    assert holder.holder == "d1"
    nxt = locks(kube, kube_cluster)
    await nxt.acquire("api", "prod", deploy_id="d1", who="alice", why="", take_over=True)


async def test_a_retried_claim_with_the_same_token_still_wins(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    records = Records(kube, namespace="deckhand")
    await records.create(record("d9", 0, kube_cluster))
    assert await records.claim_report("d9", "token-a")
    assert await records.claim_report("d9", "token-a")  # its answer was lost: asked again
    assert not await records.claim_report("d9", "token-b")
    assert not await records.claim_report("d9")
    assert (await records.get("d9")).reported_by == "token-a"


async def test_deploy_locks_lists_live_deploy_locks_only(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    lk = locks(kube, kube_cluster)
    await lk.acquire("api", "prod", deploy_id="d1", who="alice", why="")
    await lk.lock("worker", "prod", who="carol", why="incident")
    await lk.acquire("admin", "prod", deploy_id="d2", who="bob", why="")
    await lk.release("admin", "prod", holder="d2")
    assert [(h.service, h.holder) for h in await lk.deploy_locks()] == [("api", "d1")]
