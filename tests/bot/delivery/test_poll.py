"""`bot.delivery.Delivery` polling against the sandbox Gitea and cluster, without Slack's
side of a click: one packages API request per owner per poll, the watermark kept in the
cluster (a fresh `Delivery`, as after a restart, finds nothing new), `Retry-After`
honoured (a throttled owner is not asked again before it says), and a claim released
when Slack refuses the announcement.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.delivery.announcer import ANNOUNCE_ATTEMPTS, Delivery, owners_of
from bot.delivery.store import DeliveryStore
from bot.kube.client import KubeClient
from bot.lifecycle import Supervisor
from bot.registry.client import RegistryClient
from bot.rollout.engine import RolloutEngine
from bot.slack.client import open_web_client
from bot.slack.contexts import CommandContext
from commands.config import DeckhandConfig
from commands.delivery import package_rows
from commands.validate import ValidatedDeploy
from sandbox.env import CHANNEL, SandboxEnv
from sandbox.slack import LocalSlack
from tests.fixtures.slack import make_slack_settings

PACKAGES = "/api/v1/packages/"


@dataclass
class World:
    env: SandboxEnv
    slack: LocalSlack
    exits: AsyncExitStack
    supervisor: Supervisor

    async def delivery(self) -> Delivery:
        """A Delivery as one Deckhand process opens it (a second call: a restart)."""
        settings = make_slack_settings(
            self.slack,
            registry_username="admin",
            registry_token=self.env.token,
            kubeconfig=self.env.kubeconfig,
        )
        config = DeckhandConfig.model_validate(self.env.config())
        kube = await self.exits.enter_async_context(KubeClient.from_kubeconfig(self.env.kubeconfig))
        registry = await self.exits.enter_async_context(RegistryClient(settings.registry()))
        client = await self.exits.enter_async_context(open_web_client(settings))
        engine = RolloutEngine(config, kube, registry, self.env.cluster.clock)

        async def no_deploy(ctx: CommandContext, request: ValidatedDeploy) -> None:
            raise AssertionError("no auto-deploy is configured")

        return Delivery(
            config,
            engine=engine,
            registry=registry,
            client=client,
            store=DeliveryStore(kube, config.deckhand.namespace),
            deploy=no_deploy,
            supervisor=self.supervisor,
            update_interval_s=0.05,
            finish_timeout_s=5.0,
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with (
        SandboxEnv(tmp_path / "env", speed=30) as env,
        LocalSlack() as slack,
        AsyncExitStack() as exits,
    ):
        slack.add_channel(CHANNEL, "deploys")
        slack.invite_bot(CHANNEL)
        supervisor = Supervisor(name="poll-test")
        exits.push_async_callback(supervisor.close, grace_s=1.0)
        yield World(env, slack, exits, supervisor)


async def test_one_request_per_owner_a_kept_watermark_and_retry_after(world: World) -> None:
    first = await world.delivery()
    assert len(owners_of(first.config)) == 1  # api, worker, admin: all under `admin`
    registry = world.env.registry
    before = registry.count("GET", PACKAGES)
    await first.poll_once()  # sets the watermark: the seeded tags are not announced
    assert registry.count("GET", PACKAGES) == before + 1
    assert first.announced == 0

    world.env.push("api", "abc1234")
    await first.poll_once()
    assert first.announced == 1
    assert registry.count("GET", PACKAGES) == before + 2

    restarted = await world.delivery()
    await restarted.poll_once()
    assert restarted.announced == 0  # the watermark and the claim live in the cluster
    raw = await restarted.registry.package_versions(
        owners_of(restarted.config)[0].registry, "admin", query="honeydue-"
    )
    (pushed,) = [r for r in package_rows(raw) if r.version == "abc1234"]
    assert await restarted.on_version(pushed, via="webhook") is False  # a late webhook

    registry.fail_next(1, 429, retry_after=3600, match=PACKAGES)
    await restarted.poll_once()
    asked = registry.count("GET", PACKAGES)
    await restarted.poll_once()  # within Retry-After: not asked at all
    assert registry.count("GET", PACKAGES) == asked
    assert restarted.requests == 2  # the skipped poll made no request
    top = [m for m in world.slack.messages(CHANNEL) if m.thread_ts is None]
    assert len(top) == 1


async def test_an_announcement_slack_refuses_releases_its_claim(world: World) -> None:
    """The bot was removed from the channel: nothing is announced and the claim goes, so
    a redelivery after the invite announces it (exactly once)."""
    delivery = await world.delivery()
    world.env.push("api", "abc9999")
    raw = await delivery.registry.package_versions(
        owners_of(delivery.config)[0].registry, "admin", query="honeydue-"
    )
    (pushed,) = [r for r in package_rows(raw) if r.version == "abc9999"]
    world.slack.remove_bot(CHANNEL)
    assert await delivery.on_version(pushed, via="webhook") is False
    world.slack.invite_bot(CHANNEL)
    assert await delivery.on_version(pushed, via="webhook") is True
    assert await delivery.on_version(pushed, via="poll") is False
    assert delivery.announced == 1


async def test_a_refused_announcement_is_retried_by_the_process_that_got_it(world: World) -> None:
    """Found by the poll while the bot was out of the channel: the poll's watermark has
    moved past it, so only the retry can announce it, once, after the invite."""
    delivery = await world.delivery()
    await delivery.poll_once()  # the watermark
    world.env.push("api", "abc7777")
    world.slack.remove_bot(CHANNEL)
    await delivery.poll_once()
    assert delivery.announced == 0
    assert await delivery.retry_refused() == 0  # still out of the channel: refused again
    await delivery.poll_once()  # the poll has moved on: it never finds the tag again
    assert delivery.announced == 0
    world.slack.invite_bot(CHANNEL)
    assert await delivery.retry_refused() == 1
    assert await delivery.retry_refused() == 0  # nothing left to retry
    top = [m for m in world.slack.messages(CHANNEL) if m.thread_ts is None]
    assert [m for m in top if "abc7777" in m.text]
    assert len(top) == 1


async def test_a_refused_announcement_is_given_up_after_its_attempts(world: World) -> None:
    delivery = await world.delivery()
    world.env.push("api", "abc6666")
    raw = await delivery.registry.package_versions(
        owners_of(delivery.config)[0].registry, "admin", query="honeydue-"
    )
    (pushed,) = [r for r in package_rows(raw) if r.version == "abc6666"]
    world.slack.remove_bot(CHANNEL)
    assert await delivery.on_version(pushed, via="webhook") is False
    for _ in range(ANNOUNCE_ATTEMPTS - 1):
        assert await delivery.retry_refused() == 0
    world.slack.invite_bot(CHANNEL)
    assert await delivery.retry_refused() == 0  # given up: nothing is retried any more
    assert delivery.announced == 0
