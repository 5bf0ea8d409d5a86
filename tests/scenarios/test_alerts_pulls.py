"""Image-pull alerts, whole flows against the seeded sandbox (cluster with its kubelet
pulling from the Gitea registry) and LocalSlack:

- someone runs `kubectl set image` with a tag that doesn't exist → exactly one alert in
  the alert channel, cause "tag not found", within the grace period plus 2 s of the
  first failed pull; the fix → the message is marked resolved, a follow-up in its thread;
- the registry token behind the pull secret is revoked; pods that restart on nodes
  without the image can't pull → one alert, cause "pull secret rejected", with the
  `kubectl create secret docker-registry … | kubectl apply -f -` fix.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.alerts.service import AlertService
from bot.kube.kinds import PODS
from commands.incidents import PullState
from sandbox.env import ALERT_CHANNEL, SERVICES
from tests.bot.alerts.harness import GRACE_S, AlertWorld, alert_world, text_of, wait_until
from tests.fixtures.cluster import run_kubectl

__all__ = ["alert_world"]


def failing(service: AlertService, image: str) -> bool:
    return any(
        c.image == image and c.state is PullState.FAILING
        for p in service.view.pods.values()
        for c in p.pulls.containers
    )


@pytest.mark.kubectl
async def test_kubectl_set_image_to_a_missing_tag(alert_world: AlertWorld) -> None:
    world = alert_world
    bad = world.image("api", "0badc0d")
    service = world.service()
    async with world.running(service):
        await run_kubectl(
            world.env.kubeconfig,
            "set",
            "image",
            "-n",
            "honeydue",
            "deployment/api",
            f"api={bad}",
            check=True,
        )
        await wait_until(lambda: failing(service, bad), within_s=15, what="a failing pull")
        first_seen = min(f.since for f in service.view.failures() if f.key.image == bad)
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="the alert")
        # Past the grace on the service's own clock (how soon after it is the bench's
        # alert latency, not a stopwatch here).
        (incident,) = service.incidents.values()
        assert incident.opened_at - first_seen >= timedelta(seconds=GRACE_S)
        alert = world.alerts()[0]
        assert "tag not found" in text_of(alert)
        assert "`honeydue/api`" in text_of(alert)

        good = world.image("api", SERVICES[0].good[2])
        await run_kubectl(
            world.env.kubeconfig, "set", "image", "-n", "honeydue", "deployment/api",
            f"api={good}", check=True,
        )  # fmt: skip
        await wait_until(
            lambda: bool(world.slack.message(ALERT_CHANNEL, alert.ts).replies),
            within_s=45,
            what="the resolution",
        )
        assert "Resolved" in text_of(world.slack.message(ALERT_CHANNEL, alert.ts))
    assert len(world.alerts()) == 1


async def test_revoked_registry_token(alert_world: AlertWorld) -> None:
    world = alert_world
    image = world.image("api", SERVICES[0].current)
    service = world.service()
    async with world.running(service):
        world.env.registry.revoke_token(world.env.token)
        # The nodes' image stores are emptied (image GC, or fresh nodes): a restarted
        # pod must pull again, with the namespace's now useless pull secret.
        for node in world.env.cluster.controllers.nodes.values():
            node.images.clear()
        pods = await world.pods("honeydue", "api")
        name = pods[0]["metadata"]["name"]
        await world.kube.delete(PODS, name, namespace="honeydue")
        await wait_until(lambda: failing(service, image), within_s=30, what="a failing pull")
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 15, what="the alert")
        # A second restarted pod joins the same incident.
        await world.kube.delete(PODS, pods[1]["metadata"]["name"], namespace="honeydue")
        await wait_until(
            lambda: "2 pods" in text_of(world.alerts()[0]), within_s=30, what="two pods counted"
        )
    assert len(world.alerts()) == 1
    text = text_of(world.alerts()[0])
    assert "pull secret rejected" in text
    assert "gitea-credentials" in text
    assert "kubectl create secret docker-registry gitea-credentials" in text
    assert "| kubectl apply -f -" in text
    assert "/deploy restart SERVICE ENV" in text  # pods in back-off need a restart
    assert world.env.token not in text
