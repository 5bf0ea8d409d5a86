"""Texts: approvals (commands.approvals, bot.approvals; helper H).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code, _list
from commands.texts.authorization import user

APPROVE_LABEL = "Approve"
REJECT_LABEL = "Reject"
FORCE_LABEL = "Force (freeze window)"
FORCE_UNPROMOTED_LABEL = "Force (not promoted)"
REASON_LABEL = "Reason"
REJECT_MODAL_TITLE = "Reject deploy"
FORCE_MODAL_TITLE = "Force through freeze"
SUBMIT_LABEL = "Submit"

_CLOSED = {
    "approved": "already approved (its rollout started)",
    "rejected": "rejected",
    "expired": "expired",
    "cancelled": "cancelled",
    "void": "void (its tag moved to another image)",
}


def approval_closed(request_id: str, state: str) -> str:
    return f"Deploy {_code(request_id)} is {_CLOSED.get(state, state)}: nothing to decide."


def approval_expired(request_id: str) -> str:
    return (
        f"The approval request for {_code(request_id)} expired: nothing was deployed. "
        "The requester can ask again with the same `/deploy` command."
    )


def approval_already_counted(request_id: str) -> str:
    return f"Your approval of {_code(request_id)} is already counted; it needs someone else's."


def approval_needs_force(env: str) -> str:
    return (
        f"{_code(env)} is in a deploy freeze: only an approver's *{FORCE_LABEL}*, with a "
        "reason, lets this deploy through."
    )


def approval_cancel_forbidden(request_id: str) -> str:
    return f"Only the requester or an approver can cancel {_code(request_id)}."


def approval_unknown(request_id: str) -> str:
    return f"Deckhand has no deploy {_code(request_id)} waiting for approval."


def approval_wrong_message(request_id: str) -> str:
    return (
        f"That button doesn't belong to the approval request for {_code(request_id)}: "
        "nothing was decided. Use the buttons on the request's own message."
    )


def approval_void_note(tag: str, services: Sequence[str]) -> str:
    return (
        f"{_code(tag)} now points at another image for {_list(services)}: the approval is "
        "void and nothing was deployed. Request the deploy again to approve the new image."
    )


def approval_recheck_refused(request_id: str, why: str) -> str:
    return (
        f"Deploy {_code(request_id)} can't start now: {why}\n"
        "The request stays open until it expires."
    )


def approval_title(services: Sequence[str], tag: str, env: str) -> str:
    return f"Approval needed: deploy {_list(services)} {_code(tag)} to {_code(env)}"


def approval_asks(requester: str, request_id: str, reason: str) -> str:
    why = f" · reason: {reason}" if reason else ""
    return f"{user(requester)} asks · {_code(request_id)}{why}"


def approval_change_line(service: str, current: str, new: str, digest: str, link: str) -> str:
    compare = f" · <{link}|compare>" if link else ""
    return (
        f"{_code(service)}: {_code(current or '(none)')} → {_code(new)}\n"
        f"digest {_code(digest)}{compare}"
    )


def approval_pending_line(required: int, voters: Sequence[str], expires: str) -> str:
    got = f" · approved by {', '.join(user(v) for v in voters)}" if voters else ""
    return f":hourglass: {len(voters)} of {required} approval(s){got} · expires {expires}"


def approval_freeze_notice(env: str) -> str:
    return (
        f":snowflake: {_code(env)} is in a deploy freeze: it deploys only if an approver "
        f"forces it with a reason (*{FORCE_LABEL}*)."
    )


def approval_done_line(state: str, who: Sequence[str], note: str, when: str) -> str:
    people = ", ".join(user(w) for w in who if w)
    by = f" by {people}" if people else ""
    why = f": {note}" if note else ""
    icons = {
        "approved": ":white_check_mark: Approved",
        "rejected": ":no_entry: Rejected",
        "expired": ":alarm_clock: Expired, not approved in time",
        "cancelled": ":wastebasket: Cancelled",
        "void": ":warning: Approval void",
    }
    return f"{icons.get(state, state)}{by} at {when}{why}"


def approval_counted(request_id: str, remaining: int) -> str:
    return f"Approval of {_code(request_id)} counted; {remaining} more needed."


def approval_cancelled(request_id: str) -> str:
    return f"Deploy {_code(request_id)} withdrawn: nothing was deployed."


def approval_reason_hint() -> str:
    return "One line: it is recorded and shown in the channel."


def approval_history_header() -> str:
    return "Approval requests:"


def approval_history_line(when: str, request_id: str, tag: str, state: str, trail: str) -> str:
    return f"{when} · {_code(tag)} · {_code(request_id)} · {state}: {trail}"


def approval_event(kind: str, who: str, when: str, note: str) -> str:
    by = f" {user(who)}" if who else ""
    why = f" ({note})" if note else ""
    return f"{kind}{by} {when}{why}"


def approval_modal_intro(request_id: str, *, rejecting: bool) -> str:
    if rejecting:
        return f"Reject deploy {_code(request_id)}: nothing will be deployed."
    return f"Force deploy {_code(request_id)} through the deploy freeze."


def approval_reason_required() -> str:
    """A reason modal submitted with a blank reason (spaces only): it stays open."""
    return "Write a reason: it goes in the request's message and the deploy history."


APPROVAL_NOTICE_TITLE = "Approval"
CLOSE_LABEL = "Close"
