"""One deploy (or rollback) as ONE channel message, edited in place from request to verdict.

    flow = DeployFlow(engine, client=web_client, supervisor=…, …)
    waiting = await flow.deploy(ctx, validated)    # after authorization
    await flow.run_approved(plan, channel=…, ts=…, note=…)   # once the desk approved
    await flow.rollback(ctx, validated)      # a command, or the Roll back button
    await flow.restart(ctx, validated)       # `kubectl rollout restart`, followed
    await flow.resume_in_flight()            # at start: finish what a previous run began
    await flow.retry_unreported()            # final reports Slack did not take

The message goes: requested → checks passed (digest, platform, size, revision label;
a label that doesn't match the tag is flagged) → rolling out (updated/ready/total,
elapsed; coalesced by `LiveMessage`) → succeeded in N s, or failed with cause, what
to do and a Roll back button. Details (evidence, log lines, the image now running)
go into the message's thread. A check that refuses (missing tag with suggestions,
wrong platform, `latest`, locked, nothing to do…) ends the message with that sentence;
nothing in the cluster changed.

A deploy to an environment that needs approvals stops at "awaiting approval": `deploy`
returns `AwaitingApproval` (the plan and its message) and the caller hands it to the
approval desk; once approved, the caller runs it with `run_approved` on that message.
The flow knows nothing of the desk, nor the desk of the flow.

Exactly-once reports: the engine marks the record reported before sending the final
progress; if Slack can't take the final state after its retries (`FinalUpdateFailed`),
the record is marked unreported again, and `retry_unreported` (at start, then
periodically) re-renders it from the record and delivers it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from slack_sdk.web.async_client import AsyncWebClient

from bot.deploys.render import DeployCard, FailureNote, ImageFacts, render_card
from bot.lifecycle import Supervisor
from bot.rollout.engine import RolloutEngine, refusing
from bot.rollout.outcome import Outcome
from bot.rollout.records import DeployRecord, RecordPhase, new_deploy_id
from bot.slack import writes
from bot.slack.client import BotNotInChannel, FinalUpdateFailed, SlackError
from bot.slack.contexts import CommandContext, Replier
from bot.slack.live_message import LiveMessage
from commands import texts
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Refusal, RefusalCode
from commands.validate import (
    ValidatedDeploy,
    ValidatedPromote,
    ValidatedRestart,
    ValidatedRollback,
    validate,
)

log = logging.getLogger(__name__)

NEWEST_TAGS = 5
"""Tags suggested under a refusal for a tag the registry doesn't have."""


@dataclass(frozen=True)
class AwaitingApproval:
    """A checked plan whose environment needs approvals, and the deploy's message (which
    the approval desk turns into the request, and `run_approved` later into the rollout)."""

    plan: DeployPlan
    live: LiveMessage


def facts_of(plan: DeployPlan) -> tuple[ImageFacts, ...]:
    """What the registry check found, per service, for the message. Pure."""
    return tuple(
        ImageFacts(
            service=s.service,
            digest=s.image.digest,
            platform=s.image.platform,
            size=s.image.size,
            revision=s.image.revision_label,
            revision_mismatch=bool(
                s.image.revision_label
                and not s.image.revision_label.lower().startswith(plan.tag.lower())
            ),
        )
        for s in plan.services
    )


def apply_outcome(card: DeployCard, outcome: Outcome) -> DeployCard:
    """The card's final state from the engine's outcome. Pure."""
    if outcome.phase is Phase.REFUSED:
        return card.refused(outcome.summary)
    for o in outcome.services:
        if o.failure is not None:
            step = o.failure.next_step
            if o.rolled_back_to:
                step = f"{step} Rolled back automatically to `{o.rolled_back_to}`.".strip()
            elif o.rollback_problem:
                step = f"{step} The automatic rollback did not happen: {o.rollback_problem}".strip()
            unknown = o.phase is Phase.UNKNOWN
            note = FailureNote(o.failure.sentence, step, unknown=unknown)
            card = card.with_failure(o.service, note)
    if outcome.notes:
        card = card.with_note(" ".join(outcome.notes))
    return card.finished(outcome.phase, elapsed_s=outcome.duration_s)


