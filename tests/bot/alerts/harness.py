"""The alert tests' world: the seeded sandbox (cluster + Gitea registry), LocalSlack,
and Deckhand's clients on them — fixtures and helpers shared with tests/scenarios.

- `alert_world`: a started `AlertWorld` (sandbox env at speed 40, alert channel
  `C0ALERTS01`, `alerts.grace_s` 1, rate limit 10/min); `world.service()` builds an
  `AlertService` on it, `world.running(service)` runs one for the body of a block.
- `wait_until(predicate, within_s)`: the tests' one polling helper, with a deadline.
- `past_the_grace_period(world)`: until a witness incident, failing from now on, is
  alerted: the event that proves the service judged every earlier failure past its grace
  (absence of an alert is asserted after it, never after a sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.service import AlertService
from bot.kube.client import KubeClient, KubeOptions
from bot.kube.kinds import DEPLOYMENTS, PODS
from bot.registry.client import RegistryClient
from bot.settings import RegistrySettings
from bot.slack.client import open_web_client
from bot.tasks import background
from commands.config import DeckhandConfig
from sandbox.env import ALERT_CHANNEL, SandboxEnv
from sandbox.slack import LocalSlack
from sandbox.slack.store import StoredMessage
from tests.fixtures.slack import make_slack_settings

GRACE_S = 1
SPEED = 40.0


async def wait_until(
    predicate: Callable[[], bool], *, within_s: float, what: str = "condition"
) -> None:
    """Until `predicate()` holds; fails the test after `within_s` seconds."""
    try:
        async with asyncio.timeout(within_s):
            while not predicate():  # noqa: ASYNC110 (reading stand-ins, no event to wait on)
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"{what} not met within {within_s} s")


@dataclass
class AlertWorld:
    env: SandboxEnv
    slack: LocalSlack
    kube: KubeClient
    web: AsyncWebClient
    config: DeckhandConfig
    registry: RegistryClient

    def service(self, **overrides: Any) -> AlertService:
        return AlertService(
            self.kube,
            self.web,
            config=self.config,
            registry=self.registry,
            **overrides,
        )

    def with_alerts(self, **alerts: Any) -> None:
        data = self.config.model_dump(mode="json")
        data["alerts"].update(alerts)
        self.config = DeckhandConfig.model_validate(data)

    @contextlib.asynccontextmanager
    async def running(self, service: AlertService) -> AsyncIterator[AlertService]:
        """`service.run()` for the body of the block, cancelled (and awaited) after."""
        async with background({"alert-service": service.run()}):
            yield service

    def alerts(self) -> list[StoredMessage]:
        return self.slack.messages(ALERT_CHANNEL)

    def image(self, service: str, tag: str) -> str:
        return f"{self.env.repository(service)}:{tag}"

    async def set_image(self, namespace: str, deployment: str, image: str) -> None:
        """What `kubectl set image` sends (strategic merge on the container by name)."""
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": deployment, "image": image}]}}}
        }
        await self.kube.patch(DEPLOYMENTS, deployment, patch, namespace=namespace)

    async def create_deployment(self, namespace: str, name: str, image: str, replicas: int) -> None:
        labels = {"app": name}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "imagePullSecrets": [{"name": "gitea-credentials"}],
                        "containers": [{"name": name, "image": image}],
                    },
                },
            },
        }
        await self.kube.create(DEPLOYMENTS, body, namespace=namespace)

    async def pods(self, namespace: str, app: str) -> list[dict[str, Any]]:
        return (await self.kube.list(PODS, namespace=namespace, label_selector=f"app={app}")).items


def text_of(message: StoredMessage) -> str:
    """Everything a person reads in a message: its text and its blocks' texts."""
    parts = [message.text]
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
    return "\n".join(parts)


async def past_the_grace_period(world: AlertWorld) -> None:
    """Until a witness (a Deployment failing its pull from now on) is alerted: its grace
    period began after the one under test, so the service has judged that one too."""
    await world.create_deployment("honeydue", "witness", world.image("api", "badc0de"), 1)
    await wait_until(
        lambda: any("honeydue/witness" in text_of(a) for a in world.alerts()),
        within_s=GRACE_S + 30,
        what="the witness's alert",
    )


@contextlib.asynccontextmanager
async def open_world(directory: Path) -> AsyncIterator[AlertWorld]:
    async with AsyncExitStack() as stack:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "shutdown_timeout", DeprecationWarning)
            env = await stack.enter_async_context(SandboxEnv(directory, speed=SPEED))
        slack = await stack.enter_async_context(LocalSlack())
        options = KubeOptions(request_timeout_s=5, watch_timeout_s=3, watch_read_timeout_s=6)
        kube = await stack.enter_async_context(
            KubeClient.from_kubeconfig(env.kubeconfig, options=options)
        )
        web = await stack.enter_async_context(open_web_client(make_slack_settings(slack)))
        registry = await stack.enter_async_context(
            RegistryClient(
                RegistrySettings(
                    username="admin", token=env.token, timeout_s=5.0, retry_backoff_s=[0.05]
                )
            )
        )
        config = env.config()
        config["alerts"] = {"channel": ALERT_CHANNEL, "grace_s": GRACE_S}
        deckhand_config = DeckhandConfig.model_validate(config)
        slack.invite_bot(*deckhand_config.bot_channels())
        yield AlertWorld(env, slack, kube, web, deckhand_config, registry)


@pytest.fixture
async def alert_world(tmp_path: Path) -> AsyncIterator[AlertWorld]:
    async with open_world(tmp_path / "sandbox") as world:
        yield world
