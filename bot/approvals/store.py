"""Approval requests in the cluster: one ConfigMap per request in Deckhand's namespace.

    ConfigMap deckhand-approval-<id>
      labels:  deckhand.dev/record=approval, deckhand.dev/env=<env>,
               deckhand.dev/approval=<state>, svc.deckhand.dev/<service>=true (each)
      data:    id, env, tag, state, requested_by, requested_at, expires_at,
               request (JSON: the whole `commands.approvals.ApprovalRequest`)

A request survives Deckhand restarts: the buttons of its message keep working. Every
change is compare-and-swap (`bot.state`): of two concurrent deciders (two approvers at
the same instant, one click delivered twice) the second decides on the first one's
result, so the PENDING → APPROVED transition happens once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from bot.kube.client import KubeClient
from bot.kube.errors import NotFound
from bot.kube.kinds import KubeObject
from bot.state import Change, Codec, ConfigMapStore
from commands.approvals import ApprovalRequest, ApprovalState, Event, EventKind, ImageChange, Vote

_A = "deckhand.dev/"
_SVC = "svc.deckhand.dev/"


def approval_name(request_id: str) -> str:
    return f"deckhand-approval-{request_id}".lower()[:253]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def to_json(request: ApprovalRequest) -> str:
    """The request as JSON (pure)."""

    def default(value: object) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.dumps(asdict(request), default=default, sort_keys=True)


def from_json(text: str) -> ApprovalRequest:
    """The request stored as JSON (pure); `ValueError`/`KeyError`/`TypeError` if it isn't."""
    raw: dict[str, Any] = json.loads(text)
    return ApprovalRequest(
        id=raw["id"],
        env=raw["env"],
        tag=raw["tag"],
        services=tuple(raw["services"]),
        changes=tuple(ImageChange(**c) for c in raw["changes"]),
        requested_by=raw["requested_by"],
        requested_at=_time(raw["requested_at"]),
        expires_at=_time(raw["expires_at"]),
        required=int(raw["required"]),
        frozen=bool(raw["frozen"]),
        reason=raw.get("reason", ""),
        state=ApprovalState(raw["state"]),
        votes=tuple(Vote(v["user"], _time(v["at"]), v.get("forced", "")) for v in raw["votes"]),
        events=tuple(
            Event(EventKind(e["kind"]), e["who"], _time(e["at"]), e.get("note", ""))
            for e in raw["events"]
        ),
        slack_channel=raw.get("slack_channel", ""),
        slack_ts=raw.get("slack_ts", ""),
        notes=tuple(str(line) for line in raw.get("notes", ())),
        unpromoted=tuple(str(s) for s in raw.get("unpromoted", ())),
        promote_source=str(raw.get("promote_source", "")),
        promoted_from=str(raw.get("promoted_from", "")),
    )


def _to_data(request: ApprovalRequest) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and data of the ConfigMap that stores `request` (pure)."""
    labels = {
        f"{_A}record": "approval",
        f"{_A}env": request.env,
        f"{_A}approval": request.state.value,
    }
    labels.update({f"{_SVC}{s}": "true" for s in request.services})
    return labels, {
        "id": request.id,
        "env": request.env,
        "tag": request.tag,
        "state": request.state.value,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "request": to_json(request),
    }


def from_configmap(obj: KubeObject) -> ApprovalRequest:
    """The request a ConfigMap stores (pure); `ValueError` if it isn't one."""
    data: dict[str, str] = obj.get("data") or {}
    try:
        return from_json(data["request"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a Deckhand approval request: {type(e).__name__}") from None


CODEC: Codec[ApprovalRequest] = Codec(lambda r: approval_name(r.id), _to_data, from_configmap)
to_configmap = CODEC.to_configmap
Decide = Change[ApprovalRequest]


@dataclass
class ApprovalStore:
    """The approval requests in Deckhand's namespace (see the module docstring)."""

    kube: KubeClient
    namespace: str

    @property
    def _store(self) -> ConfigMapStore[ApprovalRequest]:
        return ConfigMapStore(self.kube, self.namespace, CODEC)

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        return await self._store.create(request)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        """The request, or None when there is none (or the id can't name one)."""
        try:
            return await self._store.get(approval_name(request_id))
        except (NotFound, ValueError):
            return None

    async def update(self, request_id: str, decide: Decide) -> ApprovalRequest:
        """Compare-and-swap: `decide(stored)` → new request (None: keep); what is stored after.
        `decide` may run more than once (on 409)."""
        return await self._store.update(approval_name(request_id), decide)

    async def set_message(self, request_id: str, *, channel: str, ts: str) -> ApprovalRequest:
        return await self.update(
            request_id, lambda r: replace(r, slack_channel=channel, slack_ts=ts)
        )

    async def pending(self) -> list[ApprovalRequest]:
        """Every PENDING request, oldest first."""
        selector = f"{_A}record=approval,{_A}approval={ApprovalState.PENDING.value}"
        return list(reversed(await self._select(selector)))

    async def recent(self, service: str, env: str, n: int) -> list[ApprovalRequest]:
        """The last `n` requests naming `service` in `env`, newest first."""
        selector = f"{_A}record=approval,{_A}env={env},{_SVC}{service}=true"
        return (await self._select(selector))[:n]

    async def _select(self, selector: str) -> list[ApprovalRequest]:
        found = await self._store.select(selector)
        return sorted(found, key=lambda r: r.requested_at, reverse=True)
