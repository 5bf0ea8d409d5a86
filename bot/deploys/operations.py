"""`Operations`: what the Slack front-end asks of the cluster and the registry, in one place.

A thin adapter over helper E's rollout pieces (`bot.rollout`: state, plan, `Runner`,
locks, records) and the registry client, shaped for the front-end:

    await ops.check_deploy(request, requested_by=…, deploy_id=…)   -> DeployPlan | Refusal
    await ops.check_rollback(request, requested_by=…, deploy_id=…) -> RollbackPlan | Refusal
    await ops.runner(env).deploy(plan, on_progress=…, slack_channel=…, slack_ts=…) -> Outcome
    await ops.status(services, envs) -> [ServiceStatus]
    await ops.history(service, env) -> [DeployRecord]
    await ops.tags(service) -> [tag, newest first]
    await ops.lock(...) / ops.unlock(...)

The checks only read (registry manifests, Deployments, Leases) and end in the pure
planners of `commands.plan`; nothing is changed before a plan exists. A registry or
cluster failure during a check is an answer (`Refusal` with the error's sentence),
never an exception. TODO(engine): delegate to `bot.rollout.engine.RolloutEngine` once
it lands; this module then shrinks to that call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError, NotFound
from bot.kube.kinds import CONFIGMAPS, DEPLOYMENTS
from bot.registry.client import RegistryClient
from bot.registry.errors import RegistryError
from bot.rollout.clock import Clock
from bot.rollout.execute import Runner
from bot.rollout.explain import Explainer
from bot.rollout.follow import Follower
from bot.rollout.locks import LockHeld, LockHolder, Locks
from bot.rollout.records import DeployRecord, RecordPhase, Records, from_configmap
from bot.rollout.state import lock_info, read_current, read_revisions
from bot.settings import RegistrySettings
from commands import texts
from commands.config import DeckhandConfig
from commands.images import ImageReference, InvalidReference
from commands.plan import (
    DeployPlan,
    ImageCheck,
    ImageProblem,
    LockInfo,
    RollbackPlan,
    plan_deploy,
    plan_rollback,
)
from commands.requests import Refusal, RefusalCode
from commands.rollout_decisions import images_of
from commands.validate import ValidatedDeploy, ValidatedRollback

log = logging.getLogger(__name__)

TAGS_SHOWN = 10


@dataclass(frozen=True)
class ServiceStatus:
    """What runs: one service's first Deployment in one env."""

    service: str
    env: str
    tag: str | None
    """None: no such Deployment."""
    ready: int = 0
    total: int = 0
    lock: LockHolder | None = None


