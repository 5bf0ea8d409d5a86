"""Drift notices: a watched Deployment's image (or a `max_replicas` service's replica
count) changed, and not by Deckhand: one notice in the env's alert channel.

    service = DriftService(kube, slack, config=config, registry=registry_client)
    await service.run()      # until cancelled; leader-only, beside the alert service

Per watched (namespace, Deployment, container) a ConfigMap `deckhand-drift-<hash>` in
Deckhand's namespace holds what was last accounted for (image, replicas) and the key
of the last change noticed: the first sight is the baseline (no notice), Deckhand's
own changes (field manager `deckhand`) move the baseline silently, and another
writer's change is claimed there (compare-and-swap) before it is posted, so neither a
second replica nor a restart posts it twice. A claimed notice Slack refused is posted
on the next change or start.

The notice (`commands.drift`, texts in `commands.texts.drift`): which Deployment, from
what to what, who did it as far as the API tells (managedFields, change-cause),
whether the new image passes Deckhand's checks (tag policy; tag exists and is built for
the nodes' platform, asked of the registry with Deckhand's credentials) and whether it
is older than the image Deckhand last deployed there (a stale `kubectl apply`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.service import alert_channel
from bot.clock import Clock, SystemClock
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS, KubeObject
from bot.kube.watch import watch
from bot.registry.client import RegistryClient
from bot.registry.errors import PlatformNotAvailable, RegistryError, RepositoryNotFound, TagNotFound
from bot.rollout.records import DeployRecord, RecordPhase, Records
from bot.slack import writes
from bot.slack.blocks import section
from bot.slack.client import SlackError
from bot.state import Codec, ConfigMapStore
from commands import texts
from commands.config import DeckhandConfig
from commands.drift import DriftChange, Observed, detect, is_stale, observe, tag_allowed
from commands.images import ImageReference, InvalidReference

log = logging.getLogger(__name__)

_A = "deckhand.dev/"
SELECTOR = f"{_A}record=drift"


@dataclass(frozen=True)
class Watched:
    env: str
    service: str
    namespace: str
    deployment: str
    container: str
    max_replicas: int | None


@dataclass(frozen=True)
class DriftState:
    """What was last accounted for of one watched container, and the last notice."""

    namespace: str
    deployment: str
    container: str
    image: str
    replicas: int
    notice: str = ""
    """Key of the last change noticed (`DriftChange.key`s joined)."""
    posted: bool = True
    pending: tuple[DriftChange, ...] = ()
    """The claimed notice's changes until it is posted (a retry posts them)."""

    @property
    def name(self) -> str:
        raw = f"{self.namespace}/{self.deployment}/{self.container}"
        return "deckhand-drift-" + hashlib.sha256(raw.encode()).hexdigest()[:20]

    def as_observed(self) -> Observed:
        return Observed(self.namespace, self.deployment, self.container, self.image, self.replicas)


def _to_data(state: DriftState) -> tuple[dict[str, str], dict[str, str]]:
    return {f"{_A}record": "drift"}, {
        "namespace": state.namespace,
        "deployment": state.deployment,
        "container": state.container,
        "image": state.image,
        "replicas": str(state.replicas),
        "notice": state.notice,
        "posted": "true" if state.posted else "false",
        "pending": json.dumps([asdict(c) for c in state.pending]),
    }


def _from_configmap(obj: KubeObject) -> DriftState:
    data: dict[str, str] = obj.get("data") or {}
    return DriftState(
        namespace=data["namespace"],
        deployment=data["deployment"],
        container=data["container"],
        image=data["image"],
        replicas=int(data.get("replicas") or 0),
        notice=data.get("notice", ""),
        posted=data.get("posted", "true") == "true",
        pending=tuple(DriftChange(**c) for c in json.loads(data.get("pending") or "[]")),
    )


CODEC: Codec[DriftState] = Codec(lambda s: s.name, _to_data, _from_configmap)


