"""The workload alert service: watch, decide, tell Slack; one loop, leader-only.

Image pulls, and (`commands.health`, `bot.alerts.workload`) crash loops, OOM kills,
probe kills, unschedulable and evicted pods: the same incidents, one per
(namespace, workload, image, cause).

    service = AlertService(kube, slack_client, config=config, registry=registry_client)
    await service.run()      # until cancelled; run it under `bot.leader.LeaderElector`

`run` reads the cluster (`ClusterView.sync`) and the stored incidents, then loops:
evaluate every incident key with `commands.incidents.decide` and act, then wait for the
next change of the view or the end of the earliest grace period, whichever comes
first (every wait has that deadline; there is no polling interval). Changes arriving
within `coalesce_s` are handled together, so fifty pods failing at once make one
message, not fifty updates.

Acting:
- OPEN: re-check the registry with the namespace's own pull secret (the env's
  `pull_secret`, else the pods' `imagePullSecrets`; `bot.rollout.recheck`), word the
  diagnosis and fix (`commands.diagnosis.explain`), claim the incident's ConfigMap,
  then post it in the env's `alert_channel` (else `alerts.channel`) or, over the
  channel's rate limit, add it to the channel's summary message.
- UPDATE: new pod and node counts on the same message (at most one edit per
  `update_interval`; the newest counts win).
- RESOLVE: the message marked resolved, a follow-up in its thread, phase stored.
An incident claimed but never posted (Slack failed, or Deckhand died in between) is
posted on the next evaluation. Slack and API failures are logged and retried on the
next evaluation; they never end the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.incidents import IncidentStore
from bot.alerts.notifier import Notifier
from bot.alerts.watcher import ClusterView
from bot.alerts.workload import diagnose_workload
from bot.clock import Clock, SystemClock
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.registry.client import RegistryClient
from bot.rollout.explain import recheck_verdict
from bot.rollout.recheck import PullRecheck, RecheckResult, recheck_pull
from bot.slack.client import SlackError
from bot.tasks import background
from commands import diagnosis, texts
from commands.config import DeckhandConfig
from commands.diagnosis import Cause, Finding
from commands.health import WORKLOAD_CAUSES
from commands.incidents import (
    Act,
    Group,
    Incident,
    IncidentKey,
    Phase,
    admit,
    adopt_unknown,
    aggregate,
    current_summary,
    decide,
    next_deadline,
)

log = logging.getLogger(__name__)


def alerts_enabled(config: DeckhandConfig) -> bool:
    """Some channel receives alerts: `alerts.channel` or an env's `alert_channel` (pure)."""
    return config.alerts.channel is not None or any(
        env.alert_channel for env in config.environments.values()
    )


def alert_channel(config: DeckhandConfig, namespace: str) -> str | None:
    """Where alerts of `namespace` go: its env's `alert_channel`, else `alerts.channel` (pure)."""
    for env in config.environments.values():
        if env.namespace == namespace and env.alert_channel:
            return env.alert_channel
    return config.alerts.channel


def env_pull_secret(config: DeckhandConfig, namespace: str) -> str | None:
    for env in config.environments.values():
        if env.namespace == namespace:
            return env.pull_secret
    return None


