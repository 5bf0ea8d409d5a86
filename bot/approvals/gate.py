"""`ApprovalDesk`: approvals for protected environments, from the request to the rollout.

    desk = ApprovalDesk(engine, client=web_client, usergroups=groups)
    go = await desk.handle_action(click)       # an `Approval` to roll out, or None
    if go is not None:
        await flow.run_approved(go.plan, channel=go.channel, ts=go.ts, note=go.note)

- `request(plan, ctx, live)` (the deploy flow, after every pre-check passed): records
  the request in the cluster (`ApprovalStore`) and turns the deploy's message into the
  approval request (`render.render_request`): Approve (or Force in a freeze) and Reject.
- `handle_action` (button clicks): Approve counts a vote; Reject and Force open a modal
  (`views.open`) asking for a reason. `handle_view` takes the submitted modal.
- A vote: the requester's own, a non-approver's, a second one by the same person, one
  on a decided or expired request are refused ephemerally (`commands.approvals`).
  Before a vote counts, the deploy is checked again (registry, cluster, locks): if the
  tag now resolves to another digest, the request becomes VOID and says so. The vote is
  then written with compare-and-swap, and only the writer of PENDING → APPROVED gets
  the decision `Approval` back (the caller rolls it out on the same message): double
  clicks, a click delivered twice and two approvers at the same instant start one rollout.
- `cancel` (`/deploy cancel ID`): the requester or an approver withdraws a request.
- `expire_due()` (the leader, periodically: `bot.app.leader_work`) and any click on an
  expired request mark it EXPIRED: its message says so and loses its buttons.
- `history_lines(service, env)`: the audit trail for `/deploy history`.

Nothing is kept in memory between clicks: a restarted Deckhand finds every request in
the cluster, and the buttons keep working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals.render import (
    APPROVE_ACTION,
    FORCE_ACTION,
    REASON_BLOCK,
    REJECT_ACTION,
    modal_target,
    notice_modal,
    outcome_line,
    reason_modal,
    render_request,
    trail_lines,
)
from bot.approvals.store import ApprovalStore
from bot.clock import Clock
from bot.kube.errors import KubeError
from bot.rollout.engine import RolloutEngine, refusing
from bot.slack import writes
from bot.slack.blocks import section
from bot.slack.client import FinalUpdateFailed, SlackError
from bot.slack.contexts import ActionContext, CommandContext, Replier, ViewContext
from bot.slack.live_message import LiveMessage
from bot.slack.usergroups import UserGroups
from commands import texts
from commands.approvals import (
    ApprovalRequest,
    ApprovalState,
    Approved,
    Counted,
    click_on_its_message,
    decide_approval,
    decide_cancel,
    decide_rejection,
    expire,
    new_request,
    void_if_moved,
)
from commands.config import EnvironmentConfig
from commands.plan import DeployPlan
from commands.requests import MAX_REASON, Refusal
from commands.validate import ValidatedDeploy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Approval:
    """The desk's decision to roll `plan` out, on the request's message (channel, ts);
    `note` says who approved. The caller starts the rollout."""

    plan: DeployPlan
    channel: str
    ts: str
    note: str


def one_line(text: str) -> str:
    """A reason as kept: one trimmed line of at most `MAX_REASON` characters. Pure."""
    return " ".join(text.split())[:MAX_REASON]


class ApprovalDesk:
    """Approvals: the requests, the buttons, the modals (see the module docstring)."""

    def __init__(
        self,
        engine: RolloutEngine,
        *,
        client: AsyncWebClient,
        usergroups: UserGroups,
        clock: Clock | None = None,
    ) -> None:
        self._engine = engine
        self._config = engine.config
        self._store = ApprovalStore(engine.kube, engine.config.deckhand.namespace)
        self._client = client
        self._groups = usergroups
        self._clock = clock or engine.clock

    @property
    def store(self) -> ApprovalStore:
        return self._store

    # ---- the request ----

    async def request(self, plan: DeployPlan, ctx: CommandContext, live: LiveMessage) -> None:
        """Record the request and turn the deploy's message into it (see the docstring)."""
        try:
            current = await self._current(plan)
            made = new_request(
                plan,
                current=current,
                env_config=self._config.environments[plan.env],
                source_urls={s: c.source_url for s, c in self._config.services.items()},
                now=self._clock.now(),
            )
            made = replace(made, slack_channel=live.channel, slack_ts=live.ts)
            await self._store.create(made)
        except KubeError as e:
            note = texts.backend_unavailable("record the approval request", e.sentence())
            await self._finish(live, [section(note)], note)
            return
        blocks, text = render_request(made)
        await self._finish(live, blocks, text)
        log.info("approval %s requested by %s for %s", made.id, made.requested_by, made.env)

    async def _current(self, plan: DeployPlan) -> dict[str, str]:
        services = [s.service for s in plan.services]
        statuses = await refusing("read the status", self._engine.statuses(services, [plan.env]))
        if isinstance(statuses, Refusal):
            return {}
        return {s.service: s.deployments[0].image or "" for s in statuses if s.deployments}

    # ---- clicks and modals ----

    async def handle_action(self, action: ActionContext) -> Approval | None:
        """A click; an `Approval` when it approved the request (the caller rolls out)."""
        try:
            if action.action_id in (REJECT_ACTION, FORCE_ACTION):
                await self._open_modal(action)  # first: its trigger_id lives 3 s
                return None
            if not await self._on_its_message(action):
                return None
            if action.action_id == APPROVE_ACTION:
                return await self._approve(
                    action.replier, action.user_id, action.value, forced=None
                )
        except KubeError as e:
            await action.replier.ephemeral(texts.backend_unavailable("decide", e.sentence()))
        return None

    async def _on_its_message(self, action: ActionContext) -> bool:
        """False (and the clicker told) when the click's message is not the request's."""
        if action.action_id not in (APPROVE_ACTION, REJECT_ACTION, FORCE_ACTION):
            return True
        request = await self._store.get(action.value)
        if request is None:
            return True  # `_load` answers "no such request"
        refusal = click_on_its_message(
            request, channel_id=action.channel_id, message_ts=action.message_ts
        )
        if refusal is None:
            return True
        log.warning(
            "approval %s: click from message %s in %s refused (the request's is %s)",
            request.id,
            action.message_ts,
            action.channel_id,
            request.slack_ts,
        )
        await action.replier.ephemeral(refusal.text)
        return False

    def check_view(self, view: ViewContext) -> dict[str, str]:
        """Errors keeping a reason modal open (`reason_errors`); no I/O."""
        return reason_errors(view.callback_id, view.private_metadata, view.values)

    async def handle_view(self, view: ViewContext) -> Approval | None:
        """A reason modal; an `Approval` when a forced approval went through."""
        request_id = modal_target(view.private_metadata)
        reason = one_line(view.values.get(REASON_BLOCK, ""))
        if request_id is None or not reason:
            return None  # not our modal; a blank reason never gets here (`check_view`)
        try:
            if view.callback_id == FORCE_ACTION:
                return await self._approve(view.replier, view.user_id, request_id, forced=reason)
            if view.callback_id == REJECT_ACTION:
                await self._reject(view.replier, view.user_id, request_id, reason)
        except KubeError as e:
            await view.replier.ephemeral(texts.backend_unavailable("decide", e.sentence()))
        return None

    async def cancel(self, replier: Replier, user: str, request_id: str) -> None:
        """`/deploy cancel ID`: the requester or an approver withdraws a pending request."""
        try:
            found = await self._load(replier, request_id)
            if found is None:
                return
            _, env_config = found
            groups = await self._groups_of(user, env_config)
            now = self._clock.now()
            stored, refusal = await self._write(
                request_id,
                lambda r: decide_cancel(
                    r, user=user, user_groups=groups, env_config=env_config, now=now
                ),
            )
            if refusal is not None:
                await replier.ephemeral(refusal.text)
                return
            await self._show(stored)
            await replier.ephemeral(texts.approval_cancelled(request_id))
        except KubeError as e:
            await replier.ephemeral(texts.backend_unavailable("cancel", e.sentence()))

    async def _approve(
        self, replier: Replier, user: str, request_id: str, *, forced: str | None
    ) -> Approval | None:
        found = await self._load(replier, request_id)
        if found is None:
            return None
        request, env_config = found
        groups = await self._groups_of(user, env_config)

        def vote(r: ApprovalRequest) -> Counted | Approved | Refusal:
            now = self._clock.now()
            return decide_approval(
                r, user=user, user_groups=groups, env_config=env_config, now=now, forced=forced
            )

        early = vote(request)
        if isinstance(early, Refusal):
            await self._refuse(replier, request, early)
            return None
        # Bound to the exact request: check again (registry, cluster, locks) before counting.
        pinned = request.promoted_from and len(request.changes) == 1
        again = ValidatedDeploy(
            request.services,
            request.env,
            request.tag,
            request.reason or None,
            digest=request.changes[0].digest if pinned else None,
            promoted_from=request.promoted_from or None,
        )
        plan = await refusing(
            "check the deploy",
            self._engine.check(again, user=request.requested_by, deploy_id=request.id),
        )
        if isinstance(plan, Refusal):
            await replier.ephemeral(texts.approval_recheck_refused(request.id, plan.text))
            return None
        digests = {s.service: s.image.digest for s in plan.services}
        now = self._clock.now()
        voided, _ = await self._write(
            request_id, lambda r: void_if_moved(r, found=digests, now=now)
        )
        if voided.state is ApprovalState.VOID:
            await self._show(voided)
            await replier.ephemeral(voided.events[-1].note)
            return None
        stored, refusal = await self._write(request_id, lambda r: _new_or_refusal(vote(r)))
        if refusal is not None:
            await self._refuse(replier, stored, refusal)
            return None
        if stored.state is not ApprovalState.APPROVED:
            await self._show(stored)
            return None
        log.info("approval %s: approved by %s; rolling out", stored.id, ", ".join(stored.voters))
        await self._show(stored)  # the buttons go at once; the rollout's card follows
        return Approval(plan, stored.slack_channel, stored.slack_ts, outcome_line(stored))

    async def _reject(self, replier: Replier, user: str, request_id: str, reason: str) -> None:
        found = await self._load(replier, request_id)
        if found is None:
            return
        _, env_config = found
        groups = await self._groups_of(user, env_config)
        now = self._clock.now()
        stored, refusal = await self._write(
            request_id,
            lambda r: decide_rejection(
                r, user=user, user_groups=groups, env_config=env_config, now=now, reason=reason
            ),
        )
        if refusal is not None:
            await self._refuse(replier, stored, refusal)
            return
        await self._show(stored)

    async def _open_modal(self, action: ActionContext) -> None:
        """Open the reason modal at once (the click's trigger_id expires 3 s after it),
        then check: a click that can't decide anything turns the modal into the refusal.
        The submission is checked again in full (`_reject` / `_approve`)."""
        kind: Literal["reject", "force"] = (
            "reject" if action.action_id == REJECT_ACTION else "force"
        )
        view = reason_modal(
            kind=kind, request_id=action.value, channel_id=action.channel_id, max_length=MAX_REASON
        )
        try:
            view_id = await writes.open_view(
                self._client, trigger_id=action.trigger_id or "", view=view
            )
        except SlackError as e:
            log.warning("approval %s: the reason modal did not open: %s", action.value, e)
            return
        refusal = await self._modal_refusal(action, kind)
        if refusal is None:
            return
        try:
            await writes.update_view(self._client, view_id=view_id, view=notice_modal(refusal))
        except SlackError as e:
            log.warning("approval %s: the modal was not updated: %s", action.value, e)

    async def _modal_refusal(
        self, action: ActionContext, kind: Literal["reject", "force"]
    ) -> str | None:
        """Why this click can't reject / force (the clicker is also told), or None."""
        if not await self._on_its_message(action):
            return texts.approval_wrong_message(action.value)
        found = await self._load(action.replier, action.value)
        if found is None:
            return texts.approval_unknown(action.value)
        request, env_config = found
        groups = await self._groups_of(action.user_id, env_config)
        now = self._clock.now()
        check: object
        if kind == "reject":
            check = decide_rejection(
                request,
                user=action.user_id,
                user_groups=groups,
                env_config=env_config,
                now=now,
                reason="-",
            )
        else:
            check = decide_approval(
                request,
                user=action.user_id,
                user_groups=groups,
                env_config=env_config,
                now=now,
                forced="-",
            )
        if isinstance(check, Refusal):
            await self._refuse(action.replier, request, check)
            return check.text
        return None

    # ---- expiry and history ----

    async def expire_due(self) -> int:
        """Mark every pending request past its expiry EXPIRED; returns how many."""
        count = 0
        now = self._clock.now()

        def expired(r: ApprovalRequest) -> ApprovalRequest | None:
            return expire(r, now=now)

        for request in await self._store.pending():
            if expired(request) is None:
                continue
            stored, _ = await self._write(request.id, expired)
            if stored.state is ApprovalState.EXPIRED:
                await self._show(stored)
                count += 1
        return count

    async def history_lines(self, service: str, env: str) -> list[str]:
        """The approval trail of `service` in `env`, newest request first."""
        found = await self._store.recent(service, env, self._config.history_size)
        return trail_lines(found)

    # ---- helpers ----

    async def _load(
        self, replier: Replier, request_id: str
    ) -> tuple[ApprovalRequest, EnvironmentConfig] | None:
        request = await self._store.get(request_id)
        env_config = self._config.environments.get(request.env) if request else None
        if request is None or env_config is None:
            await replier.ephemeral(texts.approval_unknown(request_id))
            return None
        return request, env_config

    async def _groups_of(self, user: str, env_config: EnvironmentConfig) -> frozenset[str]:
        approvers = env_config.approvals.approvers
        if user in approvers.users or not approvers.usergroups:
            return frozenset()
        return await self._groups.member_of(user, among=approvers.usergroups)

    async def _write(
        self, request_id: str, decide: Callable[[ApprovalRequest], ApprovalRequest | Refusal | None]
    ) -> tuple[ApprovalRequest, Refusal | None]:
        """Compare-and-swap `decide`; returns the stored request and the last refusal."""
        refusal: Refusal | None = None

        def change(r: ApprovalRequest) -> ApprovalRequest | None:
            nonlocal refusal
            outcome = decide(r)
            refusal = outcome if isinstance(outcome, Refusal) else None
            return None if isinstance(outcome, Refusal) else outcome

        stored = await self._store.update(request_id, change)
        return stored, refusal

    async def _refuse(self, replier: Replier, request: ApprovalRequest, refusal: Refusal) -> None:
        """Say no; a click on an expired request also expires it (message, buttons)."""
        if expire(request, now=self._clock.now()) is not None:
            now = self._clock.now()
            stored, _ = await self._write(request.id, lambda r: expire(r, now=now))
            await self._show(stored)
        await replier.ephemeral(refusal.text)

    async def _show(self, request: ApprovalRequest) -> None:
        """Edit the request's message to its current state (logged, not raised, on failure)."""
        if not request.slack_ts:
            return
        blocks, text = render_request(request)
        try:
            await writes.update_message(
                self._client,
                channel=request.slack_channel,
                ts=request.slack_ts,
                text=text,
                blocks=blocks,
            )
        except SlackError as e:
            log.warning("approval %s: message not updated: %s", request.id, e)

    async def _finish(self, live: LiveMessage, blocks: list[dict[str, object]], text: str) -> None:
        try:
            await live.finish(blocks, text=text)
        except FinalUpdateFailed as e:
            log.warning("approval request message %s not updated: %s", live.ts, e)


def reason_errors(
    callback_id: str, private_metadata: str, values: Mapping[str, str]
) -> dict[str, str]:
    """Errors to show in a submitted reason modal before it closes (input block_id ->
    message); {} when it may close. A reason of spaces passes Slack's `min_length`,
    not this. Other modals: {}. Pure."""
    if callback_id not in (REJECT_ACTION, FORCE_ACTION) or modal_target(private_metadata) is None:
        return {}
    if not one_line(values.get(REASON_BLOCK, "")):
        return {REASON_BLOCK: texts.approval_reason_required()}
    return {}


def _new_or_refusal(decision: Counted | Approved | Refusal) -> ApprovalRequest | Refusal:
    return decision if isinstance(decision, Refusal) else decision.request
