"""The cluster's clock, read off its API server: the ruler of Deckhand's time rules.

Deckhand compares "now" with the objects' own timestamps (a container's `startedAt`,
a condition's `lastTransitionTime`) and waits out budgets the kubelet counts in the
cluster's seconds (probe periods, readiness timeouts). The bot's wall clock is the
wrong ruler for that: the node Deckhand runs on may drift from the API server, and a
sped-up sandbox runs ten or fifty times faster than the wall.

Where the time comes from (a choice): the API server's `Date` response headers, not
the objects' timestamps. Every answer carries one (Go's net/http writes it: RFC 1123,
GMT, whole seconds), it says what the server's clock read when it answered, and a
`GET /version` (open to every client) fetches a fresh one whenever a rule needs it;
object timestamps only say when something last happened, and a quiet rollout writes
none for minutes.

`ClusterTime` keeps the first and the latest sample (local monotonic time, server
time). The cluster's now is the latest sample plus half a second (its resolution)
plus the local time since, times the rate; the rate is 1 (a real API server) unless
the samples rule it out given their one-second resolution (a sandbox at speed 10:
after half a wall second the server gained 5 s, not 0.5). Without a sample (a server
that sends no `Date`) the local wall clock stands in. `ClusterClock` is that time as
a `bot.clock.Clock`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from bot.kube.errors import KubeError

RESOLUTION_S = 1.0
"""`Date` has whole seconds: a sample is up to this much behind the server's clock."""


@dataclass(frozen=True)
class _Sample:
    local: float
    server: float  # POSIX seconds


class ClusterTime:
    """Samples of one API server's `Date` header (fed by `KubeClient` on every answer)."""

    def __init__(self, local: Callable[[], float] = time.monotonic) -> None:
        self._local = local
        self._first: _Sample | None = None
        self._latest: _Sample | None = None
        self.rate = 1.0
        """Server seconds per local second."""

    def observe(self, header: str | None) -> None:
        """Take the `Date` of an answer just received (ignored when absent or unreadable)."""
        if not header:
            return
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        sample = _Sample(self._local(), moment.timestamp())
        if self._first is None or self._latest is None or sample.server < self._latest.server:
            self._first = sample  # the first sample, or the server's clock was set back
        self._latest = sample
        self.rate = self._estimate(self._first, sample)

    @staticmethod
    def _estimate(first: _Sample, latest: _Sample) -> float:
        span = latest.local - first.local
        gained = latest.server - first.server
        if span <= 0:
            return 1.0
        low, high = (gained - RESOLUTION_S) / span, (gained + RESOLUTION_S) / span
        return 1.0 if low <= 1.0 <= high else max(gained / span, 1e-3)

    def span(self) -> float:
        """Local seconds between the first and the latest sample (how well `rate` is known)."""
        if self._first is None or self._latest is None:
            return 0.0
        return self._latest.local - self._first.local

    def age(self) -> float | None:
        """Local seconds since the latest sample (None: no sample yet)."""
        return None if self._latest is None else self._local() - self._latest.local

    def now(self) -> datetime:
        """The cluster's current time (the local wall clock while there is no sample)."""
        if self._latest is None:
            return datetime.now(UTC)
        since = self._local() - self._latest.local
        seconds = self._latest.server + RESOLUTION_S / 2 + since * self.rate
        return datetime.fromtimestamp(seconds, UTC)


@dataclass
class ClusterClock:
    """A `bot.clock.Clock` running on one cluster's time.

    `refresh` makes any request to that API server (its answer's `Date` lands in `time`);
    `sync()` calls it when the latest sample is older than `max_age_s` local seconds.
    Until the samples span `calibration_s` local seconds the rate is not known well
    enough to wait long on it: `wall()` (and so every wait) is capped at `max_age_s`,
    so whoever waits comes back, syncs and waits again on a better estimate.
    """

    time: ClusterTime
    refresh: Callable[[], Awaitable[object]]
    max_age_s: float = 1.0
    calibration_s: float = 2.0
    _last: float = float("-inf")

    async def sync(self) -> None:
        """Fetch a fresh `Date` if the latest is stale (errors leave the estimate as is)."""
        age = self.time.age()
        if age is not None and age < self.max_age_s:
            return
        try:
            async with asyncio.timeout(self.max_age_s):
                await self.refresh()
        except (KubeError, TimeoutError):  # a missed sample only costs precision
            return

    def monotonic(self) -> float:
        """The cluster's time in POSIX seconds, never going backwards."""
        self._last = max(self._last, self.time.now().timestamp())
        return self._last

    def now(self) -> datetime:
        return self.time.now()

    def wall(self, seconds: float) -> float:
        wall = max(0.0, seconds) / self.time.rate
        return wall if self.time.span() >= self.calibration_s else min(wall, self.max_age_s)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.wall(seconds))
