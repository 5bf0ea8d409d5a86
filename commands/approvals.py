"""Approval requests for protected environments, and every decision about them, as data.

    request = new_request(plan, current=…, env_config=…, source_url=…, now=…)
    decide_approval(request, user=…, user_groups=…, env_config=…, now=…, forced=None)
        -> Counted | Approved | Refusal
    decide_rejection(request, user=…, …, reason=…)  -> ApprovalRequest | Refusal
    decide_cancel(request, user=…, …)                -> ApprovalRequest | Refusal
    expire(request, now=…)                           -> ApprovalRequest | None
    void_if_moved(request, found={service: digest}, now=…) -> ApprovalRequest | None

Rules:
- Only `approvals.approvers` (a listed user or a member of a listed user group) approve,
  never the requester (`commands.authz.can_approve`). Each approver counts once; the
  request is `APPROVED` when `required` distinct approvers approved. Only a PENDING,
  unexpired request takes votes, so of two concurrent deciders working on the same
  stored request (compare-and-swap) exactly one sees PENDING → APPROVED.
- Expiry: `expires_at = requested_at + expiry_minutes`; at or after it nothing counts.
- Freeze windows (`approvals.windows`): a request made inside one is `frozen`; only a
  *forced* approval with a reason counts then ("Force (freeze window)"). Whether a
  request is frozen is decided once, when it is made.
- Promotion (`promote_from`): a request for a digest that never ran successfully in
  the source environment is `unpromoted`: like a freeze, only a forced approval with a
  reason counts.
- Digest binding: the approval is for the digests checked at request time; when the
  tag resolves to another digest at approval time the request becomes `VOID`.
- Rejection (with a reason) by an approver or the requester; cancel (`/deploy cancel
  ID`) by the requester or an approver. Both only while PENDING.
- Every step is appended to `events` (who, when, what, note): the audit trail.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from commands import texts
from commands.authz import can_approve
from commands.changes import ChangeKind
from commands.config import Approvals, EnvironmentConfig
from commands.images import tag_of
from commands.plan import DeployPlan
from commands.requests import Refusal, RefusalCode


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    """Enough approvals: the rollout was started (exactly once)."""
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    VOID = "void"
    """The tag now points at another digest than the one asked for."""


class EventKind(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    FORCED = "forced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    VOID = "void"


@dataclass(frozen=True)
class ImageChange:
    """One service's change as approved: current → new image, pinned to `digest`."""

    service: str
    digest: str
    image: str
    current: str = ""
    compare_url: str = ""
    """`<source_url>/compare/<old>...<new>` when both revisions are known, else ''."""


@dataclass(frozen=True)
class Vote:
    user: str
    at: datetime
    forced: str = ""
    """The reason, when the vote forced a deploy through a freeze window."""


@dataclass(frozen=True)
class Event:
    """One line of the audit trail."""

    kind: EventKind
    who: str
    at: datetime
    note: str = ""


@dataclass(frozen=True)
class ApprovalRequest:
    """A deploy waiting for (or done with) its approvals; the id is the deploy id."""

    id: str
    env: str
    tag: str
    services: tuple[str, ...]
    """Every service the deploy named (re-checked at approval time)."""
    changes: tuple[ImageChange, ...]
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    required: int
    frozen: bool = False
    reason: str = ""
    state: ApprovalState = ApprovalState.PENDING
    votes: tuple[Vote, ...] = ()
    events: tuple[Event, ...] = ()
    slack_channel: str = ""
    slack_ts: str = ""
    notes: tuple[str, ...] = ()
    """The change notes' lines (`texts.notes_lines`) the approver reads before clicking."""
    unpromoted: tuple[str, ...] = ()
    """Services whose digest never ran in `promote_source`: only a Force counts."""
    promote_source: str = ""
    promoted_from: str = ""
    """A promotion (one service): re-checked pinned to its digest, from this environment."""

    @property
    def needs_force(self) -> bool:
        """Only a forced approval (with a reason) counts: a freeze, or not promoted."""
        return self.frozen or bool(self.unpromoted)

    @property
    def voters(self) -> tuple[str, ...]:
        return tuple(v.user for v in self.votes)

    @property
    def remaining(self) -> int:
        return max(0, self.required - len(self.votes))

    @property
    def digests(self) -> dict[str, str]:
        return {c.service: c.digest for c in self.changes}

    def with_event(
        self, kind: EventKind, who: str, at: datetime, note: str = ""
    ) -> ApprovalRequest:
        return replace(self, events=(*self.events, Event(kind, who, at, note)))


