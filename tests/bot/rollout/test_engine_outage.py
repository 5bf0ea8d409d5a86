"""RolloutEngine through an API outage: the engine's client reaches the sandbox cluster
through `sandbox.faults.FaultyProxy`, which resets every connection and then refuses
new ones while the rollout goes on in the cluster (the test's own client goes direct).

Covers: an outage during a rollout that completes meanwhile → the live progress says
"lost contact with the cluster, retrying (N s)", then SUCCEEDED once the API answers,
the record final, the lock free, the next deploy accepted; an outage that outlives
`max_duration_s` → UNKNOWN ("couldn't reach the cluster for N s"), said at the deadline
and final once the API takes the record (its write and the report claim are retried),
no automatic rollback although the env has it, record `unknown`, lock free.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.kube.client import KubeClient, KubeOptions
from bot.rollout.engine import RolloutEngine
from bot.rollout.outcome import Outcome
from bot.rollout.records import record_name
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Deploy
from commands.rollout_decisions import images_of
from sandbox.cluster.resources import CONFIGMAPS
from sandbox.cluster.resources import DEPLOYMENTS as STORED_DEPLOYMENTS
from sandbox.faults import FaultyProxy, point_kubeconfig
from tests.fixtures.rollout import Stage, ask, deck_config

SLOW = {"sandbox.deckhand.dev/ready-after-seconds": "20"}


@dataclass
class Outage:
    """The engine behind the proxy, and what it reported."""

    stage: Stage
    proxy: FaultyProxy
    kube: KubeClient
    engine: RolloutEngine
    seen: list[Progress] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def configure(self, **settings: object) -> None:
        config = deck_config(self.stage.registry.host, **settings)
        self.engine = RolloutEngine(
            config, self.kube, self.stage.registry_client, self.stage.cluster.clock
        )

    async def note(self, progress: Progress) -> None:
        async with self.changed:
            self.seen.append(progress)
            self.changed.notify_all()

    async def until(self, predicate: Callable[[], bool], *, within_s: float = 20) -> None:
        async with asyncio.timeout(within_s), self.changed:
            await self.changed.wait_for(predicate)

    def lost_contact(self) -> bool:
        return any("lost contact with the cluster, retrying" in p.detail for p in self.seen)

    async def plan(self, tag: str) -> DeployPlan:
        plan = await ask(self.engine, "check", Deploy(("api",), tag, "prod"), user="U0ALICE001")
        assert isinstance(plan, DeployPlan), plan
        return plan


@pytest.fixture
async def outage(stage: Stage, tmp_path: Path) -> AsyncIterator[Outage]:
    direct = stage.cluster.write_kubeconfig(tmp_path / "direct")
    async with FaultyProxy("127.0.0.1", stage.cluster.port) as proxy:
        path = point_kubeconfig(direct, proxy.url, into=tmp_path / "proxied")
        options = KubeOptions(
            request_timeout_s=2,
            watch_timeout_s=2,
            watch_read_timeout_s=3,
            reconnect_backoff_s=(0.05, 0.1, 0.2),
        )
        async with KubeClient.from_kubeconfig(path, options=options) as kube:
            engine = RolloutEngine(
                stage.engine.config, kube, stage.registry_client, stage.cluster.clock
            )
            yield Outage(stage, proxy, kube, engine)


def record_phase(stage: Stage, deploy_id: str) -> str:
    obj = stage.cluster.store.get(CONFIGMAPS, "deckhand", record_name(deploy_id))
    return str(obj["data"]["phase"])


async def until_in_cluster(stage: Stage, predicate: Callable[[], bool], within_s: float) -> None:
    await stage.cluster.store.wait_until(predicate, within_s=within_s)


def rolled_out(stage: Stage, tag: str) -> Callable[[], bool]:
    def done() -> bool:
        d = stage.cluster.store.get(STORED_DEPLOYMENTS, "honeydue", "api")
        status = d.get("status") or {}
        return tag in images_of(d).get("api", "") and status.get("updatedReplicas") == 3 == (
            status.get("availableReplicas")
        )

    return done


async def test_an_outage_during_a_rollout_that_completes_ends_in_success(
    outage: Outage,
) -> None:
    stage = outage.stage
    await stage.deployment(stage.push("1111111"), template_annotations=SLOW)
    stage.push("2222222")
    stage.push("3333333")
    plan = await outage.plan("2222222")
    async with asyncio.TaskGroup() as group:
        running = group.create_task(outage.engine.execute(plan, on_progress=outage.note))
        await outage.until(lambda: any(p.updated for p in outage.seen))
        await outage.proxy.cut("reset")
        await outage.until(outage.lost_contact)
        await outage.proxy.cut("refuse")
        await until_in_cluster(stage, rolled_out(stage, "2222222"), within_s=30)
        assert not running.done()  # no verdict while the API can't be reached
        await outage.proxy.restore()
    outcome: Outcome = running.result()
    assert outcome.phase is Phase.SUCCEEDED, outcome.summary
    assert [p.phase for p in outage.seen if p.is_final] == [Phase.SUCCEEDED]
    assert record_phase(stage, plan.deploy_id) == "succeeded"
    assert await stage.engine.locks.holder("api", "prod") is None
    after = await outage.engine.execute(await outage.plan("3333333"))
    assert after.phase is Phase.SUCCEEDED, after.summary


async def test_an_outage_past_the_deadline_is_unknown_not_failed(outage: Outage) -> None:
    stage = outage.stage
    outage.configure(auto_rollback=True)
    slow = {"sandbox.deckhand.dev/ready-after-seconds": "400"}
    await stage.deployment(stage.push("1111111"), template_annotations=slow, wait=False)
    stage.push("2222222")
    config = outage.engine.config
    outage.engine = RolloutEngine(
        config.model_copy(
            update={"rollout": config.rollout.model_copy(update={"max_duration_s": 60})}
        ),
        outage.kube,
        stage.registry_client,
        stage.cluster.clock,
    )
    plan = await outage.plan("2222222")
    async with asyncio.TaskGroup() as group:
        running = group.create_task(outage.engine.execute(plan, on_progress=outage.note))
        await outage.until(lambda: any(p.updated for p in outage.seen))
        await outage.proxy.cut("refuse")
        # The deadline passes out of contact: said at once, recorded once the API answers.
        await outage.until(
            lambda: any("as soon as the cluster answers" in p.detail for p in outage.seen),
            within_s=30,
        )
        assert not running.done()
        await outage.proxy.restore()
    outcome: Outcome = running.result()
    assert outcome.phase is Phase.UNKNOWN, outcome.summary
    (service,) = outcome.services
    assert service.failure is not None
    assert "unknown: couldn't reach the cluster for" in service.failure.sentence
    assert service.rolled_back_to is None
    assert service.rollback_problem is None
    assert "failed" not in outcome.summary
    assert [p.phase for p in outage.seen if p.is_final] == [Phase.UNKNOWN]
    assert record_phase(stage, plan.deploy_id) == "unknown"
    assert await stage.engine.locks.holder("api", "prod") is None
    d = stage.cluster.store.get(STORED_DEPLOYMENTS, "honeydue", "api")
    assert "2222222" in images_of(d)["api"]  # not rolled back
