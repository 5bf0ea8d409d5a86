"""What Deckhand remembers about pushes, in the cluster (`bot.state.ConfigMapStore`).

- a **push claim** per (service, tag), ConfigMap `deckhand-push-<service>-<tag>`:
  created once (a create is atomic: a second replica, a restart, or the poller after
  the webhook gets `Conflict`), so each tag is announced exactly once; it keeps the
  announcement's channel and ts;
- a **watermark** per polled (registry, owner), `deckhand-packages-<owner>-<hash>`:
  how far polling has seen (`commands.delivery.Watermark`);
- the **pending auto-deploys** per (service, env), `deckhand-auto-<service>-<env>`:
  tags waiting for a lock, a freeze or a deploy in flight to end (compare-and-swap).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, KubeError, NotFound
from bot.kube.kinds import KubeObject
from bot.state import Codec, ConfigMapStore
from commands.delivery import Pending, Watermark

_A = "deckhand.dev/"


def _name(prefix: str, *parts: str) -> str:
    """A valid ConfigMap name for `parts`, unique even when sanitizing folds them."""
    raw = "-".join(parts).lower()
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    clean = re.sub(r"[^a-z0-9.-]", "-", raw).strip("-.")[:200]
    return f"deckhand-{prefix}-{clean}-{digest}"


@dataclass(frozen=True)
class PushClaim:
    service: str
    tag: str
    pushed_by: str
    pushed_at: datetime
    via: str
    """`webhook` or `poll`: which source claimed it first."""
    channel: str = ""
    ts: str = ""


def _claim_data(c: PushClaim) -> tuple[dict[str, str], dict[str, str]]:
    labels = {f"{_A}record": "push", f"{_A}service": c.service}
    data = {
        "service": c.service,
        "tag": c.tag,
        "pushed_by": c.pushed_by,
        "pushed_at": c.pushed_at.isoformat(),
        "via": c.via,
        "channel": c.channel,
        "ts": c.ts,
    }
    return labels, data


def _claim_from(obj: KubeObject) -> PushClaim:
    d = obj.get("data") or {}
    try:
        return PushClaim(
            d["service"],
            d["tag"],
            d.get("pushed_by", ""),
            datetime.fromisoformat(d["pushed_at"]),
            d.get("via", ""),
            d.get("channel", ""),
            d.get("ts", ""),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a Deckhand push claim: {type(e).__name__}") from None


CLAIMS: Codec[PushClaim] = Codec(
    lambda c: _name("push", c.service, c.tag), _claim_data, _claim_from
)


@dataclass(frozen=True)
class OwnerMark:
    registry: str
    owner: str
    mark: Watermark


def _mark_data(m: OwnerMark) -> tuple[dict[str, str], dict[str, str]]:
    labels = {f"{_A}record": "packages-watermark"}
    data = {
        "registry": m.registry,
        "owner": m.owner,
        "at": m.mark.at.isoformat(),
        "seen": json.dumps(list(m.mark.seen)),
    }
    return labels, data


def _mark_from(obj: KubeObject) -> OwnerMark:
    d = obj.get("data") or {}
    try:
        seen = tuple(str(v) for v in json.loads(d.get("seen", "[]")))
        return OwnerMark(
            d["registry"], d["owner"], Watermark(datetime.fromisoformat(d["at"]), seen)
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a Deckhand packages watermark: {type(e).__name__}") from None


MARKS: Codec[OwnerMark] = Codec(
    lambda m: _name("packages", m.owner, m.registry), _mark_data, _mark_from
)


@dataclass(frozen=True)
class AutoQueue:
    service: str
    env: str
    pending: tuple[Pending, ...] = ()
    channel: str = ""


def _queue_data(q: AutoQueue) -> tuple[dict[str, str], dict[str, str]]:
    labels = {f"{_A}record": "auto-deploy", f"{_A}env": q.env}
    pending = [{"tag": p.tag, "by": p.pushed_by, "at": p.pushed_at.isoformat()} for p in q.pending]
    data = {
        "service": q.service,
        "env": q.env,
        "channel": q.channel,
        "pending": json.dumps(pending),
    }
    return labels, data


def _queue_from(obj: KubeObject) -> AutoQueue:
    d = obj.get("data") or {}
    try:
        rows = json.loads(d.get("pending", "[]"))
        pending = tuple(
            Pending(str(r["tag"]), str(r.get("by", "")), datetime.fromisoformat(r["at"]))
            for r in rows
        )
        return AutoQueue(d["service"], d["env"], pending, d.get("channel", ""))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a Deckhand auto-deploy queue: {type(e).__name__}") from None


QUEUES: Codec[AutoQueue] = Codec(
    lambda q: _name("auto", q.service, q.env), _queue_data, _queue_from
)


@dataclass
class DeliveryStore:
    """Push claims, watermarks and auto-deploy queues in Deckhand's namespace."""

    kube: KubeClient
    namespace: str

    def __post_init__(self) -> None:
        self.claims = ConfigMapStore(self.kube, self.namespace, CLAIMS)
        self.marks = ConfigMapStore(self.kube, self.namespace, MARKS)
        self.queues = ConfigMapStore(self.kube, self.namespace, QUEUES)

    async def claim(self, claim: PushClaim) -> bool:
        """True for the one caller that claimed this (service, tag) first, ever."""
        try:
            await self.claims.create(claim)
        except Conflict:
            return False
        return True

    async def release(self, claim: PushClaim) -> None:
        """Forget a claim whose announcement failed (best effort: it may be gone)."""
        try:
            await self.claims.delete(CLAIMS.name(claim))
        except (NotFound, KubeError):
            return

    async def announced(self, claim: PushClaim, *, channel: str, ts: str) -> None:
        await self.claims.update(CLAIMS.name(claim), lambda c: replace(c, channel=channel, ts=ts))

    async def mark(self, registry: str, owner: str) -> Watermark | None:
        probe = OwnerMark(registry, owner, Watermark(datetime.min))
        try:
            return (await self.marks.get(MARKS.name(probe))).mark
        except (NotFound, ValueError):
            return None

    async def set_mark(self, registry: str, owner: str, mark: Watermark) -> None:
        record = OwnerMark(registry, owner, mark)
        try:
            await self.marks.create(record)
        except Conflict:
            await self.marks.update(MARKS.name(record), lambda _: record)

    async def enqueue(self, service: str, env: str, pending: Pending, *, channel: str) -> None:
        """Add a tag to (service, env)'s auto-deploy queue (once)."""
        fresh = AutoQueue(service, env, (pending,), channel)
        try:
            await self.queues.create(fresh)
            return
        except Conflict:
            pass

        def add(q: AutoQueue) -> AutoQueue | None:
            if any(p.tag == pending.tag for p in q.pending):
                return None
            return replace(q, pending=(*q.pending, pending), channel=channel or q.channel)

        await self.queues.update(QUEUES.name(fresh), add)

    async def waiting(self) -> list[AutoQueue]:
        """Every queue with pending tags."""
        return [q for q in await self.queues.select(f"{_A}record=auto-deploy") if q.pending]

    async def take(self, queue: AutoQueue, tags: Sequence[str]) -> bool:
        """Remove `tags` from the queue; False when another replica took them first."""
        taken = False

        def remove(q: AutoQueue) -> AutoQueue | None:
            nonlocal taken
            taken = all(any(p.tag == t for p in q.pending) for t in tags)
            if not taken:
                return None
            return replace(q, pending=tuple(p for p in q.pending if p.tag not in tags))

        await self.queues.update(QUEUES.name(queue), remove)
        return taken