@dataclass(frozen=True)
class Counted:
    """The vote counted; `request.remaining` more are needed."""

    request: ApprovalRequest


@dataclass(frozen=True)
class Approved:
    """The vote was the last one needed: `request` is APPROVED, start the rollout."""

    request: ApprovalRequest


def in_freeze(approvals: Approvals, at: datetime) -> bool:
    """True when `at` falls inside one of the environment's freeze windows."""
    return any(w.contains(at) for w in approvals.windows)


def compare_url(source_url: str | None, old: str | None, new: str | None) -> str:
    """The commit compare link `…/compare/<old>...<new>`, or '' when a part is unknown."""
    if not source_url or not old or not new or old == new:
        return ""
    return f"{source_url.rstrip('/')}/compare/{old}...{new}"


def new_request(
    plan: DeployPlan,
    *,
    current: Mapping[str, str],
    env_config: EnvironmentConfig,
    source_urls: Mapping[str, str | None],
    now: datetime,
) -> ApprovalRequest:
    """The approval request for a checked `plan`; `current` maps service → running image."""
    approvals = env_config.approvals
    changes = []
    noted = {n.service for n in plan.change_notes if n.kind is not ChangeKind.UNAVAILABLE}
    for s in plan.services:
        old = current.get(s.service, "")
        new_revision = s.image.revision_label or plan.tag
        link = compare_url(source_urls.get(s.service), tag_of(old), new_revision)
        link = "" if s.service in noted else link  # the change notes carry it
        image = s.patches[0].image if s.patches else s.image.reference
        changes.append(ImageChange(s.service, s.image.digest, image, old, link))
    request = ApprovalRequest(
        id=plan.deploy_id,
        env=plan.env,
        tag=plan.tag,
        services=(*(s.service for s in plan.services), *plan.unchanged),
        changes=tuple(changes),
        requested_by=plan.requested_by,
        requested_at=now,
        expires_at=now + timedelta(minutes=approvals.expiry_minutes),
        required=max(1, plan.approvals_required),
        frozen=in_freeze(approvals, now),
        reason=plan.reason or "",
        notes=(*plan.promotion, *texts.notes_lines(plan.change_notes)),
        unpromoted=plan.unpromoted,
        promote_source=plan.promote_source,
        promoted_from=plan.promoted_from or "",
    )
    return request.with_event(EventKind.REQUESTED, plan.requested_by, now, plan.reason or "")


def _open(request: ApprovalRequest, now: datetime) -> Refusal | None:
    if request.state is not ApprovalState.PENDING:
        text = texts.approval_closed(request.id, request.state.value)
        return Refusal(RefusalCode.INVALID_REQUEST, text)
    if now >= request.expires_at:
        return Refusal(RefusalCode.INVALID_REQUEST, texts.approval_expired(request.id))
    return None


def click_on_its_message(
    request: ApprovalRequest, *, channel_id: str, message_ts: str | None
) -> Refusal | None:
    """None when a click came from `request`'s own message; else the refusal (pure).

    A button names its request by value alone; the message it sits on is the click's
    container. A click whose container is another message (a forged or replayed
    payload, a copied button) decides nothing. A request with no recorded message yet
    (being posted) only accepts clicks from its channel.
    """
    same_channel = not request.slack_channel or channel_id == request.slack_channel
    same_message = not request.slack_ts or message_ts == request.slack_ts
    if same_channel and same_message:
        return None
    return Refusal(RefusalCode.INVALID_REQUEST, texts.approval_wrong_message(request.id))