def card_of_record(record: DeployRecord) -> DeployCard:
    """A card rebuilt from a deploy record (resume, report retries). Pure."""
    card = DeployCard(
        kind="rollback" if "rollback_to" in record.extra else record.extra.get("kind", "deploy"),
        deploy_id=record.id,
        env=record.env,
        what=record.tag,
        services=tuple(dict.fromkeys(record.services)),
        requested_by=record.who,
        reason=record.reason or None,
        phase=Phase.ROLLING_OUT,
    )
    if record.phase is RecordPhase.ROLLING_OUT:
        return card
    phase = {RecordPhase.SUCCEEDED: Phase.SUCCEEDED, RecordPhase.UNKNOWN: Phase.UNKNOWN}.get(
        record.phase, Phase.FAILED
    )
    if record.rolled_back:
        phase = Phase.ROLLED_BACK
    note = record.result if phase is not Phase.SUCCEEDED else ""
    return card.with_note(note).finished(phase, elapsed_s=record.duration_s)


def thread_text(card: DeployCard, outcome: Outcome, images: dict[str, str]) -> str:
    """The details reply under the message. Pure."""
    parts = []
    for o in outcome.services:
        if o.failure is not None:
            f = o.failure
            parts.append(
                texts.thread_details(
                    o.service, f.cause.value.replace("_", " "), f.pod, f.evidence, f.logs
                )
            )
        elif o.phase is Phase.SUCCEEDED:
            parts.append(
                texts.thread_succeeded(
                    o.service, images.get(o.service, card.what), o.counts.updated
                )
            )
    return "\n\n".join(parts)


