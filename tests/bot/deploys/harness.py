"""Deckhand on Slack against the seeded sandbox: the stack the `/deploy` scenarios run on.

`deploy_stack(directory)` starts, in one `AsyncExitStack`:
- `SandboxEnv` (cluster + Gitea registry, the honeydue team seeded, speed `speed`);
- `LocalSlack` with the team's people: alice (requester, a listed deployer), bob
  (approver), carol (a deployer only through the @devs user group), mallory (outsider);
  channels #deploys (allowed) and #random (not);
- Deckhand itself, built by `bot.app.start` as `deckhand run` builds it, in HTTP mode
  (real Bolt, real aiohttp server); only its settings (URLs, kubeconfig, tokens) and the
  engine's clock (the sandbox's scaled one) point at the stand-ins;
- a `SlackSender` that signs slash commands and button clicks.

Helpers wait on what Slack received (never sleep-and-hope): `wait_final` waits for a
deploy message to reach a final phase.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import Deckhand, start
from bot.http import EVENTS_PATH
from bot.kube.client import KubeClient
from bot.kube.kinds import DEPLOYMENTS
from bot.lifecycle import Readiness, ReadinessState, Supervisor
from bot.metrics import Metrics
from bot.rollout.records import DeployRecord, Records, TargetRecord
from bot.settings import Settings
from commands.config import DeckhandConfig
from sandbox.env import (
    APPROVER,
    CHANNEL,
    DECKHAND_NAMESPACE,
    DEVS_GROUP,
    ENVIRONMENTS,
    OUTSIDER,
    REQUESTER,
    SandboxEnv,
)
from sandbox.slack import LocalSlack, SlackSender
from sandbox.slack.store import StoredMessage
from tests.fixtures.slack import SIGNING_SECRET, make_slack_settings

CAROL = "U0CAROL001"
"""A deployer through the @devs user group only."""
OTHER_CHANNEL = "C0RANDOM01"
FINAL_LABELS = ("Succeeded", "Failed", "Refused", "rolled back")


@dataclass
class DeployStack:
    env: SandboxEnv
    slack: LocalSlack
    sender: SlackSender
    deckhand: Deckhand
    supervisor: Supervisor
    settings: Settings
    exits: AsyncExitStack | None = None
    """The stack everything is entered on (another replica can join it)."""

    async def command(self, text: str, *, user: str = REQUESTER, channel: str = CHANNEL) -> int:
        status, _ = await self.sender.slash_command(text, user_id=user, channel_id=channel)
        return status

    def deploy_messages(self) -> list[StoredMessage]:
        return [m for m in self.slack.messages(CHANNEL) if m.thread_ts is None]

    async def until(self, predicate: Callable[[], bool], *, within_s: float) -> None:
        """Until `predicate()` holds; re-checked after every Web API call Slack answers."""
        await self.slack.wait_until(predicate, within_s=within_s)

    async def wait_message(self, *, count: int = 1, within_s: float = 10.0) -> StoredMessage:
        """The `count`-th top-level message of #deploys, once it exists."""
        await self.until(lambda: len(self.deploy_messages()) >= count, within_s=within_s)
        return self.deploy_messages()[count - 1]

    async def wait_final(self, message: StoredMessage, *, within_s: float = 60.0) -> str:
        """Until the message shows a final phase; returns its text (all blocks joined)."""
        await self.until(lambda: is_final(message), within_s=within_s)
        return block_text(message.blocks)

    async def wait_ephemeral(self, user: str, *, count: int = 1, within_s: float = 10.0) -> str:
        await self.until(
            lambda: len(self.slack.ephemerals(user_id=user)) >= count, within_s=within_s
        )
        return self.slack.ephemerals(user_id=user)[count - 1].text

    def deploy_records(self) -> list[dict[str, Any]]:
        """The deploy records (ConfigMaps `deckhand.dev/record=deploy`) as stored now."""
        from sandbox.cluster.resources import CONFIGMAPS

        found, _ = self.env.cluster.store.list(
            CONFIGMAPS, DECKHAND_NAMESPACE, label_selector="deckhand.dev/record=deploy"
        )
        return list(found)

    def image_of(self, service: str, namespace: str = "honeydue-staging") -> str:
        from sandbox.cluster.resources import DEPLOYMENTS

        obj = self.env.cluster.store.get(DEPLOYMENTS, namespace, service)
        return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Every text in `blocks`, joined by newlines (what a person reads)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def is_final(message: StoredMessage) -> bool:
    return any(label in phase_line(message) for label in FINAL_LABELS)


