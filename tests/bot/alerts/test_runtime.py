"""The `deckhand run` wiring (`bot.alerts.runtime.open_leader`) against the seeded
sandbox: settings and config file in, a supervised `leader-election` task out; the
replica takes the Lease `deckhand-leader` as `DECKHAND_POD_NAME`, runs the alerts while
leading, and releases the Lease when the supervisor shuts down. Plus `alerts_enabled`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml

from bot.alerts.runtime import alerts_enabled, open_leader
from bot.kube.kinds import LEASES
from bot.lifecycle import Supervisor
from commands.config import DeckhandConfig
from sandbox.env import ALERT_CHANNEL
from tests.bot.alerts.harness import GRACE_S, AlertWorld, alert_world, text_of, wait_until
from tests.fixtures.slack import make_slack_settings

__all__ = ["alert_world"]


async def test_open_leader_runs_the_alerts_and_releases_on_shutdown(
    alert_world: AlertWorld, tmp_path: Path
) -> None:
    world = alert_world
    config_path = tmp_path / "deckhand.yaml"
    config_path.write_text(yaml.safe_dump(world.config.model_dump(mode="json")))
    settings = make_slack_settings(
        world.slack,
        config=config_path,
        kubeconfig=world.env.kubeconfig,
        pod_name="deckhand-7f9c-abcde",
        leader_lease_duration_s=3.0,
        leader_renew_deadline_s=2.0,
        leader_retry_period_s=0.3,
    )
    supervisor = Supervisor(name="test")
    async with AsyncExitStack() as stack:
        try:
            elector = await open_leader(settings, stack, supervisor, world.web)
            assert {t.get_name() for t in supervisor.tasks} >= {"leader-election"}
            await wait_until(lambda: elector.is_leader, within_s=5, what="leadership")
            lease = await world.kube.get(LEASES, "deckhand-leader", namespace="deckhand")
            assert lease["spec"]["holderIdentity"] == "deckhand-7f9c-abcde"
            await world.set_image("honeydue", "api", world.image("api", "deadbee"))
            await wait_until(lambda: bool(world.alerts()), within_s=GRACE_S + 15, what="alert")
            assert "tag not found" in text_of(world.slack.messages(ALERT_CHANNEL)[0])
        finally:
            await supervisor.close(grace_s=5.0)
    lease = await world.kube.get(LEASES, "deckhand-leader", namespace="deckhand")
    assert not lease["spec"].get("holderIdentity")


@pytest.mark.parametrize(
    ("alerts", "env_channel", "expected"),
    [
        ({}, None, False),
        ({"channel": "C0ALERTS01"}, None, True),
        ({}, "C0PRODALERTS", True),
    ],
)
def test_alerts_enabled(alerts: dict[str, str], env_channel: str | None, expected: bool) -> None:
    env: dict[str, object] = {"namespace": "honeydue"}
    if env_channel:
        env["alert_channel"] = env_channel
    config = DeckhandConfig.model_validate(
        {
            "services": {
                "api": {
                    "image": "gitea.example.com/admin/api",
                    "deployments": [{"name": "api", "container": "api"}],
                }
            },
            "environments": {"prod": env},
            "alerts": alerts,
        }
    )
    assert alerts_enabled(config) is expected