class DeployFlow:
    """Runs deploys and rollbacks and keeps their messages (see the module docstring)."""

    def __init__(
        self,
        engine: RolloutEngine,
        *,
        client: AsyncWebClient,
        supervisor: Supervisor,
        update_interval_s: float,
        finish_timeout_s: float,
    ) -> None:
        self._engine = engine
        self._client = client
        self._supervisor = supervisor
        self._interval_s = update_interval_s
        self._finish_timeout_s = finish_timeout_s

    async def deploy(
        self, ctx: CommandContext, request: ValidatedDeploy
    ) -> AwaitingApproval | None:
        """Check, then (unless refused or waiting for approval) roll out and report."""
        card = DeployCard(
            kind="deploy",
            deploy_id=new_deploy_id(),
            env=request.env,
            what=request.tag,
            services=request.services,
            requested_by=ctx.user_id,
            reason=request.reason,
        )

        async def check() -> DeployPlan | Refusal:
            plan = await refusing(
                "check the deploy",
                self._engine.check(request, user=ctx.user_id, deploy_id=card.deploy_id),
            )
            if isinstance(plan, Refusal):
                plan = Refusal(plan.code, await self._with_tags(plan, request))
            return plan

        checked = await self._posted_and_checked(ctx, card, check)
        if checked is None:
            return None
        live, plan = checked
        return await self._carry_out(live, card, plan)

    async def restart(
        self, ctx: CommandContext, request: ValidatedRestart
    ) -> AwaitingApproval | None:
        """`kubectl rollout restart` of one service (after authorization): checked
        (locks, Deployments), then followed and reported in ONE message like a deploy."""
        card = DeployCard(
            kind="restart",
            deploy_id=new_deploy_id(),
            env=request.env,
            what="",
            services=(request.service,),
            requested_by=ctx.user_id,
            reason=request.reason,
        )
        checked = await self._posted_and_checked(
            ctx,
            card,
            lambda: refusing(
                "check the restart",
                self._engine.check_restart(request, user=ctx.user_id, deploy_id=card.deploy_id),
            ),
        )
        if checked is None:
            return None
        live, plan = checked
        if not isinstance(plan, Refusal):
            card = replace(card, what=plan.tag)
        return await self._carry_out(live, card, plan)

    async def _posted_and_checked(
        self,
        ctx: CommandContext,
        card: DeployCard,
        check: Callable[[], Awaitable[DeployPlan | Refusal]],
    ) -> tuple[LiveMessage, DeployPlan | Refusal] | None:
        """The card posted (None: it couldn't be, the requester was told), then `check`
        run under it (an unexpected error ends the message as failed)."""
        live = await self._post(ctx.replier, card)
        if live is None:
            return None
        async with self._finish_on_error(live, _Tracker(live, card, started=self._now())):
            plan = await check()
        return live, plan

    async def _carry_out(
        self, live: LiveMessage, card: DeployCard, plan: DeployPlan | Refusal
    ) -> AwaitingApproval | None:
        """A checked plan: refused, waiting for approval (returned, for the caller to hand
        to the approval desk), or rolled out and reported."""
        if isinstance(plan, Refusal):
            await self._finish(live, card.refused(plan.text))
            return None
        card = card.checked(facts_of(plan), unchanged=plan.unchanged).with_changes(
            (*plan.promotion, *texts.notes_lines(plan.change_notes))
        )
        if plan.unpromoted and plan.approvals_required == 0:
            # promote_from with nobody to force it: the promote command is the way
            text = texts.not_promoted(plan.unpromoted, plan.promote_source, plan.env)
            await self._finish(live, card.refused(text))
            return None
        await self._thread_notes(live, plan)
        if plan.approvals_required > 0:
            _show(live, card.finished(Phase.AWAITING_APPROVAL))
            return AwaitingApproval(plan, live)
        _show(live, card)
        tracker = _Tracker(live, card, started=self._now())
        async with self._finish_on_error(live, tracker):
            outcome = await self._engine.execute(
                plan, on_progress=tracker, slack_channel=live.channel, slack_ts=live.ts
            )
        images = {s.service: s.image.reference for s in plan.services}
        await self._report(live, tracker.card, outcome, images)
        return None

    async def promote(
        self, ctx: CommandContext, request: ValidatedPromote
    ) -> list[AwaitingApproval]:
        """One deploy per service of exactly the digest `request.source` runs (its own
        message, checks and approval each); a service with nothing to promote is told.
        Returns the deploys that wait for an approval."""
        found = await refusing("read the source environment", self._engine.promotions(request))
        waiting: list[AwaitingApproval] = []
        for item in [found] if isinstance(found, Refusal) else found:
            if isinstance(item, Refusal):
                await ctx.replier.ephemeral(item.text)
                continue
            checked = validate(item, self._engine.config)  # each pinned deploy, once
            if isinstance(checked, Refusal):
                await ctx.replier.ephemeral(checked.text)
                continue
            assert isinstance(checked, ValidatedDeploy)  # a Deploy validates to one
            pending = await self.deploy(ctx, checked)
            if pending is not None:
                waiting.append(pending)
        return waiting

    async def run_approved(self, plan: DeployPlan, *, channel: str, ts: str, note: str) -> None:
        """Roll out an approved `plan` on the approval request's message (channel, ts):
        that message becomes the rollout's live message; `note` says who approved."""
        live = LiveMessage(
            self._client,
            channel=channel,
            ts=ts,
            supervisor=self._supervisor,
            interval_s=self._interval_s,
            finish_timeout_s=self._finish_timeout_s,
        )
        card = DeployCard(
            kind="deploy",
            deploy_id=plan.deploy_id,
            env=plan.env,
            what=plan.tag,
            services=(*(s.service for s in plan.services), *plan.unchanged),
            requested_by=plan.requested_by,
            reason=plan.reason,
            note=note,
        ).checked(facts_of(plan), unchanged=plan.unchanged)
        card = card.with_changes((*plan.promotion, *texts.notes_lines(plan.change_notes)))
        _show(live, card)
        tracker = _Tracker(live, card, started=self._now())
        async with self._finish_on_error(live, tracker):
            outcome = await self._engine.execute(
                plan, on_progress=tracker, slack_channel=channel, slack_ts=ts
            )
        images = {s.service: s.image.reference for s in plan.services}
        await self._report(live, tracker.card, outcome, images)

    async def rollback(self, replier: Replier, user: str, request: ValidatedRollback) -> None:
        """Roll one service back (a command or the button), in its own message.

        A rollback needs deployer rights, not approvals: it can only return to a revision
        that already ran in that environment (`commands.plan.plan_rollback`), and in an
        incident minutes count.
        """
        if request.to:
            what = f"to {request.to}"
        elif request.revision is not None:
            what = f"to revision #{request.revision}"
        else:
            what = "to the previous revision"
        card = DeployCard(
            kind="rollback",
            deploy_id="…",
            env=request.env,
            what=what,
            services=(request.service,),
            requested_by=user,
            reason=request.reason,
        )
        live = await self._post(replier, card)
        if live is None:
            return
        tracker = _Tracker(live, card, started=self._now())
        async with self._finish_on_error(live, tracker):
            result = await refusing(
                "check the rollback",
                self._engine.rollback(request, user=user, on_progress=tracker),
            )
        if isinstance(result, Refusal):
            await self._finish(live, tracker.card.refused(result.text))
            return
        card = tracker.card.with_changes(tuple(texts.rollback_lines(result.change_notes)))
        await self._report(live, card, result, await self._images_of(result.deploy_id))
        full = texts.notes_thread(result.change_notes)
        if full:
            with contextlib.suppress(SlackError):
                await live.reply_in_thread(full)

    async def _thread_notes(self, live: LiveMessage, plan: DeployPlan) -> None:
        """The full commit lists go into the message's thread (the message shows a few)."""
        full = texts.notes_thread(plan.change_notes)
        if not full:
            return
        try:
            await live.reply_in_thread(full)
        except SlackError as e:
            log.warning("deploy %s: change notes not posted: %s", plan.deploy_id, e)

    async def _with_tags(self, refusal: Refusal, request: ValidatedDeploy) -> str:
        """A missing tag's refusal, plus the newest tags of each service that lacks it."""
        if refusal.code is not RefusalCode.IMAGE_PROBLEM:
            return refusal.text
        lines = [refusal.text]
        for service in request.services:
            tags = await self._engine.tags(service)
            if not isinstance(tags, Refusal) and tags and request.tag.lower() not in tags:
                repository = self._engine.config.services[service].image
                lines.append(texts.tags_answer(service, repository, tags[:NEWEST_TAGS]))
        return "\n".join(lines)

    # ---- resume and report retries ----

    async def sweep(self) -> None:
        """The leader's periodic sweep: resume deploys left rolling out whose follower is
        gone, deliver final reports Slack refused, release locks of finished deploys."""
        await self.resume_in_flight()
        delivered = await self.retry_unreported()
        if delivered:
            log.info("delivered %d final deploy report(s) late", delivered)
        await self._engine.release_finished_locks()

    async def resume_in_flight(self) -> int:
        """Start following every deploy a previous Deckhand left rolling out (a supervised
        task reports each to its recorded message); returns how many there are. A deploy
        this Deckhand follows already is left alone; one a live follower elsewhere holds
        is skipped by the engine (its lock), and asked about once more when that
        follower's heartbeat would be stale (`Locks.stale_after_s`: it may have just died)."""
        engine = self._engine
        records = [
            r
            for r in await engine.records.in_flight()
            if not r.reported and not engine.is_running(r.id)
        ]
        if records:
            log.info("resuming %d deploy(s) left rolling out", len(records))
            self._supervisor.spawn(self._resume(records), name="deploys-resume")
        return len(records)

    async def _resume(self, records: list[DeployRecord]) -> None:
        trackers = {
            r.id: _Tracker(self._attach(r), card_of_record(r), started=self._now())
            for r in records
            if r.slack_ts
        }

        async def route(progress: Progress) -> None:
            tracker = trackers.get(progress.deploy_id)
            if tracker is not None:
                await tracker(progress)

        wanted = frozenset(r.id for r in records)
        for attempt in range(2):
            outcomes = await self._engine.resume_in_flight(route, only=wanted)
            for outcome in outcomes:
                tracker = trackers.get(outcome.deploy_id)
                if tracker is not None and outcome.reported and outcome.phase.is_final:
                    await self._report(tracker.live, tracker.card, outcome, {})
            # Held by a follower that renewed lately (alive, or killed a moment ago): look
            # once more when its heartbeat would be stale, not a whole sweep later.
            wanted = frozenset(o.deploy_id for o in outcomes if not o.phase.is_final)
            if not wanted or attempt:
                return
            await self._engine.clock.sleep(self._engine.locks.stale_after_s)

    async def retry_unreported(self) -> int:
        """Deliver final reports Slack refused earlier; returns how many were delivered."""
        delivered = 0
        records = self._engine.records
        for record in await records.unreported():
            if self._engine.is_running(record.id):
                continue  # between its record's final write and its own claim: its report
            if not await records.claim_report(record.id):
                continue
            blocks, text = render_card(card_of_record(record))
            try:
                await writes.update_message(
                    self._client,
                    channel=record.slack_channel,
                    ts=record.slack_ts,
                    text=text,
                    blocks=blocks,
                )
            except SlackError as e:
                log.warning("deploy %s: final report still not delivered: %s", record.id, e)
                await records.set_reported(record.id, False)
                continue
            delivered += 1
        return delivered

    # ---- the message ----

    async def _post(self, replier: Replier, card: DeployCard) -> LiveMessage | None:
        """The deploy's message, posted BEFORE anything changes in the cluster; None (and
        the requester told how to invite the bot) when the bot can't post there."""
        blocks, text = render_card(card)
        try:
            return await replier.start_live(blocks, text=text)
        except BotNotInChannel as e:
            log.info("deploy %s: not posted (%s): nothing done", card.deploy_id, e.error)
            await replier.ephemeral(texts.bot_not_in_channel(e.channel))
            return None

    async def _images_of(self, deploy_id: str) -> dict[str, str]:
        """service -> the image a (rollback) deploy set, from its record."""
        record = await self._engine.records.find(deploy_id)
        return {t.service: t.image for t in record.targets} if record is not None else {}

    def _now(self) -> float:
        return self._engine.clock.monotonic()

    def _attach(self, record: DeployRecord) -> LiveMessage:
        return LiveMessage(
            self._client,
            channel=record.slack_channel,
            ts=record.slack_ts,
            supervisor=self._supervisor,
            interval_s=self._interval_s,
            finish_timeout_s=self._finish_timeout_s,
        )

    @contextlib.asynccontextmanager
    async def _finish_on_error(self, live: LiveMessage, tracker: _Tracker) -> AsyncIterator[None]:
        """An unexpected error still ends the message, as failed (then propagates: the
        handlers log it with the correlation id and tell the user that id)."""
        try:
            yield
        except Exception as e:
            note = texts.backend_unavailable("finish this deploy", type(e).__name__)
            patched = tracker.card.phase is Phase.ROLLING_OUT  # else nothing to roll back
            card = replace(tracker.card, rollback_offered=patched).with_note(note)
            elapsed = max(tracker.card.elapsed_s or 0.0, self._now() - tracker.started)
            await self._finish(live, card.finished(Phase.FAILED, elapsed_s=elapsed))
            raise

    async def _report(
        self, live: LiveMessage, card: DeployCard, outcome: Outcome, images: dict[str, str]
    ) -> None:
        card = apply_outcome(card, outcome)
        delivered = await self._finish(live, card)
        if not delivered:
            await self._engine.records.set_reported(outcome.deploy_id, False)
            return
        details = thread_text(card, outcome, images)
        if details:
            try:
                await live.reply_in_thread(details)
            except SlackError as e:
                log.warning("deploy %s: thread details not posted: %s", outcome.deploy_id, e)

    async def _finish(self, live: LiveMessage, card: DeployCard) -> bool:
        blocks, text = render_card(card)
        try:
            await live.finish(blocks, text=text)
        except FinalUpdateFailed as e:
            log.warning("deploy %s: %s; kept for a later retry", card.deploy_id, e)
            return False
        return True


