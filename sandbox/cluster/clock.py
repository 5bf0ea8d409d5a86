"""Scaled time for the sandbox cluster.

Everything in the sandbox that waits or stamps a time (controllers, the kubelet
stand-in, event timestamps, `creationTimestamp`) reads it from one `Clock`, so a
test can run the cluster faster than real time: at ``speed=100`` a Deployment's
600 s progress deadline passes after 6 wall-clock seconds.

"Scaled" seconds are the cluster's own seconds; "wall" seconds are real ones.
``scaled = wall * speed``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


class Clock:
    """The sandbox's notion of time: real time sped up by `speed`.

    `now()` starts at the real UTC time when the clock was made and then runs
    `speed` times faster than the wall clock.
    """

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._wall_start = datetime.now(UTC)
        self._mono_start = time.monotonic()

    def monotonic(self) -> float:
        """Scaled seconds since the clock was made (never goes backwards)."""
        return (time.monotonic() - self._mono_start) * self.speed

    def now(self) -> datetime:
        """The cluster's current UTC time (timezone-aware)."""
        return self._wall_start + timedelta(seconds=self.monotonic())

    def timestamp(self) -> str:
        """`now()` in the API's RFC 3339 form with second precision (`2026-01-02T03:04:05Z`)."""
        return format_time(self.now())

    def micro_timestamp(self) -> str:
        """`now()` as a MicroTime (`2026-01-02T03:04:05.123456Z`), as used by events and leases."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def wall(self, scaled_seconds: float) -> float:
        """How many real seconds `scaled_seconds` of cluster time take."""
        return scaled_seconds / self.speed

    async def sleep(self, scaled_seconds: float) -> None:
        """Sleep for `scaled_seconds` of cluster time."""
        await asyncio.sleep(max(0.0, self.wall(scaled_seconds)))


def format_time(moment: datetime) -> str:
    """RFC 3339 with second precision in UTC, the form of `metav1.Time`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(moment: datetime) -> str:
    """An HTTP `Date` value (`Fri, 04 Dec 2026 01:21:08 GMT`): RFC 1123, whole seconds."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)
