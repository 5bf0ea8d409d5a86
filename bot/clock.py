"""The clock the rollout engine reads: wall time in production, the sandbox's scaled time in tests.

Every wait and every timestamp of `bot.rollout` (readiness timeouts, lease renewal and
expiry, record times, elapsed seconds in progress events) goes through one `Clock`, so
a test can run the engine against a sandbox cluster that is 50 times faster than real
time and still see the same decisions. `sandbox.cluster.clock.Clock` satisfies the
protocol structurally; `bot` never imports it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds since some fixed point; never goes backwards."""
        ...

    def now(self) -> datetime:
        """The current UTC time (timezone-aware)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def wall(self, seconds: float) -> float:
        """How many real seconds `seconds` of this clock take (for `asyncio.timeout`)."""
        ...


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def wall(self, seconds: float) -> float:
        return seconds


def micro_time(moment: datetime) -> str:
    """A `metav1.MicroTime` string (`2026-01-02T03:04:05.123456Z`), as Leases use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    """A `metav1.Time` / `MicroTime` string back to an aware datetime (None if absent or bad)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
