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
6. finish the record and claim its report in one write (`Records.finish_and_claim`),
   and send the final `Progress` only if that claim wins: a deploy is reported exactly
   once, however many Deckhands resumed it.

An API outage is not a verdict: the follow waits it out (`Follower`); a deadline that
passes out of contact makes the service UNKNOWN (never rolled back: nothing says it
failed). The record's final state with the report claim, and the lock release, are retried
until the API takes them (`bot.kube.retry.until_answered`; each is idempotent).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.clock import Clock
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS, meta
from bot.kube.retry import until_answered
from bot.rollout.apply import Applied, apply_patches, current_image, last_seen
from bot.rollout.follow import Failure, Follower, FollowResult, FollowTarget, FollowUpdate
from bot.rollout.locks import LockHeld, Locks
from bot.rollout.observe import selector_of
from bot.rollout.outcome import Outcome, ServiceOutcome, progress_of, refusal, summarize
from bot.rollout.records import DeployRecord, RecordPhase, Records, TargetRecord
from bot.rollout.rollback import RolledBack, rollback
from bot.tasks import together
from commands import texts
from commands.diagnosis import Cause
from commands.images import tag_of
from commands.plan import DeployPlan, RollbackPlan
from commands.progress import Phase, Progress
from commands.rollout_decisions import CHANGE_CAUSE, Counts, UndoRefused, images_of

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
    lock_after_rollback: bool = False
    """A rollback (command, button, automatic) leaves the service locked (the env's
    `lock_after_rollback`): nothing redeploys what was just rolled back until unlocked."""

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
                await self._hold(
                    held,
                    services,
                    plan.env,
                    plan.deploy_id,
                    plan.requested_by,
                    f"{plan.kind} {plan.tag}",
                    through_own_manual_lock=True,
                )
            except LockHeld as e:
                return await refusal(
                    plan.deploy_id, plan.env, plan.tag, services, str(e), on_progress
                )
            service_of = {p.deployment: s.service for s in plan.services for p in s.patches}
            digest_of = {s.service: s.image.digest for s in plan.services}
            seen = {p.deployment: await last_seen(self.kube, p) for p in plan.patches}
            targets = [
                TargetRecord(
                    service_of[p.deployment],
                    p.deployment,
                    p.container,
                    p.image,
                    digest_of[service_of[p.deployment]],
                    images_of(seen[p.deployment]).get(p.container, ""),
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
                extra={
                    "auto_rollback": "true" if plan.auto_rollback else "false",
                    **({"kind": plan.kind} if plan.kind != "deploy" else {}),
                },
            )
            await self.records.create(record)
            for service in services:
                await on_progress(self._progress(record, service, Phase.ROLLING_OUT, start))
            applied = await apply_patches(self.kube, plan.patches, seen=seen)
            record = await self._previous_images(record, applied.applied)
            done = {a.patch.deployment: a for a in applied.applied}
            follow = [
                _target(
                    t,
                    plan.namespace,
                    done[t.deployment].generation,
                    selector_of(done[t.deployment].deployment),
                )
                for t in targets
                if t.deployment in done
            ]
            results = await self._follow_all(record, follow, start, on_progress)
            if applied.failed is not None:
                failed = next(t for t in targets if t.deployment == applied.failed.deployment)
                failure = Failure(Cause.UNKNOWN, applied.sentence(), texts.patch_failed_step())
                elapsed = self.clock.monotonic() - start
                results.append(
                    FollowResult(
                        _target(failed, plan.namespace, 0), False, Counts(), elapsed, failure
                    )
                )
            return await self._conclude(record, results, plan.auto_rollback, start, on_progress)

    async def resume(
        self, record: DeployRecord, *, on_progress: OnProgress = drop_progress
    ) -> Outcome:
        """Finish following a deploy a previous Deckhand started (record phase rolling_out)."""
        elapsed = max(0.0, (self.clock.now() - record.when).total_seconds())
        start = self.clock.monotonic() - elapsed
        async with contextlib.AsyncExitStack() as held:
            try:
                await self._hold(
                    held,
                    record.services,
                    record.env,
                    record.id,
                    record.who,
                    f"deploy {record.tag}",
                    take_over=True,
                )
            except LockHeld as e:  # its follower is alive, or another Deckhand resumed it
                log.info("not resuming %s: %s", record.id, e)
                return Outcome(record.id, record.env, Phase.ROLLING_OUT, (), str(e), reported=False)
            follow: list[FollowTarget] = []
            superseded: list[FollowResult] = []
            for t in record.targets:
                obj = await self.kube.get(DEPLOYMENTS, t.deployment, namespace=record.namespace)
                current = images_of(obj).get(t.container)
                if current == t.image:
                    generation = int(meta(obj).get("generation") or 0)
                    follow.append(_target(t, record.namespace, generation, selector_of(obj)))
                    continue
                # Not Deckhand's change (any more): generation 0 keeps the automatic
                # rollback off it, which would otherwise undo someone else's revision,
                # or, when the patch never happened, go one revision too far.
                if current == t.previous_image:
                    failure = Failure(
                        Cause.UNKNOWN,
                        texts.interrupted_before_patch(t.deployment),
                        texts.interrupted_step(),
                    )
                else:
                    failure = Failure(
                        Cause.UNKNOWN, texts.superseded(t.deployment), texts.superseded_step()
                    )
                untouched = _target(t, record.namespace, 0)
                superseded.append(FollowResult(untouched, False, Counts(), elapsed, failure))
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
                await self._hold(
                    held,
                    [plan.service],
                    plan.env,
                    plan.deploy_id,
                    plan.requested_by,
                    f"rollback to #{plan.to.number}",
                    through_own_manual_lock=True,
                )
            except LockHeld as e:
                return await refusal(
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
            cause = dict(plan.patches[0].annotations).get(CHANGE_CAUSE)
            follow: list[FollowTarget] = []
            results: list[FollowResult] = []
            for index, t in enumerate(targets):
                try:  # revision numbers are the first Deployment's; the others go by tag
                    undone = await rollback(
                        self.kube,
                        namespace=plan.namespace,
                        deployment=t.deployment,
                        to_revision=None if index else plan.to.number,
                        to_tag=plan.to.tag if index else None,
                        change_cause=cause,
                    )
                except KubeError as e:
                    undone = UndoRefused("error", e.sentence())
                if isinstance(undone, UndoRefused):
                    failure = Failure(Cause.UNKNOWN, undone.text, texts.nothing_changed())
                    target = _target(t, plan.namespace, 0)
                    results.append(FollowResult(target, False, Counts(), 0.0, failure))
                    continue
                follow.append(_target(t, plan.namespace, undone.generation, undone.selector))
            results += await self._follow_all(record, follow, start, on_progress)
            return await self._conclude(record, results, False, start, on_progress)

    # ---- shared steps ----

    async def _previous_images(
        self, record: DeployRecord, applied: Sequence[Applied]
    ) -> DeployRecord:
        """The record, its previous images corrected where a Deployment changed between
        the check's read and the patch (written again only then)."""
        before = {a.patch.deployment: a.previous_image for a in applied}
        targets = tuple(
            replace(t, previous_image=before.get(t.deployment, t.previous_image))
            for t in record.targets
        )
        if targets == record.targets:
            return record
        return await self.records.update(record.id, lambda r: replace(r, targets=targets))

    async def _hold(
        self,
        held: contextlib.AsyncExitStack,
        services: Sequence[str],
        env: str,
        deploy_id: str,
        who: str,
        why: str,
        *,
        through_own_manual_lock: bool = False,
        take_over: bool = False,
    ) -> None:
        """Take every service's lock for the life of `held`; `LockHeld` if one is taken
        (`take_over`: a resume, which also yields to the deploy's live follower)."""
        for service in dict.fromkeys(services):
            await held.enter_async_context(
                self.locks.holding(
                    service,
                    env,
                    deploy_id=deploy_id,
                    who=who,
                    why=why,
                    take_over=take_over,
                    through_own_manual_lock=through_own_manual_lock,
                )
            )

    async def _follow_all(
        self,
        record: DeployRecord,
        targets: Sequence[FollowTarget],
        start: float,
        on_progress: OnProgress,
    ) -> list[FollowResult]:
        async def update(u: FollowUpdate) -> None:
            lost = None if u.lost_for_s is None else texts.lost_contact(u.lost_for_s)
            await on_progress(
                self._progress(
                    record,
                    u.target.service,
                    Phase.ROLLING_OUT,
                    start,
                    u.counts,
                    detail=lost
                    or (f"{u.target.deployment} · {u.note}" if u.note else u.target.deployment),
                )
            )

        async def follow(target: FollowTarget) -> FollowResult:
            try:
                return await self.follower.follow(target, on_update=update, started_at=start)
            except KubeError as e:  # Deckhand lost sight of it: say so, don't guess
                failure = Failure(Cause.UNKNOWN, e.sentence(), texts.lost_sight_step())
                elapsed = self.clock.monotonic() - start
                return FollowResult(target, False, Counts(), elapsed, failure)

        return list(await together(*(follow(t) for t in targets)))

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
            failed = [r for r in mine if not r.succeeded and not r.unknown]
            unknown = [r for r in mine if r.unknown]
            counts = mine[0].counts if mine else Counts()
            if not failed and unknown:  # out of contact: nothing to roll back, no verdict
                outcomes.append(ServiceOutcome(service, Phase.UNKNOWN, counts, unknown[0].failure))
                continue
            if not failed:
                outcomes.append(ServiceOutcome(service, Phase.SUCCEEDED, counts))
                continue
            outcome = ServiceOutcome(service, Phase.FAILED, counts, failed[0].failure)
            if auto_rollback:
                outcome = await self._auto_rollback(record, outcome, failed, start, on_progress)
            outcomes.append(outcome)
        phase = overall_phase({o.phase for o in outcomes})
        notes = await self._stay_rolled_back(record, outcomes) if self.lock_after_rollback else ()
        duration = self.clock.monotonic() - start
        summary = "\n".join([summarize(record, outcomes, phase, duration), *notes])
        first = next((o.failure for o in outcomes if o.failure), None)
        backoff = self.kube.options.reconnect_backoff_s
        for o in outcomes:  # said now: the record (and the final report) waits for the API
            if o.phase is Phase.UNKNOWN and o.failure is not None:
                detail = texts.recorded_when_back(o.failure.sentence)
                progress = self._progress(
                    record, o.service, Phase.ROLLING_OUT, start, o.counts, detail=detail
                )
                await on_progress(progress)
        claimant = secrets.token_hex(8)
        reported = await until_answered(
            lambda: self.records.finish_and_claim(
                record.id,
                claimant,
                phase=_RECORD_PHASES.get(phase, RecordPhase.FAILED),
                result=summary,
                cause=first.cause.value if first else "",
                duration_s=duration,
                rolled_back=any(o.rolled_back_to for o in outcomes),
            ),
            what=f"finish deploy record {record.id} and claim its report",
            backoff=backoff,
        )
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
        return Outcome(
            record.id, record.env, phase, tuple(outcomes), summary, duration, reported, notes=notes
        )

    async def _stay_rolled_back(
        self, record: DeployRecord, outcomes: Sequence[ServiceOutcome]
    ) -> tuple[str, ...]:
        """Lock every service that was rolled back (by this rollback, or automatically in
        this deploy) in one compare-and-swap from the deploy's own lock; the sentences say so."""
        manual = "rollback_to" in record.extra
        notes: list[str] = []
        for o in outcomes:
            if manual and o.phase is Phase.SUCCEEDED:
                previous = next(
                    (t.previous_image for t in record.targets if t.service == o.service), ""
                )
                why = texts.rollback_lock_reason(tag_of(previous) or "", record.who)
            elif o.phase is Phase.ROLLED_BACK:
                why = texts.rollback_lock_reason(record.tag, record.who, automatic=True)
            else:
                continue
            try:
                kept = await self.locks.keep_as_manual(
                    o.service, record.env, deploy_id=record.id, who=record.who, why=why
                )
            except KubeError as e:
                log.warning("rollback lock of %s not kept: %s", o.service, e.sentence())
                continue
            if kept:
                notes.append(texts.rollback_locked(o.service, record.env, why))
        return tuple(notes)

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
            cause = texts.auto_rollback_cause(record.id)
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
                return replace(outcome, rollback_problem=texts.rollback_unfinished(why))
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
            target,
            image=undone.images.get(target.container, ""),
            generation=undone.generation,
            selector=undone.selector or target.selector,
        )
        (result,) = await self._follow_all(record, [back], start, on_progress)
        return result

    def _progress(
        self,
        record: DeployRecord,
        service: str,
        phase: Phase,
        start: float,
        counts: Counts | None = None,
        *,
        detail: str = "",
        cause: Cause | None = None,
    ) -> Progress:
        elapsed = max(0.0, self.clock.monotonic() - start)
        return progress_of(record, service, phase, elapsed, counts, detail=detail, cause=cause)


_RECORD_PHASES = {Phase.SUCCEEDED: RecordPhase.SUCCEEDED, Phase.UNKNOWN: RecordPhase.UNKNOWN}


def overall_phase(phases: set[Phase]) -> Phase:
    """A deploy's phase from its services': any failure fails it; else any service out
    of contact makes it UNKNOWN; all rolled back or succeeded (pure)."""
    if phases <= {Phase.SUCCEEDED}:
        return Phase.SUCCEEDED
    for phase in (Phase.FAILED, Phase.UNKNOWN):
        if phase in phases:
            return phase
    return Phase.ROLLED_BACK


def _target(t: TargetRecord, namespace: str, generation: int, selector: str = "") -> FollowTarget:
    return FollowTarget(
        t.service, namespace, t.deployment, t.container, t.image, generation, selector
    )
