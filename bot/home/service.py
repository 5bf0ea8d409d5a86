"""The App Home tab: published when a user opens it, refreshed after deploys end.

    home = HomeService(config, engine, client)
    await home.handle_home(HomeContext(...))       app_home_opened → views.publish
    await home.handle_action(action)               a row's History button → views.open
    await home.follow_deploys()                     (supervised) refresh recent openers

A row per service and environment (`commands.home.home_row`): the running tag, its
readiness, since when and by whom (Deckhand's last successful deploy of that image),
drift (something else runs), the lock and its reason, a pending approval, an open
incident. Read fresh for every publish: Deployments of each env's namespace, deploy
records, locks, approvals, incidents; a source that can't be read leaves its column
empty, it doesn't fail the tab.

Users who opened the tab in the last `recent_s` get it republished when a deploy record
reaches a final phase. `views.publish` is Tier 4 (100+/min): at most
`max_publishes_per_minute` publishes a minute in all, and a refresh at most one per
user per `min_interval_s`: one over the budget waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.incidents import IncidentStore
from bot.approvals.store import ApprovalStore
from bot.deploys.read_answers import history_text
from bot.home.view import home_view
from bot.kube.errors import KubeError
from bot.kube.kinds import CONFIGMAPS, DEPLOYMENTS, KubeObject
from bot.kube.watch import watch
from bot.rollout.engine import HistoryView, RolloutEngine
from bot.rollout.records import RecordPhase, from_configmap
from bot.slack import writes
from bot.slack.blocks import section
from bot.slack.client import SlackError
from bot.slack.contexts import (
    ActionContext,
    CommandContext,
    DeployBackend,
    HomeContext,
    ViewBackend,
    ViewContext,
)
from commands import texts
from commands.config import DeckhandConfig
from commands.home import HISTORY_ACTION, HomeRow, home_row
from commands.incidents import Phase
from commands.requests import History, Refusal, RefusalCode
from commands.validate import ValidatedHistory, validate

log = logging.getLogger(__name__)
T = TypeVar("T")

DEPLOY_RECORDS = "deckhand.dev/record=deploy"


@dataclass
class HomeService:
    config: DeckhandConfig
    engine: RolloutEngine
    client: AsyncWebClient
    timeout_s: float = 20.0
    recent_s: float = 1800.0
    min_interval_s: float = 5.0
    max_publishes_per_minute: int = 100
    openers: dict[str, datetime] = field(default_factory=dict)
    _published: dict[str, datetime] = field(default_factory=dict)
    _window: deque[datetime] = field(default_factory=deque)

    def __post_init__(self) -> None:
        namespace = self.config.deckhand.namespace
        self.approvals = ApprovalStore(self.engine.kube, namespace)
        self.incidents = IncidentStore(self.engine.kube, namespace)

    @staticmethod
    def now() -> datetime:
        return datetime.now().astimezone()

    async def handle_home(self, home: HomeContext) -> None:
        self.openers[home.user_id] = self.now()
        await self.publish(home.user_id, force=True)

    async def handle_action(self, action: ActionContext) -> None:
        if not action.action_id.startswith(HISTORY_ACTION) or not action.trigger_id:
            return
        service, _, env = action.value.partition(" ")

        def modal(text: str) -> dict[str, Any]:
            return {
                "type": "modal",
                "title": {"type": "plain_text", "text": texts.home_history_title(service, env)},
                "close": {"type": "plain_text", "text": texts.CLOSE_LABEL},
                "blocks": [section(text)],
            }

        # Opened first: the trigger_id expires 3 s after the click; the history follows.
        async with asyncio.timeout(self.timeout_s):
            view_id = await writes.open_view(
                self.client, trigger_id=action.trigger_id, view=modal(texts.home_history_loading())
            )
        valid = validate(History(service, env or None), self.engine.config)  # may be forged
        try:
            view: HistoryView | Refusal = (
                await self.engine.history(valid)
                if isinstance(valid, ValidatedHistory)
                else Refusal(RefusalCode.INVALID_REQUEST, getattr(valid, "text", ""))
            )
        except (ValueError, KubeError) as e:
            text = str(e)
        else:
            text = history_text(view) if isinstance(view, HistoryView) else view.text
        async with asyncio.timeout(self.timeout_s):
            await writes.update_view(self.client, view_id=view_id, view=modal(text))

    def _delay(self, user: str, *, force: bool) -> float:
        """Seconds until `user` may get a publish (0: now; counted as sent)."""
        now = self.now()
        while self._window and now - self._window[0] > timedelta(minutes=1):
            self._window.popleft()
        wait = 0.0
        if len(self._window) >= self.max_publishes_per_minute:
            wait = (self._window[0] + timedelta(minutes=1) - now).total_seconds()
        last = self._published.get(user)
        if not force and last is not None:
            wait = max(wait, (last + timedelta(seconds=self.min_interval_s) - now).total_seconds())
        if wait <= 0:
            self._window.append(now)
            self._published[user] = now
        return max(0.0, wait)

    async def publish(self, user: str, *, force: bool = False) -> bool:
        """Publish the tab for `user`, waiting for the rate budget (False: Slack refused)."""
        wait = self._delay(user, force=force)
        for _ in range(3):  # the budget frees within a minute: a few waits at most
            if wait <= 0:
                break
            await asyncio.sleep(wait)
            wait = self._delay(user, force=force)
        else:
            return False
        view = home_view(
            await self.rows(),
            namespaces={name: env.namespace for name, env in self.config.environments.items()},
            now=self.now(),
        )
        try:
            async with asyncio.timeout(self.timeout_s):
                await writes.publish_view(self.client, user_id=user, view=view)
        except (SlackError, TimeoutError) as e:
            log.warning("home: views.publish for %s failed: %s", user, e)
            return False
        return True

    async def rows(self) -> list[HomeRow]:
        pending = await self._quietly(self.approvals.pending(), [])
        stored = await self._quietly(self.incidents.load(), {})
        rows = []
        for env_name, env in self.config.environments.items():
            kube = self.engine.cluster(env_name)
            listed = await self._quietly(kube.list(DEPLOYMENTS, namespace=env.namespace), None)
            by_name = {
                str((d.get("metadata") or {}).get("name")): d
                for d in (listed.items if listed else [])
            }
            for service_name, service in self.config.services.items():
                target = service.deployments[0]
                records = await self._quietly(
                    self.engine.records.history(service_name, env_name, 10), []
                )
                deployed = next(
                    (
                        (t.image, r.who, r.when)
                        for r in records
                        if r.phase is RecordPhase.SUCCEEDED and not r.rolled_back
                        for t in r.targets
                        if t.deployment == target.name
                    ),
                    None,
                )
                holder = await self._quietly(self.engine.locks.holder(service_name, env_name), None)
                lock = None
                if holder is not None:
                    why = holder.why if holder.manual else f"deploy {holder.holder} in progress"
                    lock = f"<@{holder.who}>" + (f": {why}" if why else "")
                approvals = [
                    (f"<@{a.requested_by}>", a.tag)
                    for a in pending
                    if a.env == env_name and service_name in a.services
                ]
                incidents = [
                    i.cause_label or i.key.cause.value
                    for i in stored.values()
                    if i.phase is Phase.OPEN
                    and i.key.namespace == env.namespace
                    and i.key.workload in {d.name for d in service.deployments}
                ]
                rows.append(
                    home_row(
                        env=env_name,
                        service=service_name,
                        deployment=by_name.get(target.name),
                        container=target.container,
                        deployed=deployed,
                        lock=lock,
                        approvals=approvals,
                        incidents=incidents,
                    )
                )
        return rows

    async def _quietly(self, call: Awaitable[T], default: T) -> T:
        """`await call`, or `default` when the API can't answer (the column stays empty)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                return await call
        except (KubeError, TimeoutError) as e:
            log.info("home: a source is unreadable (%s)", e)
            return default

    async def refresh_recent(self) -> int:
        """Republish for users who opened the tab in the last `recent_s`; how many got it."""
        now = self.now()
        recent = [u for u, t in self.openers.items() if now - t < timedelta(seconds=self.recent_s)]
        for user in [u for u in self.openers if u not in recent]:
            del self.openers[user]
        done = 0
        for user in recent:
            done += await self.publish(user)
        return done

    async def follow_deploys(self) -> None:
        """Refresh recent openers whenever a deploy record reaches a final phase."""
        namespace = self.config.deckhand.namespace
        phases: dict[str, RecordPhase] = {}
        while True:
            try:
                events = watch(
                    self.engine.kube, CONFIGMAPS, namespace=namespace, label_selector=DEPLOY_RECORDS
                )
                async with contextlib.aclosing(events):
                    async for event in events:
                        if self._ended(event.object, phases) and self.openers:
                            await self.refresh_recent()
            except KubeError as e:
                log.warning("home: watching deploy records failed (%s)", e)
            await asyncio.sleep(1.0)

    @staticmethod
    def _ended(obj: KubeObject, phases: dict[str, RecordPhase]) -> bool:
        try:
            record = from_configmap(obj)
        except (ValueError, KeyError, TypeError):
            return False
        before = phases.get(record.id)
        phases[record.id] = record.phase
        return before is RecordPhase.ROLLING_OUT and record.phase is not RecordPhase.ROLLING_OUT


@dataclass
class WithHome:
    """A deploy backend that also answers the Home tab (its History clicks included)."""

    inner: DeployBackend
    home: HomeService

    @property
    def http_hooks(self) -> Any:
        """The inner backend's own HTTP routes (`POST /hooks/gitea`), for `bot.app`."""
        return getattr(self.inner, "http_hooks", None)

    async def handle_command(self, request: CommandContext) -> None:
        await self.inner.handle_command(request)

    async def handle_action(self, action: ActionContext) -> None:
        if action.action_id.startswith(HISTORY_ACTION):
            await self.home.handle_action(action)
        else:
            await self.inner.handle_action(action)

    def check_view(self, view: ViewContext) -> Mapping[str, str]:
        return self.inner.check_view(view) if isinstance(self.inner, ViewBackend) else {}

    async def handle_view(self, view: ViewContext) -> None:
        if isinstance(self.inner, ViewBackend):
            await self.inner.handle_view(view)

    async def handle_home(self, home: HomeContext) -> None:
        await self.home.handle_home(home)
