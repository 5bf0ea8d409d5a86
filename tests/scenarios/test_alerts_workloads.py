"""Workload alerts beyond pulls, whole flows against the seeded sandbox (its kubelet runs
the pods, the scheduler places them) and LocalSlack:

- `kubectl set image` (the real kubectl) to the arm64-only tag: the pods crash with
  `exec format error` → ONE alert naming it, the image's platforms (from the registry,
  with the namespace's pull secret), the nodes' (`linux/amd64`) and the buildx fix;
  `kubectl rollout undo` → marked resolved, a follow-up in its thread;
- a container the kernel kills for memory (OOMKilled, exit 137) → one alert with its
  memory limit; a pod whose cpu request no node has room for → one alert with the
  scheduler's `Insufficient cpu`;
- a liveness probe on a path the app doesn't serve → one alert with the probes diagnosis
  (which probe, what the kubelet saw: HTTP 404, the path); pods evicted under memory
  pressure → one alert with the kubelet's eviction message;
- Deckhand's own failed deploy (its record failed with that image) → no alert of its
  own: a later, unrelated incident's alert is the only message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.kube.kinds import DEPLOYMENTS
from bot.rollout.records import DeployRecord, RecordPhase, Records, TargetRecord
from sandbox.env import ALERT_CHANNEL, SERVICES
from tests.bot.alerts.harness import GRACE_S, AlertWorld, alert_world, text_of, wait_until
from tests.fixtures.cluster import run_kubectl

__all__ = ["alert_world"]

CRASH = "sandbox.deckhand.dev/crash"


def template_patch(*, annotations: dict[str, str] | None = None, **container: object) -> dict:
    spec: dict[str, object] = {}
    if container:
        spec = {"containers": [{"name": "worker", **container}]}
    meta = {"annotations": annotations} if annotations else {}
    return {"spec": {"template": {"metadata": meta, "spec": spec}}}


@pytest.mark.kubectl
async def test_an_arm64_image_set_by_hand_crashes_with_exec_format_error(
    alert_world: AlertWorld,
) -> None:
    world = alert_world
    service = world.service()
    arm = world.image("api", SERVICES[0].arm64_only)
    kubeconfig = world.env.kubeconfig
    async with world.running(service):
        await run_kubectl(
            kubeconfig, "set", "image", "-n", "honeydue", "deployment/api", f"api={arm}",
            check=True,
        )  # fmt: skip
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="the alert")
        alert = world.alerts()[0]
        text = text_of(alert)
        assert "exec format error" in text
        assert "`honeydue/api`" in text
        assert "linux/arm64" in text  # the image's platform, from the registry
        assert "linux/amd64" in text  # the nodes'
        assert "docker buildx build --platform linux/amd64" in text

        await run_kubectl(kubeconfig, "rollout", "undo", "-n", "honeydue", "deployment/api",
                          check=True)  # fmt: skip
        await wait_until(
            lambda: bool(world.slack.message(ALERT_CHANNEL, alert.ts).replies),
            within_s=60,
            what="the resolution",
        )
        assert "Resolved" in text_of(world.slack.message(ALERT_CHANNEL, alert.ts))
    assert len(world.alerts()) == 1


async def test_an_oom_killed_loop_and_an_unschedulable_pod_each_raise_one_alert(
    alert_world: AlertWorld,
) -> None:
    world = alert_world
    service = world.service()
    async with world.running(service):
        oom = template_patch(
            annotations={CRASH: "exit-code=137,reason=OOMKilled,after=0.5"},
            resources={"limits": {"memory": "256Mi"}},
        )
        await world.kube.patch(DEPLOYMENTS, "worker", oom, namespace="honeydue")
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="OOM alert")
        text = text_of(world.alerts()[0])
        assert "OOMKilled (exit code 137)" in text
        assert "`256Mi`" in text

        big = {"spec": {"template": {"spec": {"containers": [
            {"name": "admin", "resources": {"requests": {"cpu": "6"}}}
        ]}}}}  # fmt: skip
        await world.kube.patch(DEPLOYMENTS, "admin", big, namespace="honeydue")
        await wait_until(lambda: len(world.alerts()) == 2, within_s=GRACE_S + 30, what="pending")
        pending = next(m for m in world.alerts() if "`honeydue/admin`" in text_of(m))
        assert "Insufficient cpu" in text_of(pending)
        assert "can't be scheduled" in text_of(pending)
    assert len(world.alerts()) == 2


async def test_deckhands_own_failed_deploy_raises_no_alert(alert_world: AlertWorld) -> None:
    world = alert_world
    service = world.service()
    arm = world.image("api", SERVICES[0].arm64_only)
    records = Records(world.kube, "deckhand")
    record = DeployRecord(
        id="d1",
        who="U1",
        when=datetime.now(UTC),
        env="staging",
        namespace="honeydue",
        tag=SERVICES[0].arm64_only,
        targets=(TargetRecord("api", "api", "api", arm),),
    )
    async with world.running(service):
        await records.create(record)
        await world.set_image("honeydue", "api", arm)
        await wait_until(
            lambda: any(
                p.health and p.health.crashes and p.health.crashes[0].image == arm
                for p in service.view.pods.values()
            ),
            within_s=30,
            what="the crash loop",
        )
        await records.finish(
            "d1", phase=RecordPhase.FAILED, result="failed", cause="", duration_s=1
        )
        # An unrelated incident after it: its alert must be the only message.
        big = {"spec": {"template": {"spec": {"containers": [
            {"name": "admin", "resources": {"requests": {"cpu": "6"}}}
        ]}}}}  # fmt: skip
        await world.kube.patch(DEPLOYMENTS, "admin", big, namespace="honeydue")
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="an alert")
    assert [("`honeydue/admin`" in text_of(m)) for m in world.alerts()] == [True]


async def test_a_liveness_probe_on_a_path_the_app_lacks_raises_one_probe_alert(
    alert_world: AlertWorld,
) -> None:
    world = alert_world
    service = world.service()
    async with world.running(service):
        wrong = {"path": "/admin/", "port": 3000}
        patch = {"spec": {"template": {"spec": {"containers": [
            {"name": "admin", "livenessProbe": {"httpGet": wrong, "initialDelaySeconds": 3,
                                                "periodSeconds": 10}}
        ]}}}}  # fmt: skip
        await world.kube.patch(DEPLOYMENTS, "admin", patch, namespace="honeydue")
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="probe alert")
    assert len(world.alerts()) == 1
    text = text_of(world.alerts()[0])
    assert "Failing probe in `honeydue/admin`" in text
    assert "liveness probe" in text
    assert "HTTP 404" in text
    assert "/admin/" in text


async def test_evicted_pods_raise_one_alert(alert_world: AlertWorld) -> None:
    world = alert_world
    service = world.service()
    async with world.running(service):
        evict = template_patch(annotations={"sandbox.deckhand.dev/evict-after-seconds": "2"})
        await world.kube.patch(DEPLOYMENTS, "worker", evict, namespace="honeydue")
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="eviction")
    assert len(world.alerts()) == 1
    text = text_of(world.alerts()[0])
    assert "Pods evicted from `honeydue/worker`" in text
    assert "The node was low on resource: memory." in text
