"""Each long-lived task of a running Deckhand (`bot.app.start`, what `deckhand run`
builds, against the seeded sandbox and LocalSlack), killed, comes back AND works again.

A task is killed by cancelling it from outside, as a crash inside it would end it (no
patching of Deckhand's own modules). The supervisor restarts a kept task after its
back-off; a killed leader job gives leadership up, and the next campaign starts every
leader job again. Then the task's own next event is processed:

| task                     | killed, then                                         |
|--------------------------|------------------------------------------------------|
| leader-election          | a prod approval request expires (leader work again)  |
| leader-approval-expiry   | a prod approval request expires                      |
| leader-deploy-sweep      | a finished deploy's lock, left taken, is released    |
| leader-alerts            | a pod pulling a missing tag is alerted               |
| leader-drift             | an image set by hand is noticed                      |
| leader-packages-poll     | a new tag pushed to Gitea is announced               |
| leader-auto-deploy       | a push held by a lock goes out once it is lifted     |
| home-refresh             | a deploy's end re-publishes a recent opener's Home   |
| metrics-gauges           | a new approval request is counted in the gauge       |

The Socket Mode watchdog has its own tests (tests/bot/slack/test_socket_mode.py:
killed → restarted; tests/scenarios/test_fatal_task.py: can't restart → exit 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.clock import micro_time
from bot.metrics import Metrics
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import CONFIGMAPS, DEPLOYMENTS, LEASES
from sandbox.env import (
    ALERT_CHANNEL,
    CHANNEL,
    DECKHAND_NAMESPACE,
    ENVIRONMENTS,
    REQUESTER,
    SERVICES,
    SandboxEnv,
)
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import DeployStack, block_text, buttons, deploy_stack

pytestmark = pytest.mark.slow

API, WORKER = SERVICES[0], SERVICES[1]
DRIFT_RECORDS = "deckhand.dev/record=drift"
WATERMARKS = "deckhand.dev/record=packages-watermark"
STAGING_LOCK = "deckhand-lock-api-staging"


async def configure(env: SandboxEnv, slack: LocalSlack) -> None:
    """Prod's approval requests expire after one (sandbox) minute (2 s at speed 30);
    staging deploys every good new tag (auto-deploy)."""
    config = yaml.safe_load(env.config_path.read_text(encoding="utf-8"))
    config["environments"]["prod"]["approvals"]["expiry_minutes"] = 1
    config["environments"]["staging"]["auto_deploy"] = True
    env.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(
        tmp_path / "env",
        prepare=configure,
        metrics=Metrics(version="test"),
        task_restart_backoff_s=[0.05],
        approval_expiry_interval_s=0.2,
        metrics_interval_s=0.2,
        packages_poll_interval_s=0.5,
        auto_deploy_interval_s=0.5,
        leader_lease_duration_s=3.0,
        leader_renew_deadline_s=2.0,
        leader_retry_period_s=0.3,
    ) as running:
        yield running


def running(name: str) -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def kill(name: str) -> None:
    """Cancel the task `name`; return once another task of that name runs."""
    async with asyncio.timeout(15):
        while len(running(name)) != 1:  # noqa: ASYNC110 (tasks: no event to wait on)
            await asyncio.sleep(0.02)
        (victim,) = running(name)
        victim.cancel()
        while [t for t in running(name) if t is not victim] == []:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


# ---- each task's next event ----


async def an_approval_request_expires(stack: DeployStack) -> None:
    before = len(stack.deploy_messages())
    await stack.command(f"api {API.good[2]} to prod")
    message = await stack.wait_message(count=before + 1, within_s=20)
    await stack.until(lambda: bool(buttons(message)), within_s=20)
    await stack.until(lambda: not buttons(message), within_s=30)
    assert "Expired" in block_text(message.blocks)


async def a_left_lock_is_released(stack: DeployStack) -> None:
    before = len(stack.deploy_messages())
    await stack.command(f"api {API.good[1]}")  # staging
    message = await stack.wait_message(count=before + 1, within_s=20)
    assert "Succeeded" in await stack.wait_final(message)
    (record,) = [r for r in stack.deploy_records() if r["data"].get("slack_ts") == message.ts]
    deploy_id = record["data"]["id"]
    store = stack.env.cluster.store
    name = STAGING_LOCK

    def taken(lease: dict[str, Any]) -> dict[str, Any]:
        # As if that Deckhand died between its final record and the release.
        lease["spec"] = {
            "holderIdentity": deploy_id,
            "leaseDurationSeconds": 3600,
            "renewTime": micro_time(stack.env.cluster.clock.now()),
        }
        notes = {"deckhand.dev/service": "api", "deckhand.dev/env": "staging"}
        lease["metadata"]["annotations"] = notes
        return lease

    store.mutate(LEASES, DECKHAND_NAMESPACE, name, taken)

    await store.wait_until(lambda: lock_holder(stack) == "", within_s=20)


async def a_missing_tag_is_alerted(stack: DeployStack) -> None:
    image = f"{stack.env.repository('api')}:deadbee"
    await set_image(stack, ENVIRONMENTS["staging"], "api", image)
    await stack.until(
        lambda: any("tag not found" in block_text(m.blocks) for m in alerts(stack)),
        within_s=30,
    )


async def a_hand_made_change_is_noticed(stack: DeployStack) -> None:
    store = stack.env.cluster.store
    watched = len(SERVICES) * len(ENVIRONMENTS)

    def baselines() -> int:  # what drift accounted for: a change after it is noticed
        found, _ = store.list(CONFIGMAPS, DECKHAND_NAMESPACE, label_selector=DRIFT_RECORDS)
        return len(found)

    await store.wait_until(lambda: baselines() >= watched, within_s=20)
    image = f"{stack.env.repository('worker')}:{WORKER.good[1]}"
    await set_image(stack, ENVIRONMENTS["prod"], "worker", image)
    await stack.until(
        lambda: any(WORKER.good[1] in block_text(m.blocks) for m in alerts(stack)),
        within_s=30,
    )


async def polled_once(stack: DeployStack) -> None:
    """Polling has its watermark: a tag pushed now is new (one pushed before the very
    first poll is part of the baseline, never announced, by design)."""
    store = stack.env.cluster.store

    def marks() -> int:
        found, _ = store.list(CONFIGMAPS, DECKHAND_NAMESPACE, label_selector=WATERMARKS)
        return len(found)

    await store.wait_until(lambda: marks() >= 1, within_s=20)


async def a_push_is_announced(stack: DeployStack) -> None:
    await polled_once(stack)
    stack.env.push("api", "feed001", creator="alice")
    await stack.until(
        lambda: any("feed001" in block_text(m.blocks) for m in stack.slack.messages(CHANNEL)),
        within_s=30,
    )


async def a_held_push_goes_out_when_unlocked(stack: DeployStack) -> None:
    await stack.command("lock api staging release freeze")
    await stack.env.cluster.store.wait_until(lambda: lock_holder(stack) != "", within_s=10)
    await polled_once(stack)
    stack.env.push("api", "feed002", creator="bob")
    await stack.until(
        lambda: any("feed002" in block_text(m.blocks) for m in stack.slack.messages(CHANNEL)),
        within_s=30,
    )
    assert "feed002" not in stack.image_of("api")  # held by the lock
    await stack.command("unlock api staging")
    await stack.env.cluster.store.wait_until(
        lambda: ":feed002@sha256:" in stack.image_of("api"), within_s=30
    )


async def a_deploy_end_refreshes_home(stack: DeployStack) -> None:
    status, _ = await stack.sender.app_home_opened(user_id=REQUESTER)
    assert status == 200
    await stack.until(lambda: len(stack.slack.calls_to("views.publish")) >= 1, within_s=10)
    published = len(stack.slack.calls_to("views.publish"))
    before = len(stack.deploy_messages())
    await stack.command(f"api {API.good[1]}")
    message = await stack.wait_message(count=before + 1, within_s=20)
    await stack.wait_final(message)
    await stack.until(lambda: len(stack.slack.calls_to("views.publish")) > published, within_s=20)


async def a_request_is_counted(stack: DeployStack) -> None:
    metrics = stack.deckhand.metrics
    assert metrics is not None
    await stack.command(f"api {API.good[2]} to prod")

    def counted() -> bool:
        return "deckhand_approvals_pending 1.0" in metrics.render().decode()

    async with asyncio.timeout(20):
        while not counted():  # noqa: ASYNC110 (a gauge: no event to wait on)
            await asyncio.sleep(0.05)


def lock_holder(stack: DeployStack) -> str:
    """Who holds `api`'s staging lock ('' when free)."""
    try:
        lease = stack.env.cluster.store.get(LEASES, DECKHAND_NAMESPACE, STAGING_LOCK)
    except ApiError:
        return ""
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def alerts(stack: DeployStack) -> list[Any]:
    return stack.slack.messages(ALERT_CHANNEL)


async def set_image(stack: DeployStack, namespace: str, name: str, image: str) -> None:
    """What `kubectl set image` changes (as its field manager), straight in the cluster."""

    def patched(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
        return obj

    stack.env.cluster.store.mutate(DEPLOYMENTS, namespace, name, patched, manager="kubectl")


Probe = Callable[[DeployStack], Awaitable[None]]


@pytest.mark.parametrize(
    ("task", "works"),
    [
        ("leader-election", an_approval_request_expires),
        ("leader-approval-expiry", an_approval_request_expires),
        ("leader-deploy-sweep", a_left_lock_is_released),
        ("leader-alerts", a_missing_tag_is_alerted),
        ("leader-drift", a_hand_made_change_is_noticed),
        ("leader-packages-poll", a_push_is_announced),
        ("leader-auto-deploy", a_held_push_goes_out_when_unlocked),
        ("home-refresh", a_deploy_end_refreshes_home),
        ("metrics-gauges", a_request_is_counted),
    ],
)
async def test_a_killed_task_comes_back_and_works(
    stack: DeployStack, task: str, works: Probe
) -> None:
    await kill(task)
    await works(stack)