def watched_targets(config: DeckhandConfig) -> dict[tuple[str, str], list[Watched]]:
    """(namespace, Deployment) → the configured containers watched for drift (pure)."""
    found: dict[tuple[str, str], list[Watched]] = {}
    for env_name, env in config.environments.items():
        for service_name, service in config.services.items():
            for target in service.deployments:
                known = found.setdefault((env.namespace, target.name), [])
                if any(w.container == target.container for w in known):
                    continue  # two envs in one namespace: one baseline
                known.append(
                    Watched(
                        env_name,
                        service_name,
                        env.namespace,
                        target.name,
                        target.container,
                        service.max_replicas,
                    )
                )
    return found


@dataclass
class DriftService:
    kube: KubeClient
    slack: AsyncWebClient
    config: DeckhandConfig
    registry: RegistryClient
    """The one registry client (checks of a drifted image)."""
    clock: Clock = field(default_factory=SystemClock)
    slack_timeout_s: float = 30.0
    check_timeout_s: float = 30.0
    relist_backoff_s: float = 1.0
    record_on_cancel_s: float = 5.0
    """On shutdown, how long recording an already-posted notice may still take."""
    states: dict[str, DriftState] = field(default_factory=dict)
    noticed: int = 0
    """Notices posted by this service (for tests and logs)."""

    def __post_init__(self) -> None:
        self.store = ConfigMapStore(self.kube, self.config.deckhand.namespace, CODEC)
        self.records = Records(self.kube, self.config.deckhand.namespace)
        self.targets = watched_targets(self.config)

    async def run(self) -> None:
        self.states = {s.name: s for s in await self.store.select(SELECTOR)}
        namespaces = sorted({ns for ns, _ in self.targets})
        loops = {f"drift-{ns}": self._follow(ns) for ns in namespaces}
        async with asyncio.TaskGroup() as group:
            for name, loop in loops.items():
                group.create_task(loop, name=name)

    async def _follow(self, namespace: str) -> None:
        while True:
            try:
                listed = await self.kube.list(DEPLOYMENTS, namespace=namespace)
                for obj in listed.items:
                    await self.consider(obj)
                events = watch(
                    self.kube,
                    DEPLOYMENTS,
                    namespace=namespace,
                    resource_version=listed.resource_version,
                )
                async with contextlib.aclosing(events):
                    async for event in events:
                        if event.type != "DELETED":
                            await self.consider(event.object)
            except KubeError as e:
                log.warning("drift: watching %s failed (%s); listing again", namespace, e)
            await self.clock.sleep(self.relist_backoff_s)

    async def consider(self, deployment: KubeObject) -> None:
        """Account for one Deployment as it is now (see the module docstring)."""
        meta = deployment.get("metadata") or {}
        for target in self.targets.get((str(meta.get("namespace")), str(meta.get("name"))), []):
            now = observe(deployment, container=target.container)
            if now is not None:
                try:
                    await self._account(target, now)
                except (KubeError, SlackError, TimeoutError) as e:
                    log.warning("drift: %s/%s: %s", target.namespace, target.deployment, e)

    async def _account(self, target: Watched, now: Observed) -> None:
        fresh = DriftState(now.namespace, now.deployment, now.container, now.image, now.replicas)
        state = self.states.get(fresh.name)
        if state is None:
            try:
                self.states[fresh.name] = await self.store.create(fresh)
            except KubeError:  # another replica made it: read it back
                self.states[fresh.name] = await self.store.get(fresh.name)
            return
        changes = detect(state.as_observed(), now, max_replicas=target.max_replicas)
        moved = (state.image, state.replicas) != (now.image, now.replicas)
        if not changes:
            if moved:  # Deckhand's own change: the new baseline
                self.states[fresh.name] = await self._store(
                    replace(state, image=now.image, replicas=now.replicas)
                )
            elif not state.posted:
                await self._retry(target, state)
            return
        key = "+".join(c.key for c in changes)
        won = False

        def claim(stored: DriftState) -> DriftState | None:
            nonlocal won
            won = stored.notice != key
            return (
                replace(
                    stored,
                    image=now.image,
                    replicas=now.replicas,
                    notice=key,
                    posted=False,
                    pending=tuple(changes),
                )
                if won
                else None
            )

        self.states[fresh.name] = await self.store.update(fresh.name, claim)
        if won:
            await self._post(target, changes, self.states[fresh.name])

    async def _store(self, state: DriftState) -> DriftState:
        return await self.store.update(state.name, lambda _: state)

    async def _retry(self, target: Watched, state: DriftState) -> None:
        """A notice claimed but never posted (Slack failed, or a restart came between)."""
        if state.pending:
            await self._post(target, list(state.pending), state)

    async def _post(self, target: Watched, changes: list[DriftChange], state: DriftState) -> None:
        channel = alert_channel(self.config, target.namespace)
        if channel is None or not self.config.alerts.drift:
            self.states[state.name] = await self._store(replace(state, posted=True, pending=()))
            return
        title = texts.drift_title(
            target.namespace, target.deployment, changes[0].field, changes[0].before,
            changes[0].after,
        )  # fmt: skip
        lines = [texts.drift_who(changes[0].manager, changes[0].change_cause)]
        for change in changes:
            if change.field == "image":
                lines.append(texts.drift_images(change.before, change.after))
                lines.extend(await self._checks(target, change))
        body = "\n".join(lines)
        blocks = [section(title), section(body)]
        async with asyncio.timeout(self.clock.wall(self.slack_timeout_s)):
            await writes.post_message(self.slack, channel=channel, text=title, blocks=blocks)
        self.noticed += 1
        log.info("drift: noticed %s/%s %s", target.namespace, target.deployment, state.notice)
        done = replace(state, posted=True, pending=())
        try:
            self.states[state.name] = await self._store(done)
        except asyncio.CancelledError:
            # Posted but not recorded would be posted again after the restart: finish it.
            with contextlib.suppress(KubeError, TimeoutError):
                async with asyncio.timeout(self.record_on_cancel_s):
                    self.states[state.name] = await self._store(done)
            raise

    async def _last_deployed(self, target: Watched) -> DeployRecord | None:
        for record in await self.records.history(target.service, target.env, 20):
            if record.phase is RecordPhase.SUCCEEDED and not record.rolled_back:
                return record
        return None

    async def _checks(self, target: Watched, change: DriftChange) -> list[str]:
        """Deckhand's checks of the new image, and whether it is older than its last deploy."""
        policy = self.config.tag_policy
        try:
            reference = ImageReference.parse(change.after)
        except InvalidReference:
            return [
                texts.drift_checks(policy=False, exists="not a valid image reference", platform="")
            ]
        allowed = tag_allowed(
            (reference.tag or "").lower() or None, pattern=policy.pattern, refused=policy.refused
        )
        exists, platform, created = "", "", None
        try:
            async with asyncio.timeout(self.clock.wall(self.check_timeout_s)):
                verdict = await self.registry.inspect(reference, platform=policy.node_platform())
            platform, created = texts.drift_built_for(str(verdict.platform)), verdict.created
        except (TagNotFound, RepositoryNotFound) as e:
            exists = e.sentence()
        except PlatformNotAvailable as e:
            platform = e.sentence()
        except (RegistryError, TimeoutError) as e:
            exists = f"the registry could not be asked ({e})"
        lines = [texts.drift_checks(policy=allowed, exists=exists, platform=platform)]
        record = await self._last_deployed(target)
        deployed = next(
            (
                t.image
                for t in (record.targets if record else ())
                if t.deployment == target.deployment
            ),
            None,
        )
        if record is None or deployed is None:
            lines.append(texts.drift_never_deployed())
            return lines
        if created is not None and deployed != change.after:
            deployed_created = await self._created(deployed)
            if is_stale(created, deployed_created):
                lines.append(texts.drift_stale(change.after, deployed))
        lines.append(texts.drift_last_deployed(deployed, texts.user(record.who)))
        return lines

    async def _created(self, image: str) -> datetime | None:
        try:
            async with asyncio.timeout(self.clock.wall(self.check_timeout_s)):
                verdict = await self.registry.inspect(
                    image, platform=self.config.tag_policy.node_platform()
                )
        except (RegistryError, TimeoutError, InvalidReference):
            return None
        return verdict.created
