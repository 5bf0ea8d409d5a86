"""`RolloutEngine`: the rollout engine as the front-ends (Slack, CLI) call it.

    engine = RolloutEngine(config, kube, registry_client, clock)   # bot.app builds it
    plan = await engine.check(validated_deploy, user="U1")
    if isinstance(plan, DeployPlan):
        outcome = await engine.execute(plan, on_progress=render)

The engine takes VALIDATED requests (`commands.validate`: the front door validated
them once, at the edge). `check` inspects every service's image in the registry for
the nodes' platform, reads the Deployments and locks, then decides with
`commands.plan.plan_deploy` — a `Refusal` leaves the cluster untouched. `execute`
acts (`bot.rollout.execute.Runner`): locks, record, patch, follow, auto-rollback,
exactly-once report. `status`, `history`, `tags`, `rollback`, `lock`, `unlock` answer
the other commands; `resume_in_flight` finishes the deploys a previous Deckhand left
rolling out. Expected problems come back as `Refusal`s; Kubernetes and registry
failures leave as `KubeError` / `RegistryError`, and `refusing(what, work)` is the one
place that turns them into a refusal a person reads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TypeVar

from bot.clock import Clock
from bot.gitea.notes import ChangeNotesReader
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError, NotFound
from bot.kube.kinds import DEPLOYMENTS, PODS
from bot.registry.client import RegistryClient
from bot.registry.errors import RegistryError
from bot.rollout.cluster_reads import lock_info, read_current, read_revisions
from bot.rollout.execute import OnProgress, Runner, drop_progress
from bot.rollout.explain import Explainer
from bot.rollout.follow import Follower
from bot.rollout.locks import MANUAL, LockHeld, Locks
from bot.rollout.observe import selector_of
from bot.rollout.outcome import Outcome
from bot.rollout.records import DeployRecord, RecordPhase, Records, new_deploy_id
from bot.tasks import together
from commands import texts
from commands.changes import ChangeNotes, revisions_for, rollback_revisions
from commands.config import DeckhandConfig
from commands.plan import (
    DeploymentState,
    DeployPlan,
    ImageCheck,
    ImageProblem,
    LockInfo,
    Revision,
    plan_deploy,
    plan_restart,
    plan_rollback,
)
from commands.promotion import SourceRun, promotion_facts, provenance, source_pin
from commands.requests import Deploy, Refusal, RefusalCode
from commands.validate import (
    ValidatedDeploy,
    ValidatedHistory,
    ValidatedLock,
    ValidatedPromote,
    ValidatedRestart,
    ValidatedRollback,
    ValidatedUnlock,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

TAGS_SHOWN = 10

DeployEnded = Callable[[str, str, float | None], None]
"""`(env, result, rollout seconds or None)`; result: succeeded|failed|rolled_back|refused."""


async def refusing(what: str, work: Awaitable[T]) -> T | Refusal:
    """`work`'s result, or the refusal a person reads when the cluster or the registry
    could not be asked (`what`: "check the deploy", "read the status"…). The one place
    where those boundaries' errors become an answer; anything else propagates (a bug)."""
    try:
        return await work
    except (KubeError, RegistryError) as e:
        return Refusal(RefusalCode.INVALID_REQUEST, texts.backend_unavailable(what, e.sentence()))


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    env: str
    deployments: tuple[DeploymentState, ...]
    lock: LockInfo | None
    deployed: str | None = None
    """The first Deployment's image as Deckhand last deployed it (None: no record)."""


@dataclass(frozen=True)
class HistoryView:
    service: str
    env: str
    records: tuple[DeployRecord, ...]
    """Deckhand's own deploy records, newest first."""
    revisions: tuple[Revision, ...]
    """The first Deployment's ReplicaSet revisions, newest first (any tool's changes)."""