def phase_line(message: StoredMessage) -> str:
    sections = [b for b in message.blocks if b.get("type") == "section"]
    return str(sections[0]["text"]["text"]) if sections else ""


def buttons(message: StoredMessage) -> list[dict[str, Any]]:
    return [
        e
        for b in message.blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("type") == "button"
    ]


@asynccontextmanager
async def deploy_stack(
    directory: Path,
    *,
    speed: float = 30.0,
    prepare: Callable[[SandboxEnv, LocalSlack], Awaitable[None]] | None = None,
    gitea: bool = False,
    metrics: Metrics | None = None,
    **settings: Any,
) -> AsyncIterator[DeployStack]:
    """The stack (see the module docstring); `prepare` runs before Deckhand starts;
    `gitea`: Deckhand reads change notes with the sandbox's `read:repository` token;
    `metrics`: counted as `deckhand run` counts them (its gauges polled)."""
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(SandboxEnv(directory, speed=speed))
        slack = await stack.enter_async_context(LocalSlack())
        for user, name in (
            (REQUESTER, "alice"),
            (APPROVER, "bob"),
            (CAROL, "carol"),
            (OUTSIDER, "mallory"),
        ):
            slack.add_user(user, name)
        slack.add_usergroup(DEVS_GROUP, "devs", [CAROL])
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(OTHER_CHANNEL, "random")  # the bot is not in it
        slack.invite_bot(*DeckhandConfig.model_validate(env.config()).bot_channels())
        if prepare is not None:
            await prepare(env, slack)
        values: dict[str, Any] = {
            "config": env.config_path,
            "kubeconfig": env.kubeconfig,
            "registry_username": "admin",
            "registry_token": env.token,
            "slack_update_interval_s": 1.0,
            "report_retry_interval_s": 0.5,
        }
        if gitea:
            values["gitea_token"] = env.gitea_token
        values.update(settings)
        config = make_slack_settings(slack, **values)
        supervisor = Supervisor(
            name="deploy-scenario", restart_backoff_s=config.task_restart_backoff_s
        )
        readiness = ReadinessState()
        try:
            deckhand = await start(
                config,
                stack=stack,
                supervisor=supervisor,
                readiness=readiness,
                clock=env.cluster.clock,
                metrics=metrics,
            )
        finally:
            # Closed first on the way out: the tasks stop before the clients they use.
            stack.push_async_callback(supervisor.close, grace_s=3.0)
        sender = await stack.enter_async_context(
            SlackSender(deckhand.http_url + EVENTS_PATH, SIGNING_SECRET, slack=slack)
        )
        readiness.state = Readiness.READY
        yield DeployStack(env, slack, sender, deckhand, supervisor, config, stack)


async def leave_a_deploy_in_flight(
    env: SandboxEnv, slack: LocalSlack, kube: KubeClient, *, deploy_id: str, tag: str
) -> str:
    """Play a Deckhand that stopped mid-rollout of `api` `tag` to staging (in a `prepare`,
    before Deckhand starts): its message in #deploys (its ts is returned), the Deployment
    patched to the pinned image, and the deploy record (phase `rolling_out`) pointing at
    that message."""
    ts = slack.seed_message(CHANNEL, f"Deploy api {tag} → staging: Rolling out")
    repo = env.registry.store.repo("admin/honeydue-api")
    assert repo is not None
    digest = repo.tags[tag]
    image = f"{env.repository('api')}:{tag}@{digest}"
    namespace = ENVIRONMENTS["staging"]
    before = await kube.get(DEPLOYMENTS, "api", namespace=namespace)
    previous = before["spec"]["template"]["spec"]["containers"][0]["image"]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": image}]}}}}
    await kube.patch(DEPLOYMENTS, "api", body, namespace=namespace)
    record = DeployRecord(
        id=deploy_id,
        who=REQUESTER,
        when=env.cluster.clock.now(),
        env="staging",
        namespace=namespace,
        tag=tag,
        targets=(TargetRecord("api", "api", "api", image, digest, previous),),
        slack_channel=CHANNEL,
        slack_ts=ts,
    )
    await Records(kube, DECKHAND_NAMESPACE).create(record)
    return ts
