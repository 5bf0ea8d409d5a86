"""Drift notices, whole flows against the seeded sandbox and LocalSlack, with the real
kubectl:

- `kubectl set image` to a good tag → ONE notice in the env's alert channel naming
  `kubectl-set` (from managedFields), the old and the new image, and Deckhand's checks
  passed; a restarted service (a new DriftService on the same cluster state) doesn't
  repeat it;
- `kubectl apply` of a manifest naming a tag older than the one Deckhand last deployed
  → the notice names `kubectl-client-side-apply` and flags stale manifests;
- `kubectl scale` of a `max_replicas` service → a notice of the replica count, by `kubectl`
  (the scale subresource's entry in managedFields);
- Deckhand's own patch (field manager `deckhand`) → no notice;
- a notice Slack refused stays claimed in its ConfigMap and is posted, once, on the
  next look (not again after a restart).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.alerts.drift import DriftService
from bot.rollout.records import DeployRecord, RecordPhase, Records, TargetRecord
from bot.tasks import background
from sandbox.env import SERVICES
from tests.bot.alerts.harness import AlertWorld, alert_world, text_of, wait_until
from tests.fixtures.cluster import run_kubectl

__all__ = ["alert_world"]

pytestmark = pytest.mark.kubectl


def baselined(service: DriftService) -> bool:
    """Every watched container has its baseline (the first listing is accounted for)."""
    return len(service.states) == sum(len(t) for t in service.targets.values())


def drift_service(world: AlertWorld) -> DriftService:
    return DriftService(
        world.kube,
        world.web,
        config=world.config,
        registry=world.registry,
    )


async def test_set_image_by_hand_is_noticed_once_across_a_restart(alert_world: AlertWorld) -> None:
    world = alert_world
    api = SERVICES[0]
    before, after = world.image("api", api.current), world.image("api", api.good[1])
    service = drift_service(world)
    async with background({"drift": service.run()}):
        await wait_until(lambda: baselined(service), within_s=15, what="the baselines")
        await run_kubectl(
            world.env.kubeconfig, "set", "image", "-n", "honeydue", "deployment/api",
            f"api={after}", check=True,
        )  # fmt: skip
        await wait_until(lambda: bool(world.alerts()), within_s=20, what="the drift notice")
    text = text_of(world.alerts()[0])
    assert "`kubectl-set`" in text
    assert f"`{before}`" in text
    assert f"`{after}`" in text
    assert ":white_check_mark: tag policy" in text
    assert ":white_check_mark: the tag exists" in text

    again = drift_service(world)
    async with background({"drift": again.run()}):
        # The restarted service has listed every Deployment and accounted for them.
        await wait_until(
            lambda: baselined(again) and any(s.image == after for s in again.states.values()),
            within_s=15,
            what="the restarted service's view",
        )
        await world.set_image("honeydue", "worker", world.image("worker", SERVICES[1].good[1]))
        await wait_until(
            lambda: any(
                s.image == world.image("worker", SERVICES[1].good[1]) for s in again.states.values()
            ),
            within_s=15,
            what="Deckhand's own change accounted",
        )
    assert len(world.alerts()) == 1  # no repeat, and Deckhand's own patch is no drift


async def test_apply_of_an_older_manifest_is_flagged_stale(alert_world: AlertWorld) -> None:
    world = alert_world
    api = SERVICES[0]
    newest = world.image("api", api.good[3])
    older = world.image("api", api.good[1])
    await Records(world.kube, "deckhand").create(
        DeployRecord(
            id="d1", who="U0REQUEST", when=datetime.now(UTC), env="prod",
            namespace="honeydue", tag=api.good[3], phase=RecordPhase.SUCCEEDED,
            targets=(TargetRecord("api", "api", "api", newest),),
        )
    )  # fmt: skip
    service = drift_service(world)
    async with background({"drift": service.run()}):
        await wait_until(lambda: baselined(service), within_s=15, what="the baselines")
        got = await run_kubectl(
            world.env.kubeconfig, "get", "deployment/api", "-n", "honeydue", "-o", "json",
            check=True,
        )  # fmt: skip
        manifest = json.loads(got.stdout)
        manifest["spec"]["template"]["spec"]["containers"][0]["image"] = older
        for key in ("resourceVersion", "uid", "managedFields", "generation", "creationTimestamp"):
            manifest["metadata"].pop(key, None)
        manifest.pop("status", None)
        await run_kubectl(
            world.env.kubeconfig, "apply", "-f", "-", stdin=json.dumps(manifest), check=True
        )
        await wait_until(lambda: bool(world.alerts()), within_s=20, what="the drift notice")
    text = text_of(world.alerts()[0])
    assert "`kubectl-client-side-apply`" in text
    assert "stale manifests" in text
    assert f"`{api.good[3]}`" in text


async def test_a_notice_slack_refused_is_retried_and_posted_once(alert_world: AlertWorld) -> None:
    world = alert_world
    after = world.image("api", SERVICES[0].good[2])
    service = drift_service(world)
    world.slack.fail_next("chat.postMessage", error="internal_error")
    async with background({"drift": service.run()}):
        await wait_until(lambda: baselined(service), within_s=15, what="the baselines")
        await run_kubectl(
            world.env.kubeconfig, "set", "image", "-n", "honeydue", "deployment/api",
            f"api={after}", check=True,
        )  # fmt: skip
        # Refused once; the claim stays in its ConfigMap and the next look posts it.
        await wait_until(lambda: bool(world.alerts()), within_s=20, what="the retried notice")
        await wait_until(
            lambda: all(s.posted for s in service.states.values()), within_s=10, what="posted"
        )
    again = drift_service(world)
    async with background({"drift": again.run()}):
        await wait_until(
            lambda: baselined(again) and all(s.posted for s in again.states.values()),
            within_s=15,
            what="the restarted service's view",
        )
    assert len(world.alerts()) == 1
    text = text_of(world.alerts()[0])
    assert "`kubectl-set`" in text
    assert f"`{after}`" in text


async def test_scaling_a_max_replicas_service_by_hand_is_noticed(alert_world: AlertWorld) -> None:
    world = alert_world
    service = drift_service(world)
    async with background({"drift": service.run()}):
        await wait_until(lambda: baselined(service), within_s=15, what="the baselines")
        await run_kubectl(
            world.env.kubeconfig, "scale", "-n", "honeydue", "deployment/worker",
            "--replicas=3", check=True,
        )  # fmt: skip
        await wait_until(lambda: bool(world.alerts()), within_s=20, what="the drift notice")
        await wait_until(
            lambda: all(s.posted for s in service.states.values()), within_s=10, what="posted"
        )
    text = text_of(world.alerts()[0])
    assert "replica count of `honeydue/worker`" in text
    assert "`1` → `3`" in text
    assert "`kubectl`" in text