def decide_approval(
    request: ApprovalRequest,
    *,
    user: str,
    user_groups: frozenset[str],
    env_config: EnvironmentConfig,
    now: datetime,
    forced: str | None = None,
) -> Counted | Approved | Refusal:
    """Count `user`'s approval (`forced`: the reason of a freeze-window force), or why not."""
    closed = _open(request, now)
    if closed is not None:
        return closed
    verdict = can_approve(
        approver=user,
        requester=request.requested_by,
        env=request.env,
        env_config=env_config,
        user_groups=user_groups,
    )
    if isinstance(verdict, Refusal):
        return verdict
    if user in request.voters:
        return Refusal(RefusalCode.INVALID_REQUEST, texts.approval_already_counted(request.id))
    if request.needs_force and not forced:
        text = (
            texts.approval_needs_force(request.env)
            if request.frozen
            else texts.not_promoted_force(request.unpromoted, request.promote_source, request.env)
        )
        return Refusal(RefusalCode.INVALID_REQUEST, text)
    kind = EventKind.FORCED if request.needs_force else EventKind.APPROVED
    note = (forced or "") if request.needs_force else ""
    voted = replace(request, votes=(*request.votes, Vote(user, now, note)))
    voted = voted.with_event(kind, user, now, note)
    if voted.remaining == 0:
        return Approved(replace(voted, state=ApprovalState.APPROVED))
    return Counted(voted)


def _may_decline(
    request: ApprovalRequest, user: str, user_groups: frozenset[str], env_config: EnvironmentConfig
) -> bool:
    return user == request.requested_by or env_config.approvals.approvers.includes(
        user, user_groups
    )


def decide_rejection(
    request: ApprovalRequest,
    *,
    user: str,
    user_groups: frozenset[str],
    env_config: EnvironmentConfig,
    now: datetime,
    reason: str,
) -> ApprovalRequest | Refusal:
    """REJECTED by `user` (an approver or the requester) with `reason`, or why not."""
    closed = _open(request, now)
    if closed is not None:
        return closed
    if not _may_decline(request, user, user_groups, env_config):
        approvers = env_config.approvals.approvers
        text = texts.not_an_approver(user, request.env, approvers.users, approvers.usergroups)
        return Refusal(RefusalCode.NOT_AN_APPROVER, text)
    rejected = replace(request, state=ApprovalState.REJECTED)
    return rejected.with_event(EventKind.REJECTED, user, now, reason)


def decide_cancel(
    request: ApprovalRequest,
    *,
    user: str,
    user_groups: frozenset[str],
    env_config: EnvironmentConfig,
    now: datetime,
) -> ApprovalRequest | Refusal:
    """CANCELLED by the requester or an approver, or why not."""
    if request.state is not ApprovalState.PENDING:
        text = texts.approval_closed(request.id, request.state.value)
        return Refusal(RefusalCode.INVALID_REQUEST, text)
    if not _may_decline(request, user, user_groups, env_config):
        return Refusal(RefusalCode.NOT_AN_APPROVER, texts.approval_cancel_forbidden(request.id))
    return replace(request, state=ApprovalState.CANCELLED).with_event(
        EventKind.CANCELLED, user, now
    )


def expire(request: ApprovalRequest, *, now: datetime) -> ApprovalRequest | None:
    """EXPIRED when still pending at or after `expires_at`; None: nothing to change."""
    if request.state is not ApprovalState.PENDING or now < request.expires_at:
        return None
    return replace(request, state=ApprovalState.EXPIRED).with_event(EventKind.EXPIRED, "", now)


def void_if_moved(
    request: ApprovalRequest, *, found: Mapping[str, str], now: datetime
) -> ApprovalRequest | None:
    """VOID when a service's tag now resolves to another digest (or none); else None."""
    moved = [c.service for c in request.changes if found.get(c.service) != c.digest]
    if not moved or request.state is not ApprovalState.PENDING:
        return None
    note = texts.approval_void_note(request.tag, moved)
    return replace(request, state=ApprovalState.VOID).with_event(EventKind.VOID, "", now, note)