@dataclass
class AlertService:
    kube: KubeClient
    slack: AsyncWebClient
    config: DeckhandConfig
    registry: RegistryClient
    """The one registry client; pull re-checks ask it with the namespace's pull secret."""
    clock: Clock = field(default_factory=SystemClock)
    coalesce_s: float = 0.2
    recheck_timeout_s: float = 30.0
    slack_timeout_s: float = 30.0
    retry_s: float = 5.0
    """After a failed Slack or API call, the next evaluation comes at most this much later."""
    update_interval: timedelta = timedelta(seconds=2)
    """At most one count update per incident message this often (Slack rate limits)."""
    record_on_cancel_s: float = 5.0
    """On shutdown, how long recording an already-sent Slack change may still take."""
    keep_resolved: timedelta = timedelta(days=1)
    """Resolved incidents' ConfigMaps are deleted after this long (at start-up)."""
    incidents: dict[IncidentKey, Incident] = field(default_factory=dict)
    _updated: dict[IncidentKey, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = IncidentStore(self.kube, self.config.deckhand.namespace)
        self.notifier = Notifier(self.slack, timeout_s=self.slack_timeout_s)
        self.view = self._new_view()

    def _new_view(self) -> ClusterView:
        return ClusterView(
            self.kube,
            namespaces=self.config.alert_namespaces(),
            deckhand_namespace=self.config.deckhand.namespace,
            clock=self.clock,
            alerts=self.config.alerts,
        )

    async def run(self) -> None:
        """Sync, then evaluate on every change until cancelled (see the module docstring).

        Each run starts from the cluster afresh (a leader that lost and regained the
        Lease must not trust what it saw before)."""
        self.view = self._new_view()
        await self.view.sync()
        expired = await self.store.expire_resolved(before=self.clock.now() - self.keep_resolved)
        if expired:
            log.info("alerts: deleted %d resolved incident(s)", expired)
        self.incidents = await self.store.load()
        log.info(
            "alerts: watching %s; %d open incident(s)",
            ", ".join(self.view.namespaces),
            sum(1 for i in self.incidents.values() if i.phase is Phase.OPEN),
        )
        async with background(self.view.streams()):
            while True:
                self.view.changed.clear()
                deadline = await self.evaluate()
                await self._wait(deadline)

    async def _wait(self, deadline: datetime | None) -> None:
        timeout = None
        if deadline is not None:
            timeout = max(0.0, self.clock.wall((deadline - self.clock.now()).total_seconds()))
        try:
            async with asyncio.timeout(timeout):
                await self.view.changed.wait()
        except TimeoutError:
            return
        await asyncio.sleep(self.coalesce_s)  # let a burst of changes land together

    async def evaluate(self) -> datetime | None:
        """Decide and act on every key once; returns when to evaluate again at the latest
        (a grace period ends, a held-back update is due, a failed call is retried)."""
        now = self.clock.now()
        grace = self.config.alerts.grace_s
        open_keys = [k for k, i in self.incidents.items() if i.phase is Phase.OPEN]
        groups = aggregate(adopt_unknown(self.view.failures(), open_keys))
        pulling = self.view.pulling()
        keys = set(groups) | set(open_keys)
        summaries: set[tuple[str, str]] = set()
        later: list[datetime] = []
        retry = False
        for key in sorted(keys):
            if alert_channel(self.config, key.namespace) is None:
                continue
            stored = self.incidents.get(key)
            group = groups.get(key)
            try:
                if stored is not None and stored.phase is Phase.OPEN and not stored.ts:
                    await self._post(stored, summaries)  # claimed earlier, never posted
                    continue
                act = decide(
                    stored=stored,
                    group=group,
                    still_pulling=key.scope in pulling,
                    now=now,
                    grace_s=grace,
                )
                if act is Act.OPEN and group is not None:
                    await self._open(group, now, summaries)
                elif act is Act.UPDATE and stored is not None and group is not None:
                    due = self._updated.get(key, now - self.update_interval) + self.update_interval
                    if due > now:  # chat.update is rate limited: the newest count, later
                        later.append(due)
                        continue
                    self._updated[key] = now
                    shown = stored.observed(group)
                    if key.cause in WORKLOAD_CAUSES and stored.message:
                        shown = replace(shown, message=stored.message)  # the log lines stay
                    await self._update(shown, summaries)
                elif act is Act.RESOLVE and stored is not None:
                    await self._resolve(stored, now, summaries)
            except (KubeError, SlackError, TimeoutError) as e:
                log.warning("alerts: %s/%s: %s; retried later", key.namespace, key.workload, e)
                retry = True
        for channel, ts in summaries:
            await self._show_summary(channel, ts)
        alerted = [k for k, i in self.incidents.items() if i.phase is Phase.OPEN]
        wake = next_deadline(groups.values(), alerted=alerted, now=now, grace_s=grace)
        if retry:
            later.append(now + timedelta(seconds=self.retry_s))
        settles = self.view.settles_at()
        if settles is not None:
            later.append(settles)
        return min([*later, *([wake] if wake else [])], default=None)

    # ---- acting ----

    async def _open(self, group: Group, now: datetime, summaries: set[tuple[str, str]]) -> None:
        key = group.key
        channel = alert_channel(self.config, key.namespace)
        if channel is None:
            return
        message = ""
        if key.cause in WORKLOAD_CAUSES:
            said = await diagnose_workload(
                self.kube,
                self.registry,
                self.config,
                self.view,
                key,
                secret=self._secret(key),
                timeout_s=self.clock.wall(self.recheck_timeout_s),
            )
            cause, sentence, fix, label, message = (
                said.cause,
                said.sentence,
                said.fix,
                said.label,
                said.message,
            )
        else:
            cause, sentence, fix = await self._diagnose(key)
            label = texts.alert_cause_label(cause.value)
        posted = [
            i.opened_at
            for i in self.incidents.values()
            if i.channel == channel and i.ts and not i.summarized
        ]
        summarize = not admit(
            posted, now=now, limit_per_minute=self.config.alerts.rate_limit_per_minute
        )
        incident = Incident(
            key=key,
            phase=Phase.OPEN,
            opened_at=now,
            channel=channel,
            summarized=summarize,
            diagnosis=sentence,
            fix=fix,
            cause_label=label,
        ).observed(group)
        if message:
            incident = replace(incident, message=message)
        stored, created = await self.store.claim(incident)
        self.incidents[key] = stored
        if created or not stored.ts:
            await self._post(stored, summaries)

    async def _post(self, incident: Incident, summaries: set[tuple[str, str]]) -> None:
        if incident.summarized:
            starts: dict[str, datetime] = {}
            for other in self.incidents.values():
                if other.summarized and other.channel == incident.channel and other.ts:
                    starts[other.ts] = min(starts.get(other.ts, other.opened_at), other.opened_at)
            ts = current_summary(starts, now=self.clock.now())
            if ts is None:
                limit = self.config.alerts.rate_limit_per_minute
                ts = await self.notifier.post_summary(incident.channel, [incident], limit=limit)
            summaries.add((incident.channel, ts))
        else:
            ts = await self.notifier.post(incident)
        await self._record(replace(incident, ts=ts))
        log.info("alerts: opened %s/%s %s", incident.key.namespace, incident.key.workload, ts)

    async def _update(self, incident: Incident, summaries: set[tuple[str, str]]) -> None:
        if incident.summarized:
            summaries.add((incident.channel, incident.ts))
        else:
            await self.notifier.show(incident)
        await self._record(incident)

    async def _resolve(
        self, stored: Incident, now: datetime, summaries: set[tuple[str, str]]
    ) -> None:
        incident = replace(stored, phase=Phase.RESOLVED, pods=0, resolved_at=now)
        minutes = (now - stored.opened_at) / timedelta(minutes=1)
        await self.notifier.resolved(incident, minutes=minutes)
        if incident.summarized:
            summaries.add((incident.channel, incident.ts))
        await self._record(incident)
        log.info("alerts: resolved %s/%s", stored.key.namespace, stored.key.workload)

    async def _record(self, incident: Incident) -> None:
        """Store what Slack now shows. A shutdown arriving meanwhile waits for it (bounded):
        a message posted but not recorded would be posted again after the restart."""
        try:
            self.incidents[incident.key] = await self.store.save(incident)
        except asyncio.CancelledError:
            with contextlib.suppress(KubeError, TimeoutError):
                async with asyncio.timeout(self.record_on_cancel_s):
                    self.incidents[incident.key] = await self.store.save(incident)
            raise

    async def _show_summary(self, channel: str, ts: str) -> None:
        members = [i for i in self.incidents.values() if i.summarized and i.ts == ts]
        try:
            limit = self.config.alerts.rate_limit_per_minute
            await self.notifier.show_summary(channel, ts, members, limit=limit)
        except (SlackError, TimeoutError) as e:
            log.warning("alerts: summary %s not updated: %s", ts, e)

    def _secret(self, key: IncidentKey) -> str | None:
        return env_pull_secret(self.config, key.namespace) or next(
            iter(self.view.pull_secrets(key)), None
        )

    async def _diagnose(self, key: IncidentKey) -> tuple[Cause, str, str]:
        """(cause, diagnosis sentence, fix) from a live registry re-check."""
        secret = self._secret(key)
        cause, lead = key.cause, ""
        if key.cause in (
            Cause.TAG_NOT_FOUND,
            Cause.PULL_AUTH,
            Cause.PLATFORM_MISMATCH,
            Cause.UNKNOWN,
        ):
            try:
                async with asyncio.timeout(self.clock.wall(self.recheck_timeout_s)):
                    result = await recheck_pull(
                        self.kube,
                        self.registry,
                        namespace=key.namespace,
                        secret_name=secret,
                        image=key.image,
                        platform=self.config.tag_policy.node_platform(),
                    )
            except TimeoutError:
                result = RecheckResult(PullRecheck.UNKNOWN, "the re-check timed out", secret)
            log.info("alerts: re-check of %s: %s (%s)", key.image, result.outcome, result.detail)
            cause, lead = recheck_verdict(result, key.cause)
            if result.outcome is PullRecheck.TAG_GONE:
                lead = texts.pull_tag_confirmed_missing()
        said = diagnosis.explain(
            Finding(cause, True),
            image=key.image,
            namespace=key.namespace,
            pull_secret=secret,
            platform=self.config.tag_policy.platform,
        )
        sentence = f"{lead}: {said.sentence}" if lead else said.sentence
        return cause, sentence, said.next_step
