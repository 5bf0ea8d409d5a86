"""The one reading of a `coordination.k8s.io/v1` Lease's expiry, for the leader election
(`bot.leader`) and the deploy locks (`bot.rollout.locks`) alike. Pure.

A Lease is held while `holderIdentity` is set and `renewTime` (else `acquireTime`) plus
`leaseDurationSeconds` is still ahead; without a time or a duration it never expires
(client-go's leader election reads it the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.clock import parse_time


def lease_expiry(spec: Mapping[str, Any]) -> datetime | None:
    """When the lease runs out (None: no renewal time or duration, it doesn't)."""
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds")
    if renewed is None or duration is None:
        return None
    return renewed + timedelta(seconds=int(duration))


def live_holder(spec: Mapping[str, Any], *, now: datetime) -> str | None:
    """The Lease's holder while its lease runs, None when free or expired."""
    holder = spec.get("holderIdentity")
    if not holder:
        return None
    expires = lease_expiry(spec)
    if expires is not None and expires <= now:
        return None
    return str(holder)
