"""Deckhand with approvals against the seeded sandbox, restartable, with a movable clock.

`approval_stack(directory, required=…)` starts the sandbox (`SandboxEnv`), a `LocalSlack`
with the honeydue people, and Deckhand through `bot.app.start` (real Bolt, the real
deploy backend with its `ApprovalDesk`), like `tests.bot.deploys.harness.deploy_stack`,
whose `DeployStack` helpers it reuses. Differences the approval scenarios need:

- people: alice (requester), bob (listed approver), carol (a deployer via @devs),
  dave (a member of the approvers' user group @leads only), mallory (outsider);
- `required`, `windows`: prod's `approvals.required` and freeze windows (the config
  file is rewritten before start);
- `clock`: the sandbox's scaled clock plus an offset (`advance(seconds)`): expiry is
  tested without waiting 30 minutes;
- `restart()`: stops Deckhand (its supervisor and clients) and starts a new one on the
  same cluster, registry and Slack: nothing is carried over but the cluster's state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app import start
from bot.http import EVENTS_PATH
from bot.lifecycle import Readiness, ReadinessState, Supervisor
from commands.config import DeckhandConfig
from sandbox.cluster.clock import Clock as SandboxClock
from sandbox.env import (
    APPROVER,
    APPROVERS_GROUP,
    CHANNEL,
    DEVS_GROUP,
    OUTSIDER,
    REQUESTER,
    SandboxEnv,
)
from sandbox.slack import LocalSlack, SlackSender
from sandbox.slack.store import StoredMessage
from tests.bot.deploys.harness import CAROL, DeployStack, block_text, buttons
from tests.fixtures.slack import SIGNING_SECRET, make_slack_settings

DAVE = "U0DAVE0001"
"""An approver only through the @leads user group."""


class ShiftedClock:
    """The sandbox's clock with `now()` moved forward by `advance` (waits are unchanged)."""

    def __init__(self, base: SandboxClock) -> None:
        self._base = base
        self._offset = timedelta()

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self._base.monotonic()

    def now(self) -> datetime:
        return self._base.now() + self._offset

    async def sleep(self, seconds: float) -> None:
        await self._base.sleep(seconds)

    def wall(self, seconds: float) -> float:
        return self._base.wall(seconds)


@dataclass
class ApprovalStack:
    env: SandboxEnv
    slack: LocalSlack
    clock: ShiftedClock
    deckhand: DeployStack
    _stack: AsyncExitStack = field(repr=False)
    _exits: list[AsyncExitStack] = field(default_factory=list, repr=False)
    gitea: bool = False
    """Deckhand reads change notes with the sandbox's `read:repository` token."""

    async def restart(self) -> None:
        """Stop this Deckhand and start a fresh one (same cluster, registry, Slack)."""
        await self._exits.pop().aclose()
        self.deckhand = await _start_deckhand(self)

    async def request(self, text: str = "", *, user: str = REQUESTER) -> StoredMessage:
        """`/deploy TEXT` and wait for its message to become the approval request."""
        before = len(self.deckhand.deploy_messages())
        await self.deckhand.command(text, user=user)
        message = await self.deckhand.wait_message(count=before + 1)
        await self.deckhand.until(lambda: bool(buttons(message)), within_s=20)
        return message

    async def click(
        self, message: StoredMessage, action_id: str, *, user: str, value: str | None = None
    ) -> None:
        value = value if value is not None else approval_id(message)
        status, _ = await self.deckhand.sender.block_action(
            user_id=user,
            channel_id=CHANNEL,
            message_ts=message.ts,
            action_id=action_id,
            value=value,
        )
        assert status == 200

    async def submit(
        self, callback_id: str, *, user: str, view: dict[str, Any], reason: str
    ) -> None:
        status, _ = await self.deckhand.sender.view_submission(
            user_id=user,
            callback_id=callback_id,
            values={"reason": {"reason": {"type": "plain_text_input", "value": reason}}},
            private_metadata=str(view["private_metadata"]),
        )
        assert status == 200

    def text(self, message: StoredMessage) -> str:
        return block_text(message.blocks)

    def prod_image(self, service: str = "api") -> str:
        return self.deckhand.image_of(service, namespace="honeydue")


def approval_id(message: StoredMessage) -> str:
    found = buttons(message)
    assert found, block_text(message.blocks)
    return str(found[0]["value"])


async def _start_deckhand(stack: ApprovalStack) -> DeployStack:
    exits = AsyncExitStack()
    stack._exits.append(exits)
    settings = make_slack_settings(
        stack.slack,
        config=stack.env.config_path,
        kubeconfig=stack.env.kubeconfig,
        registry_username="admin",
        registry_token=stack.env.token,
        slack_update_interval_s=0.5,
        report_retry_interval_s=0.5,
        approval_expiry_interval_s=0.2,
        **({"gitea_token": stack.env.gitea_token} if stack.gitea else {}),
    )
    supervisor = Supervisor(name="approval-scenario")
    exits.push_async_callback(supervisor.close, grace_s=3.0)
    readiness = ReadinessState()
    deckhand = await start(
        settings,
        stack=exits,
        supervisor=supervisor,
        readiness=readiness,
        clock=stack.clock,
    )
    sender = await exits.enter_async_context(
        SlackSender(deckhand.http_url + EVENTS_PATH, SIGNING_SECRET, slack=stack.slack)
    )
    readiness.state = Readiness.READY
    return DeployStack(stack.env, stack.slack, sender, deckhand, supervisor, settings)


def _configure(
    env: SandboxEnv, required: int, windows: list[dict[str, Any]], promote_from: str | None = None
) -> None:
    config = yaml.safe_load(env.config_path.read_text(encoding="utf-8"))
    if promote_from:
        config["environments"]["prod"]["promote_from"] = promote_from
    config["environments"]["prod"]["approvals"]["required"] = required
    config["environments"]["prod"]["approvals"]["windows"] = windows
    env.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@asynccontextmanager
async def approval_stack(
    directory: Path,
    *,
    required: int = 1,
    windows: list[dict[str, Any]] | None = None,
    speed: float = 30.0,
    gitea: bool = False,
    promote_from: str | None = None,
) -> AsyncIterator[ApprovalStack]:
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(SandboxEnv(directory, speed=speed))
        if required != 1 or windows or promote_from:
            _configure(env, required, windows or [], promote_from)
        slack = await stack.enter_async_context(LocalSlack())
        people = ((REQUESTER, "alice"), (APPROVER, "bob"), (CAROL, "carol"), (DAVE, "dave"))
        for user, name in (*people, (OUTSIDER, "mallory")):
            slack.add_user(user, name)
        slack.add_usergroup(DEVS_GROUP, "devs", [CAROL])
        slack.add_usergroup(APPROVERS_GROUP, "leads", [DAVE])
        slack.add_channel(CHANNEL, "deploys")
        slack.invite_bot(*DeckhandConfig.model_validate(env.config()).bot_channels())
        clock = ShiftedClock(env.cluster.clock)
        running = ApprovalStack(env, slack, clock, deckhand=None, _stack=stack, gitea=gitea)  # type: ignore[arg-type]
        running.deckhand = await _start_deckhand(running)
        try:
            yield running
        finally:
            while running._exits:
                await running._exits.pop().aclose()