@dataclass
class Operations:
    """The front-end's view of the cluster(s) and the registry (see the module doc).

    `kubes` maps each environment to its cluster client; `home` is the client of the
    cluster holding Deckhand's own namespace (locks, records).
    """

    config: DeckhandConfig
    kubes: Mapping[str, KubeClient]
    home: KubeClient
    registry: RegistryClient
    registry_settings: RegistrySettings
    clock: Clock

    def __post_init__(self) -> None:
        namespace = self.config.deckhand.namespace
        self.locks = Locks(self.home, namespace, self.clock)
        self.records = Records(self.home, namespace)

    def runner(self, env: str) -> Runner:
        """The rollout runner for `env` (its cluster, pull secret, the config's timings)."""
        kube = self.kubes[env]
        explainer = Explainer(
            kube,
            self.registry_settings,
            self.config.tag_policy.node_platform(),
            pull_secret=self.config.environments[env].pull_secret,
        )
        follower = Follower(kube, self.clock, self.config.rollout, explainer)
        return Runner(kube, self.locks, self.records, follower, self.clock)

    # ---- checks (read only) ----

    async def _verdict(self, service: str, tag: str) -> ImageCheck | ImageProblem:
        try:
            reference = self.config.services[service].reference().with_tag(tag)
            verdict = await self.registry.inspect(
                reference, platform=self.config.tag_policy.node_platform()
            )
        except RegistryError as e:
            return ImageProblem(e.sentence())
        except InvalidReference as e:
            return ImageProblem(str(e))
        return ImageCheck(
            reference=verdict.pinned,
            digest=verdict.digest,
            platform=str(verdict.platform),
            size=verdict.compressed_size or None,
            created=verdict.created,
            revision_label=verdict.revision,
        )

    async def _locks(self, services: Sequence[str], env: str) -> dict[tuple[str, str], LockInfo]:
        holders = await asyncio.gather(*(self.locks.holder(s, env) for s in services))
        return {(h.service, env): lock_info(h) for h in holders if h is not None}

    async def check_deploy(
        self, request: ValidatedDeploy, *, requested_by: str, deploy_id: str
    ) -> DeployPlan | Refusal:
        """Registry verdicts, Deployment states and locks, then `plan_deploy`."""
        try:
            verdicts = await asyncio.gather(
                *(self._verdict(s, request.tag) for s in request.services)
            )
            current = await read_current(
                self.kubes[request.env], self.config, services=request.services, env=request.env
            )
            locks = await self._locks(request.services, request.env)
        except KubeError as e:
            return Refusal(
                RefusalCode.INVALID_REQUEST,
                texts.backend_unavailable("check the deploy", e.sentence()),
            )
        return plan_deploy(
            request=request,
            config=self.config,
            current=current,
            verdicts=dict(zip(request.services, verdicts, strict=True)),
            locks=locks,
            requested_by=requested_by,
            deploy_id=deploy_id,
            requested_at=self.clock.now(),
        )

    async def check_rollback(
        self, request: ValidatedRollback, *, requested_by: str, deploy_id: str
    ) -> RollbackPlan | Refusal:
        """Deployment states, revisions and locks, then `plan_rollback`."""
        target = self.config.services[request.service].deployments[0]
        namespace = self.config.environments[request.env].namespace
        kube = self.kubes[request.env]
        try:
            current = await read_current(
                kube, self.config, services=(request.service,), env=request.env
            )
            history = await read_revisions(
                kube, namespace=namespace, deployment=target.name, container=target.container
            )
            locks = await self._locks((request.service,), request.env)
        except KubeError as e:
            return Refusal(
                RefusalCode.INVALID_REQUEST,
                texts.backend_unavailable("check the rollback", e.sentence()),
            )
        return plan_rollback(
            request=request,
            config=self.config,
            current=current,
            history=history,
            locks=locks,
            requested_by=requested_by,
            deploy_id=deploy_id,
            requested_at=self.clock.now(),
        )

    # ---- answers ----

    async def status(self, services: Sequence[str], envs: Sequence[str]) -> list[ServiceStatus]:
        """One line per service and env (KubeError other than NotFound propagates)."""

        async def one(service: str, env: str) -> ServiceStatus:
            target = self.config.services[service].deployments[0]
            namespace = self.config.environments[env].namespace
            lock = await self.locks.holder(service, env)
            try:
                obj = await self.kubes[env].get(DEPLOYMENTS, target.name, namespace=namespace)
            except NotFound:
                return ServiceStatus(service, env, None, lock=lock)
            image = images_of(obj).get(target.container, "")
            try:
                tag = ImageReference.parse(image).tag or image
            except InvalidReference:
                tag = image
            status = obj.get("status") or {}
            total = int((obj.get("spec") or {}).get("replicas") or 0)
            ready = int(status.get("readyReplicas") or 0)
            return ServiceStatus(service, env, tag, ready, total, lock)

        return list(await asyncio.gather(*(one(s, e) for e in envs for s in services)))

    async def history(self, service: str, env: str) -> list[DeployRecord]:
        return await self.records.history(service, env, self.config.history_size)

    async def tags(self, service: str) -> list[str]:
        """The newest tags of `service`'s repository (raises `RegistryError`)."""
        tags = await self.registry.list_tags(self.config.services[service].reference())
        return tags[:TAGS_SHOWN]

    async def lock(self, service: str, env: str, *, who: str, why: str) -> LockHolder | None:
        """Take a manual lock; the current holder when someone else has it."""
        try:
            await self.locks.lock(service, env, who=who, why=why)
        except LockHeld as e:
            return e.holder
        return None

    async def unlock(self, service: str, env: str) -> bool:
        """Lift a manual lock; False when there was none."""
        return await self.locks.release(service, env, holder="manual")

    # ---- records the front-end reports from ----

    async def record(self, deploy_id: str) -> DeployRecord | None:
        try:
            return await self.records.get(deploy_id)
        except (NotFound, ValueError):
            return None

    async def unreported(self) -> list[DeployRecord]:
        """Finished deploys whose final Slack report was not delivered, oldest first."""
        listed = await self.home.list(
            CONFIGMAPS,
            namespace=self.config.deckhand.namespace,
            label_selector="deckhand.dev/record=deploy",
        )
        found: list[DeployRecord] = []
        for obj in listed.items:
            try:
                record = from_configmap(obj)
            except (ValueError, TypeError, KeyError):
                continue
            if (
                record.phase is not RecordPhase.ROLLING_OUT
                and not record.reported
                and record.slack_ts
            ):
                found.append(record)
        return sorted(found, key=lambda r: r.when)

    async def set_reported(self, deploy_id: str, reported: bool) -> None:
        await self.records.update(deploy_id, lambda r: replace(r, reported=reported))

    def now(self) -> datetime:
        return self.clock.now()
