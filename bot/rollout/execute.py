"""Carry out a deploy or rollback plan: lock, record, patch, follow, roll back, report once.

    runner = Runner(kube, locks=…, records=…, follower=…, clock=…)
    outcome = await runner.deploy(plan, on_progress=send)
    outcome = await runner.resume(record, on_progress=send)   # after a restart

One deploy, in order:
1. take the Lease lock of every service (`Locks.holding`, renewed while it runs): a
   lock held by another deploy or a manual lock refuses it, naming the holder;
2. write the deploy record (phase `rolling_out`, previous images) — a Deckhand that
   dies from here on is resumed from it;
3. patch the Deployments (`apply_patches`); a partial failure says which succeeded;
4. follow every patched Deployment concurrently (`Follower`), streaming `Progress`;
5. if one failed and the env has `auto_rollback`, undo it as `kubectl rollout undo`
   and follow that too;
6. finish the record, and send the final `Progress` only if `claim_report` wins: a
   deploy is reported exactly once, however many Deckhands resumed it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS, meta
from bot.rollout.apply import apply_patches, current_image
from bot.rollout.background import together
from bot.rollout.clock import Clock
from bot.rollout.follow import Failure, Follower, FollowResult, FollowTarget, FollowUpdate
from bot.rollout.locks import LockHeld, Locks
from bot.rollout.outcome import Outcome, ServiceOutcome, summarize
from bot.rollout.records import DeployRecord, RecordPhase, Records, TargetRecord
from bot.rollout.rollback import RolledBack, rollback
from commands.diagnosis import Cause
from commands.plan import DeployPlan, RollbackPlan
from commands.progress import Phase, Progress
from commands.rollout_decisions import Counts, UndoRefused, images_of

log = logging.getLogger(__name__)

OnProgress = Callable[[Progress], Awaitable[None]]


async def drop_progress(progress: Progress) -> None:
    return None


@dataclass
class Runner:
    kube: KubeClient
    locks: Locks
    records: Records
    follower: Follower
    clock: Clock

    async def deploy(
        self,
        plan: DeployPlan,
        *,
        on_progress: OnProgress = drop_progress,
        slack_channel: str = "",
        slack_ts: str = "",
    ) -> Outcome:
        start = self.clock.monotonic()
        services = [s.service for s in plan.services]
        async with contextlib.AsyncExitStack() as held:
            try:
                for service in services:
                    holder = await self.locks.holder(service, plan.env)
                    if holder and holder.manual and holder.who == plan.requested_by:
                        continue  # deploying through one's own manual lock (commands.plan)
                    await held.enter_async_context(
                        self.locks.holding(
                            service,
                            plan.env,
                            deploy_id=plan.deploy_id,
                            who=plan.requested_by,
                            why=f"deploy {plan.tag}",
                        )
                    )
            except LockHeld as e:
                return await self._refused(
                    plan.deploy_id, plan.env, plan.tag, services, str(e), on_progress
                )
            digests = {s.service: s.image.digest for s in plan.services}
            owner = {p.deployment: s.service for s in plan.services for p in s.patches}
            targets = [
                TargetRecord(
                    owner[p.deployment],
                    p.deployment,
                    p.container,
                    p.image,
                    digests[owner[p.deployment]],
                    await current_image(self.kube, p),
                )
                for p in plan.patches
            ]
            record = DeployRecord(
                id=plan.deploy_id,
                who=plan.requested_by,
                when=self.clock.now(),
                env=plan.env,
                namespace=plan.namespace,
                tag=plan.tag,
                targets=tuple(targets),
                reason=plan.reason or "",
                slack_channel=slack_channel,
                slack_ts=slack_ts,
                extra={"auto_rollback": "true" if plan.auto_rollback else "false"},
            )
            await self.records.create(record)
            for service in services:
                await on_progress(self._progress(record, service, Phase.ROLLING_OUT, start))
            applied = await apply_patches(self.kube, plan.patches)
            follow = [
                FollowTarget(
                    owner[a.patch.deployment],
                    a.patch.namespace,
                    a.patch.deployment,
                    a.patch.container,
                    a.patch.image,
                    a.generation,
                )
                for a in applied.applied
            ]
            results = await self._follow_all(record, follow, start, on_progress)
            if not applied.ok:
                assert applied.failed is not None
                failure = Failure(
                    Cause.UNKNOWN,
                    applied.sentence(),
                    "Fix the Kubernetes permission or object named, then deploy again.",
                )
                results.append(
                    FollowResult(
                        FollowTarget(
                            owner[applied.failed.deployment],
                            applied.failed.namespace,
                            applied.failed.deployment,
                            applied.failed.container,
                            applied.failed.image,
                            0,
                        ),
                        False,
                        Counts(),
                        self.clock.monotonic() - start,
                        failure,
                    )
                )
            return await self._conclude(record, results, plan.auto_rollback, start, on_progress)

    async def resume(
        self, record: DeployRecord, *, on_progress: OnProgress = drop_progress
    ) -> Outcome:
        """Finish following a deploy a previous Deckhand started (record phase rolling_out)."""
        elapsed = (self.clock.now() - record.when).total_seconds()
        start = self.clock.monotonic() - max(0.0, elapsed)
        async with contextlib.AsyncExitStack() as held:
            try:
                for service in dict.fromkeys(record.services):
                    await held.enter_async_context(
                        self.locks.holding(
                            service,
                            record.env,
                            deploy_id=record.id,
                            who=record.who,
                            why=f"deploy {record.tag}",
                        )
                    )
            except LockHeld as e:
                log.info("not resuming %s: %s", record.id, e)
                return Outcome(record.id, record.env, Phase.ROLLING_OUT, (), str(e), reported=False)
            follow: list[FollowTarget] = []
            superseded: list[FollowResult] = []
            for t in record.targets:
                obj = await self.kube.get(DEPLOYMENTS, t.deployment, namespace=record.namespace)
                target = FollowTarget(
                    t.service,
                    record.namespace,
                    t.deployment,
                    t.container,
                    t.image,
                    int(meta(obj).get("generation") or 0),
                )
                if images_of(obj).get(t.container) == t.image:
                    follow.append(target)
                    continue
                failure = Failure(
                    Cause.UNKNOWN,
                    f"{t.deployment} was changed by someone else while Deckhand was restarting",
                    "Check `history` for who.",
                )
                superseded.append(FollowResult(target, False, Counts(), elapsed, failure))
            results = await self._follow_all(record, follow, start, on_progress)
            auto = record.extra.get("auto_rollback") == "true"
            return await self._conclude(record, results + superseded, auto, start, on_progress)

    async def roll_back(
        self, plan: RollbackPlan, *, on_progress: OnProgress = drop_progress
    ) -> Outcome:
        """Carry out a planned rollback: `kubectl rollout undo --to-revision`, followed."""
        start = self.clock.monotonic()
        async with contextlib.AsyncExitStack() as held:
            try:
                await held.enter_async_context(
                    self.locks.holding(
                        plan.service,
                        plan.env,
                        deploy_id=plan.deploy_id,
                        who=plan.requested_by,
                        why=f"rollback to #{plan.to.number}",
                    )
                )
            except LockHeld as e:
                return await self._refused(
                    plan.deploy_id, plan.env, plan.to.tag or "", [plan.service], str(e), on_progress
                )
            targets = [
                TargetRecord(
                    plan.service,
                    p.deployment,
                    p.container,
                    p.image,
                    "",
                    await current_image(self.kube, p),
                )
                for p in plan.patches
            ]
            record = DeployRecord(
                id=plan.deploy_id,
                who=plan.requested_by,
                when=self.clock.now(),
                env=plan.env,
                namespace=plan.namespace,
                tag=plan.to.tag or "",
                targets=tuple(targets),
                reason=plan.reason or "",
                extra={"rollback_to": str(plan.to.number)},
            )
            await self.records.create(record)
            await on_progress(self._progress(record, plan.service, Phase.ROLLING_OUT, start))
            cause = dict(plan.patches[0].annotations).get("kubernetes.io/change-cause")
            follow: list[FollowTarget] = []
            results: list[FollowResult] = []
            for index, patch in enumerate(plan.patches):
                target = FollowTarget(
                    plan.service, patch.namespace, patch.deployment, patch.container, patch.image, 0
                )
                try:
                    undone = await rollback(
                        self.kube,
                        namespace=patch.namespace,
                        deployment=patch.deployment,
                        to_revision=plan.to.number if index == 0 else None,
                        to_tag=plan.to.tag if index else None,
                        change_cause=cause,
                    )
                except KubeError as e:
                    undone = UndoRefused("error", e.sentence())
                if isinstance(undone, UndoRefused):
                    failure = Failure(Cause.UNKNOWN, undone.text, "Nothing was changed.")
                    results.append(FollowResult(target, False, Counts(), 0.0, failure))
                    continue
                follow.append(replace(target, generation=undone.generation))
            results += await self._follow_all(record, follow, start, on_progress)
            return await self._conclude(record, results, False, start, on_progress)

    # ---- shared steps ----

    async def _follow_all(
        self,
        record: DeployRecord,
        targets: Sequence[FollowTarget],
        start: float,
        on_progress: OnProgress,
    ) -> list[FollowResult]:
        async def update(u: FollowUpdate) -> None:
            await on_progress(
                self._progress(
                    record,
                    u.target.service,
                    Phase.ROLLING_OUT,
                    start,
                    u.counts,
                    detail=u.target.deployment,
                )
            )

        followed = await together(
            *(self.follower.follow(t, on_update=update, started_at=start) for t in targets)
        )
        return list(followed)

    async def _conclude(
        self,
        record: DeployRecord,
        results: Sequence[FollowResult],
        auto_rollback: bool,
        start: float,
        on_progress: OnProgress,
    ) -> Outcome:
        outcomes: list[ServiceOutcome] = []
        for service in dict.fromkeys(t.service for t in record.targets):
            mine = [r for r in results if r.target.service == service]
            failed = [r for r in mine if not r.succeeded]
            counts = mine[0].counts if mine else Counts()
            if not failed:
                outcomes.append(ServiceOutcome(service, Phase.SUCCEEDED, counts))
                continue
            outcome = ServiceOutcome(service, Phase.FAILED, counts, failed[0].failure)
            if auto_rollback:
                outcome = await self._auto_rollback(record, outcome, failed, start, on_progress)
            outcomes.append(outcome)
        phases = {o.phase for o in outcomes}
        phase = (
            Phase.SUCCEEDED
            if phases == {Phase.SUCCEEDED}
            else Phase.FAILED
            if Phase.FAILED in phases
            else Phase.ROLLED_BACK
        )
        duration = self.clock.monotonic() - start
        summary = summarize(record, outcomes, phase, duration)
        first = next((o.failure for o in outcomes if o.failure), None)
        await self.records.finish(
            record.id,
            phase=RecordPhase.SUCCEEDED if phase is Phase.SUCCEEDED else RecordPhase.FAILED,
            result=summary,
            cause=first.cause.value if first else "",
            duration_s=duration,
            rolled_back=any(o.rolled_back_to for o in outcomes),
        )
        reported = await self.records.claim_report(record.id)
        if reported:
            for o in outcomes:
                detail = o.failure.sentence if o.failure else ""
                await on_progress(
                    self._progress(
                        record,
                        o.service,
                        o.phase,
                        start,
                        o.counts,
                        detail=detail,
                        cause=o.failure.cause if o.failure else None,
                    )
                )
        return Outcome(record.id, record.env, phase, tuple(outcomes), summary, duration, reported)

    async def _auto_rollback(
        self,
        record: DeployRecord,
        outcome: ServiceOutcome,
        failed: Sequence[FollowResult],
        start: float,
        on_progress: OnProgress,
    ) -> ServiceOutcome:
        restored: list[str] = []
        for result in failed:
            t = result.target
            if not t.generation:
                continue  # never patched: nothing to undo
            cause = f"deckhand: automatic rollback after deploy {record.id} failed"
            try:
                undone = await rollback(
                    self.kube, namespace=t.namespace, deployment=t.deployment, change_cause=cause
                )
            except KubeError as e:
                return replace(outcome, rollback_problem=e.sentence())
            if isinstance(undone, UndoRefused):
                return replace(outcome, rollback_problem=undone.text)
            after = await self._follow_rollback(record, t, undone, start, on_progress)
            if not after.succeeded:
                why = after.failure.sentence if after.failure else "it did not complete"
                return replace(outcome, rollback_problem=f"the rollback did not finish: {why}")
            restored.append(undone.images.get(t.container, ""))
        if not restored:
            return outcome
        return replace(outcome, phase=Phase.ROLLED_BACK, rolled_back_to=restored[0])

    async def _follow_rollback(
        self,
        record: DeployRecord,
        target: FollowTarget,
        undone: RolledBack,
        start: float,
        on_progress: OnProgress,
    ) -> FollowResult:
        back = replace(
            target, image=undone.images.get(target.container, ""), generation=undone.generation
        )
        (result,) = await self._follow_all(record, [back], start, on_progress)
        return result

    async def _refused(
        self,
        deploy_id: str,
        env: str,
        tag: str,
        services: Sequence[str],
        why: str,
        on_progress: OnProgress,
    ) -> Outcome:
        for service in services:
            await on_progress(Progress(deploy_id, Phase.REFUSED, service, env, tag, detail=why))
        outcomes = tuple(ServiceOutcome(s, Phase.REFUSED) for s in services)
        return Outcome(deploy_id, env, Phase.REFUSED, outcomes, why)

    def _progress(
        self,
        record: DeployRecord,
        service: str,
        phase: Phase,
        start: float,
        counts: Counts = Counts(),
        *,
        detail: str = "",
        cause: Cause | None = None,
    ) -> Progress:
        digest = next((t.digest for t in record.targets if t.service == service), "") or None
        return Progress(
            record.id,
            phase,
            service,
            record.env,
            record.tag,
            digest,
            counts.updated,
            counts.ready,
            counts.available,
            counts.desired,
            max(0.0, self.clock.monotonic() - start),
            detail,
            cause,
        )
