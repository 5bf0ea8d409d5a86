"""The alert service against the seeded sandbox and LocalSlack: one alert per incident
with its diagnosis, the grace period, the update of one message for many pods, the
resolution and its thread follow-up, restarts (no duplicate, resolution still sent),
pods of rollouts Deckhand follows skipped, and the per-channel rate-limit summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.alerts.service import AlertService
from bot.rollout.records import DeployRecord, Records, TargetRecord
from commands.incidents import PullState
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

API = SERVICES[0]


def failing(service: AlertService, image: str) -> bool:
    """The service's view has a container failing to pull `image`."""
    return any(
        c.image == image and c.state is PullState.FAILING
        for p in service.view.pods.values()
        for c in p.pulls.containers
    )


async def test_bad_tag_one_alert_with_diagnosis_then_resolved(alert_world: AlertWorld) -> None:
    world = alert_world
    bad = world.image("api", "deadbee")
    service = world.service()
    async with world.running(service):
        await world.set_image("honeydue", "api", bad)
        await wait_until(lambda: failing(service, bad), within_s=15, what="a failing pull")
        first_seen = min(f.since for f in service.view.failures() if f.key.image == bad)
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 30, what="an alert")
        # Not before the grace period, on the service's own clock: the incident opened
        # at least GRACE_S after its failure was first seen (the alert is posted after).
        (incident,) = service.incidents.values()
        assert incident.opened_at - first_seen >= timedelta(seconds=GRACE_S)
        alert = world.alerts()[0]
        text = text_of(alert)
        assert "honeydue/api" in text
        assert bad in text
        assert "tag not found" in text
        assert "1 pod on 1 node (node-" in text
        assert "failed to resolve reference" in text  # the kubelet's words
        assert "has no such tag" in text  # the registry re-check
        assert "Fix" in text
        assert world.env.token not in text
        # The fix: back to a good tag; the failing pod goes away, the rollout completes.
        await world.set_image("honeydue", "api", world.image("api", API.good[1]))
        await wait_until(
            lambda: bool(world.slack.message(ALERT_CHANNEL, alert.ts).replies),
            within_s=45,
            what="the resolution follow-up",
        )
        resolved = world.slack.message(ALERT_CHANNEL, alert.ts)
        assert "Resolved" in text_of(resolved)
        assert "Resolved" in resolved.replies[0].text
        assert len(world.alerts()) == 1


async def test_a_pull_that_recovers_within_grace_pages_nobody(alert_world: AlertWorld) -> None:
    world = alert_world
    world.with_alerts(grace_s=10)
    bad = world.image("api", "deadbee")
    service = world.service()
    async with world.running(service):
        await world.set_image("honeydue", "api", bad)
        await wait_until(lambda: failing(service, bad), within_s=15, what="a failing pull")
        await world.set_image("honeydue", "api", world.image("api", API.current))
        await wait_until(lambda: not failing(service, bad), within_s=8, what="recovery")
        await past_the_grace_period(world)
    assert [text_of(a) for a in world.alerts() if "honeydue/api" in text_of(a)] == []


async def test_fifty_pods_one_message(alert_world: AlertWorld) -> None:
    world = alert_world
    async with world.running(world.service()):
        await world.create_deployment("honeydue", "batch", world.image("api", "deadbee"), 50)
        await wait_until(
            lambda: bool(world.alerts()) and "50 pods" in text_of(world.alerts()[-1]),
            within_s=40,
            what="one message counting 50 pods",
        )
    assert len(world.alerts()) == 1
    assert "honeydue/batch" in text_of(world.alerts()[0])


async def test_restart_neither_repeats_nor_forgets(alert_world: AlertWorld) -> None:
    world = alert_world
    async with world.running(world.service()):
        await world.set_image("honeydue-staging", "admin", world.image("admin", "deadbee"))
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 15, what="an alert")
    ts = world.alerts()[0].ts
    async with world.running(world.service()) as second:
        await wait_until(
            lambda: any(i.ts == ts for i in second.incidents.values()),
            within_s=20,
            what="the restarted service reading the open incident",
        )
        await world.set_image(
            "honeydue-staging", "admin", world.image("admin", SERVICES[2].good[1])
        )
        await wait_until(
            lambda: bool(world.slack.message(ALERT_CHANNEL, ts).replies),
            within_s=45,
            what="the resolution after the restart",
        )
    assert len(world.alerts()) == 1


async def test_pods_of_a_followed_rollout_are_skipped(alert_world: AlertWorld) -> None:
    world = alert_world
    bad = world.image("worker", "deadbee")
    records = Records(world.kube, world.config.deckhand.namespace)
    await records.create(
        DeployRecord(
            id="d1",
            who="U0ALICE001",
            when=datetime.now(UTC),
            env="prod",
            namespace="honeydue",
            tag="deadbee",
            targets=(TargetRecord("worker", "worker", "worker", bad),),
        )
    )
    service = world.service()
    async with world.running(service):
        await world.set_image("honeydue", "worker", bad)
        await wait_until(lambda: failing(service, bad), within_s=15, what="a failing pull")
        await past_the_grace_period(world)
        assert [text_of(a) for a in world.alerts() if "honeydue/worker" in text_of(a)] == []


async def test_over_the_rate_limit_a_summary_counts_the_rest(alert_world: AlertWorld) -> None:
    world = alert_world
    world.with_alerts(rate_limit_per_minute=1)
    async with world.running(world.service()):
        for n in range(3):
            await world.create_deployment("honeydue", f"job{n}", world.image("api", f"bad{n}"), 1)
        await wait_until(
            lambda: len(world.alerts()) == 2 and "2 more" in text_of(world.alerts()[1]),
            within_s=GRACE_S + 15,
            what="one alert and a summary of two more",
        )
    summary = text_of(world.alerts()[1])
    assert summary.count("tag not found") == 2


async def test_slack_refusing_the_post_is_retried_without_duplicates(
    alert_world: AlertWorld,
) -> None:
    world = alert_world
    world.slack.fail_next("chat.postMessage", status=200, error="internal_error", times=2)
    async with world.running(world.service(retry_s=0.5)):
        await world.set_image("honeydue", "api", world.image("api", "deadbee"))
        await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 15, what="the alert")
        await past_the_grace_period(world)  # many retry periods later: nothing else posted
    assert len([a for a in world.alerts() if "honeydue/api" in text_of(a)]) == 1
    assert len(world.slack.calls_to("chat.postMessage")) == 3 + 1  # and the witness's