@dataclass
class RolloutEngine:
    config: DeckhandConfig
    kube: KubeClient
    registry: RegistryClient
    """The one registry client (its HTTP session): checks, tags, pull re-checks."""
    pinned_clock: Clock | None = None
    """None (production): every cluster's own clock (`KubeClient.clock`, read off its API
    server), for its locks, records and rollout time rules; a test may pin one clock."""
    clusters: Mapping[str, KubeClient] = field(default_factory=dict)
    """Clients by kubeconfig context, for environments with a `kube_context`; `kube` is
    Deckhand's own cluster (its locks and records) and serves every other environment."""
    notes: ChangeNotesReader | None = None
    """Reads a checked plan's change notes from Gitea (None: plans carry none)."""
    on_deploy_end: DeployEnded = field(default=lambda env, result, duration_s: None)
    """Told how each deploy ended (metrics): a refused `check`, the outcome of `execute`
    or of a resumed deploy this engine reported."""

    def __post_init__(self) -> None:
        home = self.config.deckhand
        self.clock: Clock = self.clock_of(self.kube)
        self.locks = Locks(
            self.kube,
            namespace=home.namespace,
            clock=self.clock,
            duration_s=home.lock_ttl_s,
            heartbeat_s=home.lock_heartbeat_s,
        )
        self.records = Records(self.kube, namespace=home.namespace)
        # Deploys this engine runs right now: `resume_in_flight` must not follow them a
        # second time (a leader's first resume pass can come after a deploy started).
        self._running: set[str] = set()

    def is_running(self, deploy_id: str) -> bool:
        """This engine follows `deploy_id` right now (a deploy, rollback or resume)."""
        return deploy_id in self._running

    # ---- deploy ----

    async def check(
        self, valid: ValidatedDeploy, *, user: str, deploy_id: str | None = None
    ) -> DeployPlan | Refusal:
        """Everything that can refuse a deploy, before anything changes."""
        plan = await self._plan(valid, user=user, deploy_id=deploy_id)
        if isinstance(plan, Refusal):
            self.on_deploy_end(valid.env, "refused", None)
        return plan

    async def _plan(
        self, valid: ValidatedDeploy, *, user: str, deploy_id: str | None
    ) -> DeployPlan | Refusal:
        verdicts, current, locks = await together(
            self._inspect(valid.services, valid.tag, digest=valid.digest),
            read_current(
                self.cluster(valid.env), self.config, services=valid.services, env=valid.env
            ),
            self._locks(valid.services, valid.env),
        )
        plan = plan_deploy(
            request=valid,
            config=self.config,
            current=current,
            verdicts=verdicts,
            locks=locks,
            requested_by=user,
            deploy_id=deploy_id or new_deploy_id(),
            requested_at=self.clock.now(),
        )
        if isinstance(plan, DeployPlan):
            plan = await self._provenance(plan, promoted_from=valid.promoted_from)
            plan = await self.with_notes(plan)
        return plan

    async def promotions(self, request: ValidatedPromote) -> list[Deploy | Refusal]:
        """One pinned deploy per service: the tag and digest `request.source` runs now."""
        current = await read_current(
            self.cluster(request.source),
            self.config,
            services=request.services,
            env=request.source,
        )
        found: list[Deploy | Refusal] = []
        for service in request.services:
            state = current.get(self.config.services[service].deployments[0].name)
            pin = source_pin(state.image if state else None)
            if pin is None:
                text = texts.promote_not_running(service, request.source)
                found.append(Refusal(RefusalCode.INVALID_REQUEST, text))
                continue
            reason = request.reason or texts.promoted_reason(request.source)
            found.append(
                Deploy((service,), pin.tag, request.env, reason, pin.digest, request.source)
            )
        return found

    async def _provenance(self, plan: DeployPlan, *, promoted_from: str | None) -> DeployPlan:
        """A promotion's facts from the source; or, under `promote_from`, the services
        whose digest never ran successfully there (per Deckhand's deploy records)."""
        source = promoted_from or self.config.environments[plan.env].promote_from
        if source is None:
            return plan
        services = tuple(s.service for s in plan.services)
        runs = await self._source_runs(services, source)
        if promoted_from is None:
            missing = tuple(
                s.service
                for s in plan.services
                if provenance(runs, service=s.service, digest=s.image.digest) is None
            )
            return replace(plan, unpromoted=missing, promote_source=source) if missing else plan
        restarts = await together(*(self._restarts(s, source) for s in services))
        now = self.clock.now()
        lines = tuple(
            promotion_facts(
                s.service,
                source=source,
                ran=provenance(runs, service=s.service, digest=s.image.digest),
                restarts=n,
                now=now,
            )
            for s, n in zip(plan.services, restarts, strict=True)
        )
        return replace(plan, promoted_from=source, promotion=lines)

    async def _source_runs(self, services: tuple[str, ...], env: str) -> list[SourceRun]:
        histories = await together(
            *(self.records.history(s, env, n=self.config.history_size) for s in services)
        )
        return [
            SourceRun(
                t.service,
                t.digest or _digest_of(t.image),
                r.who,
                r.when + timedelta(seconds=r.duration_s or 0.0),
                r.phase is RecordPhase.SUCCEEDED and not r.rolled_back,
            )
            for records in histories
            for r in records
            for t in r.targets
        ]

    async def _restarts(self, service: str, env: str) -> int | None:
        """Container restarts of the service's pods in `env` now (None: unreadable)."""
        first = self.config.services[service].deployments[0]
        namespace = self.config.environments[env].namespace
        kube = self.cluster(env)
        try:
            deployment = await kube.get(DEPLOYMENTS, first.name, namespace=namespace)
            pods = await kube.list(
                PODS, namespace=namespace, label_selector=selector_of(deployment)
            )
        except KubeError:
            return None
        return sum(
            int(c.get("restartCount") or 0)
            for pod in pods.items
            for c in (pod.get("status") or {}).get("containerStatuses") or ()
            if c.get("name") == first.container
        )

    async def with_notes(self, plan: DeployPlan) -> DeployPlan:
        """`plan` with each service's change notes (bounded by the Gitea deadline)."""
        if self.notes is None or not plan.services:
            return plan
        sources = {name: s.source_url for name, s in self.config.services.items()}
        found = await self.notes.read(revisions_for(plan, source_urls=sources))
        return replace(plan, change_notes=tuple(found[s.service] for s in plan.services))

    async def check_restart(
        self, valid: ValidatedRestart, *, user: str, deploy_id: str | None = None
    ) -> DeployPlan | Refusal:
        """A `kubectl rollout restart` plan (kind `restart`), or why not; nothing changes.
        `execute` carries it out like a deploy: locks, record, follow, report."""
        services = (valid.service,)
        current, locks = await together(
            read_current(self.cluster(valid.env), self.config, services=services, env=valid.env),
            self._locks(services, valid.env),
        )
        plan = plan_restart(
            request=valid,
            config=self.config,
            current=current,
            locks=locks,
            requested_by=user,
            deploy_id=deploy_id or new_deploy_id(),
            requested_at=self.clock.now(),
        )
        if isinstance(plan, Refusal):
            self.on_deploy_end(valid.env, "refused", None)
        return plan

    async def execute(
        self,
        plan: DeployPlan,
        *,
        on_progress: OnProgress = drop_progress,
        slack_channel: str = "",
        slack_ts: str = "",
    ) -> Outcome:
        """Roll the plan out and follow it to a verdict (see `bot.rollout.execute`)."""
        self._running.add(plan.deploy_id)
        try:
            outcome = await self._runner(plan.env).deploy(
                plan, on_progress=on_progress, slack_channel=slack_channel, slack_ts=slack_ts
            )
        finally:
            self._running.discard(plan.deploy_id)
        self._ended(outcome)
        return outcome

    def _ended(self, outcome: Outcome) -> None:
        duration = None if outcome.phase.value == "refused" else outcome.duration_s
        self.on_deploy_end(outcome.env, outcome.phase.value, duration)

    async def resume_in_flight(
        self, on_progress: OnProgress = drop_progress, *, only: frozenset[str] | None = None
    ) -> list[Outcome]:
        """Finish following every deploy recorded as rolling out (after a restart), except
        those this engine is running itself (`only`: just these deploy ids)."""
        in_flight = [
            r
            for r in await self.records.in_flight()
            if not r.reported and r.id not in self._running and (only is None or r.id in only)
        ]

        async def resume(record: DeployRecord) -> Outcome | None:
            self._running.add(record.id)  # the next sweep must not follow it twice
            try:
                return await self._runner(record.env).resume(record, on_progress=on_progress)
            except KubeError as e:  # it stays in flight: the next sweep tries again
                log.warning("could not resume deploy %s: %s", record.id, e.sentence())
                return None
            finally:
                self._running.discard(record.id)

        outcomes = [o for o in await together(*(resume(r) for r in in_flight)) if o is not None]
        for outcome in outcomes:
            if outcome.reported:  # else another Deckhand finished (and counted) it
                self._ended(outcome)
        return outcomes

    async def release_finished_locks(self) -> int:
        """Release every deploy lock whose deploy record is final (its deploy ended but
        the release was lost); returns how many. A lock without a record is left to
        its lease (a deploy between taking the lock and writing its record)."""
        released = 0
        for held in await self.locks.deploy_locks():
            if held.holder in self._running:
                continue
            try:
                record = await self.records.get(held.holder)
            except (NotFound, ValueError):
                continue
            if record.phase is RecordPhase.ROLLING_OUT:
                continue
            if await self.locks.release(held.service, held.env, holder=held.holder):
                log.info(
                    "released %s in %s: deploy %s ended %s",
                    held.service,
                    held.env,
                    held.holder,
                    record.phase.value,
                )
                released += 1
        return released

    # ---- other commands ----

    async def rollback(
        self, valid: ValidatedRollback, *, user: str, on_progress: OnProgress = drop_progress
    ) -> Outcome | Refusal:
        service = self.config.services[valid.service]
        namespace = self.config.environments[valid.env].namespace
        first = service.deployments[0]
        current, history, locks = await together(
            read_current(
                self.cluster(valid.env), self.config, services=(valid.service,), env=valid.env
            ),
            read_revisions(
                self.cluster(valid.env),
                namespace=namespace,
                deployment=first.name,
                container=first.container,
            ),
            self._locks((valid.service,), valid.env),
        )
        plan = plan_rollback(
            request=valid,
            config=self.config,
            current=current,
            history=history,
            locks=locks,
            requested_by=user,
            deploy_id=new_deploy_id(),
            requested_at=self.clock.now(),
        )
        if isinstance(plan, Refusal):
            return plan
        self._running.add(plan.deploy_id)
        running = current[first.name].image or ""
        try:
            # the notes are read while it rolls back: they never delay an incident's fix
            outcome, notes = await together(
                self._runner(valid.env).roll_back(plan, on_progress=on_progress),
                self._rollback_notes(valid.service, running=running, target=plan.to.image),
            )
        finally:
            self._running.discard(plan.deploy_id)
        return replace(outcome, change_notes=notes)

    async def _rollback_notes(
        self, service: str, *, running: str, target: str
    ) -> tuple[ChangeNotes, ...]:
        if self.notes is None:
            return ()
        source = self.config.services[service].source_url
        wanted = {service: rollback_revisions(source, running=running, target=target)}
        return tuple((await self.notes.read(wanted)).values())

    async def status(self, service: str, env: str) -> ServiceStatus:
        current = await read_current(self.cluster(env), self.config, services=(service,), env=env)
        holder = await self.locks.holder(service, env)
        first = self.config.services[service].deployments[0].name
        deployed = next(
            (
                t.image
                for r in await self.records.history(service, env, self.config.history_size)
                if r.phase is RecordPhase.SUCCEEDED and not r.rolled_back
                for t in r.targets
                if t.deployment == first
            ),
            None,
        )
        return ServiceStatus(
            service, env, tuple(current.values()), lock_info(holder) if holder else None, deployed
        )

    async def statuses(self, services: Sequence[str], envs: Sequence[str]) -> list[ServiceStatus]:
        """`status` of each service in each env, asked concurrently."""
        return list(await together(*(self.status(s, e) for e in envs for s in services)))

    async def tags(self, service: str) -> list[str] | Refusal:
        """The newest tags of `service`'s repository, newest first."""
        try:
            tags = await self.registry.list_tags(self.config.services[service].reference())
        except RegistryError as e:
            return Refusal(RefusalCode.IMAGE_PROBLEM, e.sentence())
        return tags[:TAGS_SHOWN]

    async def history(self, valid: ValidatedHistory, *, n: int | None = None) -> HistoryView:
        size = n or self.config.history_size
        first = self.config.services[valid.service].deployments[0]
        records, revisions = await together(
            self.records.history(valid.service, valid.env, size),
            read_revisions(
                self.cluster(valid.env),
                namespace=self.config.environments[valid.env].namespace,
                deployment=first.name,
                container=first.container,
            ),
        )
        return HistoryView(valid.service, valid.env, tuple(records), tuple(revisions[:size]))

    async def lock(self, valid: ValidatedLock, *, user: str) -> str | Refusal:
        try:
            await self.locks.lock(valid.service, valid.env, who=user, why=valid.reason or "")
        except LockHeld as e:
            return Refusal(RefusalCode.LOCKED, str(e))
        return texts.locked_now(valid.service, valid.env, user, valid.reason)

    async def unlock(self, valid: ValidatedUnlock, *, user: str) -> str | Refusal:
        if await self.locks.release(valid.service, valid.env, holder=MANUAL):
            return texts.unlocked_now(valid.service, valid.env, user)
        holder = await self.locks.holder(valid.service, valid.env)
        if holder is not None:  # a deploy holds it: it ends with the deploy
            return Refusal(RefusalCode.LOCKED, holder.sentence())
        return texts.not_locked(valid.service, valid.env)

    # ---- helpers ----

    def _runner(self, env: str) -> Runner:
        policy = self.config.tag_policy
        kube = self.cluster(env)
        explainer = Explainer(
            kube,
            self.registry,
            policy.node_platform(),
            pull_secret=self.config.environments[env].pull_secret,
        )
        clock = self.clock_of(kube)
        follower = Follower(kube, clock, self.config.rollout, explainer)
        lock_after = self.config.environments[env].lock_after_rollback
        return Runner(kube, self.locks, self.records, follower, clock, lock_after)

    def clock_of(self, kube: KubeClient) -> Clock:
        """The clock time rules on `kube`'s cluster run on (the pinned one in tests)."""
        return self.pinned_clock or kube.clock

    def cluster(self, env: str) -> KubeClient:
        """The client for `env`'s `kube_context` (Deckhand's own cluster when None)."""
        context = self.config.environments[env].kube_context
        return self.clusters.get(context, self.kube) if context else self.kube

    async def inspect(
        self, services: tuple[str, ...], tag: str
    ) -> dict[str, ImageCheck | ImageProblem]:
        """The registry's verdict on `tag` of each service for the nodes' platform."""
        return await self._inspect(services, tag)

    async def _inspect(
        self, services: tuple[str, ...], tag: str, *, digest: str | None = None
    ) -> dict[str, ImageCheck | ImageProblem]:
        platform = self.config.tag_policy.node_platform()
        found: dict[str, ImageCheck | ImageProblem] = {}
        for service in services:
            ref = self.config.services[service].reference().with_tag(tag)
            if digest is not None:  # a promotion: exactly this digest
                ref = ref.with_digest(digest)
            try:
                v = await self.registry.inspect(ref, platform=platform)
            except RegistryError as e:
                found[service] = ImageProblem(e.sentence())
                continue
            found[service] = ImageCheck(
                reference=str(v.reference.with_digest(v.digest)),
                digest=v.digest,
                platform=str(v.platform),
                size=v.compressed_size,
                created=v.created,
                revision_label=v.revision,
            )
        return found

    async def _locks(self, services: tuple[str, ...], env: str) -> dict[tuple[str, str], LockInfo]:
        holders = await together(*(self.locks.holder(s, env) for s in services))
        return {(s, env): lock_info(h) for s, h in zip(services, holders, strict=True) if h}


def _digest_of(image: str) -> str:
    pin = source_pin(image)
    return pin.digest if pin else ""
