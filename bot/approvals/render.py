"""The approval request message and the reason modals, as Block Kit. Pure.

    blocks, text = render_request(request)
    view = reason_modal(kind="reject" | "force", request_id=…, channel_id=…)

The message: the title (services, tag, environment), who asks (and why), one line per
service (current → new image, digest, compare link), the change notes (commits,
authors, a loud downgrade flag, or why there are none), a freeze notice when the request
was made in a freeze window, then either the pending line (n of m approvals, by whom,
when it expires) with the buttons **Approve** (or **Force (freeze window)** when
frozen) and **Reject**, or, once decided, one line saying what happened, by whom, when
and why: no buttons any more.

Button values and the modal's `private_metadata` carry the request id (the deploy id),
so a click after a restart finds the request in the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from bot.slack.blocks import Block, section
from commands import texts
from commands.approvals import ApprovalRequest, ApprovalState, EventKind

APPROVE_ACTION = "deckhand:approve"
REJECT_ACTION = "deckhand:reject"
FORCE_ACTION = "deckhand:force"
APPROVAL_ACTIONS = frozenset({APPROVE_ACTION, REJECT_ACTION, FORCE_ACTION})
"""The buttons' `action_id`s; the modals' `callback_id`s are the same strings."""
REASON_BLOCK = "reason"
ACTIONS_BLOCK = "deckhand-approval"


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


_DECIDING = {
    ApprovalState.APPROVED: (EventKind.APPROVED, EventKind.FORCED),
    ApprovalState.REJECTED: (EventKind.REJECTED,),
    ApprovalState.EXPIRED: (EventKind.EXPIRED,),
    ApprovalState.CANCELLED: (EventKind.CANCELLED,),
    ApprovalState.VOID: (EventKind.VOID,),
}


def outcome_line(request: ApprovalRequest) -> str:
    """One line: what happened to a decided request, by whom, when, why."""
    kinds = _DECIDING.get(request.state, ())
    events = [e for e in request.events if e.kind in kinds]
    if not events:
        return texts.approval_done_line(request.state.value, (), "", when(request.expires_at))
    last = events[-1]
    if request.state is ApprovalState.APPROVED:
        who = [v.user for v in request.votes]
        notes = "; ".join(v.forced for v in request.votes if v.forced)
        return texts.approval_done_line("approved", who, notes, when(last.at))
    return texts.approval_done_line(request.state.value, (last.who,), last.note, when(last.at))


def render_request(request: ApprovalRequest) -> tuple[list[Block], str]:
    """The request message's blocks and fallback text."""
    title = texts.approval_title(request.services, request.tag, request.env)
    blocks: list[Block] = [
        section(f"*{title}*"),
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": texts.approval_asks(request.requested_by, request.id, request.reason),
                }
            ],
        },
    ]
    for c in request.changes:
        line = texts.approval_change_line(c.service, c.current, c.image, c.digest, c.compare_url)
        blocks.append(section(line))
    if request.notes:
        blocks.append(section("\n".join(request.notes)))
    if request.frozen:
        blocks.append(section(texts.approval_freeze_notice(request.env)))
    if request.unpromoted:
        notice = texts.not_promoted_force(request.unpromoted, request.promote_source, request.env)
        blocks.append(section(notice))
    if request.state is not ApprovalState.PENDING:
        blocks.append(section(outcome_line(request)))
        return blocks, f"{title}: {request.state.value}"
    pending = texts.approval_pending_line(
        request.required, request.voters, when(request.expires_at)
    )
    blocks.append(section(pending))
    first = (
        _button(
            texts.FORCE_LABEL if request.frozen else texts.FORCE_UNPROMOTED_LABEL,
            FORCE_ACTION,
            request.id,
            "danger",
        )
        if request.needs_force
        else _button(texts.APPROVE_LABEL, APPROVE_ACTION, request.id, "primary")
    )
    reject = _button(texts.REJECT_LABEL, REJECT_ACTION, request.id)
    blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": [first, reject]})
    return blocks, title


def trail_lines(requests: Sequence[ApprovalRequest]) -> list[str]:
    """The audit trail for `/deploy history`: a header, then one line per request."""
    if not requests:
        return []
    lines = [texts.approval_history_header()]
    for r in requests:
        trail = "; ".join(
            texts.approval_event(e.kind.value, e.who, when(e.at), e.note) for e in r.events
        )
        lines.append(
            texts.approval_history_line(when(r.requested_at), r.id, r.tag, r.state.value, trail)
        )
    return lines


def reason_modal(
    *, kind: Literal["reject", "force"], request_id: str, channel_id: str, max_length: int
) -> dict[str, Any]:
    """The modal asking for a reason; submitted as `view_submission` with `callback_id`
    `deckhand:reject` / `deckhand:force` and the request in `private_metadata`."""
    rejecting = kind == "reject"
    metadata = json.dumps({"id": request_id, "channel_id": channel_id})
    return {
        "type": "modal",
        "callback_id": REJECT_ACTION if rejecting else FORCE_ACTION,
        "private_metadata": metadata,
        "title": {
            "type": "plain_text",
            "text": texts.REJECT_MODAL_TITLE if rejecting else texts.FORCE_MODAL_TITLE,
        },
        "submit": {"type": "plain_text", "text": texts.SUBMIT_LABEL},
        "blocks": [
            section(texts.approval_modal_intro(request_id, rejecting=rejecting)),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": texts.REASON_LABEL},
                "hint": {"type": "plain_text", "text": texts.approval_reason_hint()},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_BLOCK,
                    "min_length": 1,
                    "max_length": max_length,
                },
            },
        ],
    }


def notice_modal(text: str) -> dict[str, Any]:
    """A modal that only says `text` (it replaces a reason modal that can't be used)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": texts.APPROVAL_NOTICE_TITLE},
        "close": {"type": "plain_text", "text": texts.CLOSE_LABEL},
        "blocks": [section(text)],
    }


def modal_target(private_metadata: str) -> str | None:
    """The request id a reason modal was opened for (None if the metadata is not ours)."""
    try:
        found = json.loads(private_metadata)
    except ValueError:
        return None
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) and value else None
