"""The composition root (`bot.app.start`, what `deckhand run` builds) against the seeded
sandbox: settings and config file in; one client to Deckhand's own cluster shared by the
engine and the elector; a supervised `leader-election` task; the replica takes the Lease
`deckhand-leader` as `DECKHAND_POD_NAME`, runs the alerts while leading, and releases
the Lease when the supervisor shuts down. Plus `alerts_enabled`. (Each long-lived task,
killed, coming back and working again: tests/scenarios/test_supervised_tasks.py.)"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml

from bot.alerts.service import alerts_enabled
from bot.app import start
from bot.kube.kinds import LEASES
from bot.lifecycle import ReadinessState, Supervisor
from bot.settings import Settings
from commands.config import DeckhandConfig
from sandbox.env import ALERT_CHANNEL
from tests.bot.alerts.harness import GRACE_S, AlertWorld, alert_world, text_of, wait_until
from tests.fixtures.slack import make_slack_settings

__all__ = ["alert_world"]


def settings_for(world: AlertWorld, tmp_path: Path, **overrides: object) -> Settings:
    """`deckhand run`'s settings against the alert world (its config written to a file)."""
    config_path = tmp_path / "deckhand.yaml"
    config_path.write_text(yaml.safe_dump(world.config.model_dump(mode="json")))
    return make_slack_settings(
        world.slack,
        config=config_path,
        kubeconfig=world.env.kubeconfig,
        registry_username="admin",
        registry_token=world.env.token,
        leader_lease_duration_s=3.0,
        leader_renew_deadline_s=2.0,
        leader_retry_period_s=0.3,
        **overrides,
    )


async def test_start_runs_the_alerts_on_the_leader_and_releases_on_shutdown(
    alert_world: AlertWorld, tmp_path: Path
) -> None:
    world = alert_world
    settings = settings_for(world, tmp_path, pod_name="deckhand-7f9c-abcde")
    supervisor = Supervisor(name="test")
    async with AsyncExitStack() as stack:
        try:
            deckhand = await start(
                settings, stack=stack, supervisor=supervisor, readiness=ReadinessState()
            )
            elector = deckhand.elector
            assert elector.kube is deckhand.core.kube is deckhand.core.engine.kube
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