class _Tracker:
    """Folds progress into the card and hands non-final states to the live message.

    Only a change people care about is sent: a phase, a service's ready count or its
    detail line (a waiting reason, "lost contact … (N s)"), not every updated/available
    step, nor the elapsed time. `started` (the clock's monotonic) makes the elapsed time
    of a card ended by an error real. With `LiveMessage`'s
    coalescing this keeps a 3-replica deploy within its Slack call budget.
    """

    def __init__(self, live: LiveMessage, card: DeployCard, *, started: float) -> None:
        self.live = live
        self.card = card
        self.started = started
        self._shown: tuple[object, ...] = ()

    async def __call__(self, progress: Progress) -> None:
        if self.card.deploy_id != progress.deploy_id:  # the engine named it (rollbacks)
            self.card = replace(self.card, deploy_id=progress.deploy_id)
        self.card = self.card.with_progress(progress)
        if self.card.phase.is_final or self.live.finished:
            return
        shown = (
            self.card.phase,
            tuple(
                (p.service, p.phase, p.ready, p.total, p.detail)
                for p in self.card.progress.values()
            ),
        )
        if shown != self._shown:
            self._shown = shown
            _show(self.live, self.card)


def _show(live: LiveMessage, card: DeployCard) -> None:
    blocks, text = render_card(card)
    live.update(blocks, text=text)
