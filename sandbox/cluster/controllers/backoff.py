"""The kubelet's exponential back-off (client-go `flowcontrol.Backoff`), on scaled seconds.

Image pulls and crashed containers both wait 10 s, 20 s, 40 s, ... capped at 300 s;
an entry left alone for twice the cap starts over. No clock of its own: every call
takes `now` (scaled seconds), so the schedule is a pure function of the calls.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_SECONDS = 10.0
MAX_SECONDS = 300.0


def schedule(
    failures: int, *, initial: float = INITIAL_SECONDS, cap: float = MAX_SECONDS
) -> list[float]:
    """The waits after each of `failures` consecutive failures (pure): 10, 20, 40, ..., 300."""
    waits: list[float] = []
    wait = initial
    for _ in range(failures):
        waits.append(wait)
        wait = min(wait * 2, cap)
    return waits


@dataclass
class _Entry:
    backoff: float
    last_update: float


class BackOff:
    """Per-key back-off, as the kubelet keeps per (pod, image) and per (pod, container)."""

    def __init__(self, *, initial: float = INITIAL_SECONDS, cap: float = MAX_SECONDS) -> None:
        self.initial = initial
        self.cap = cap
        self._entries: dict[str, _Entry] = {}

    def next(self, key: str, now: float) -> float:
        """Record a failure at `now`; return the wait that now applies to `key`."""
        entry = self._entries.get(key)
        if entry is None or now - entry.last_update > 2 * self.cap:
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.cap)
            entry.last_update = now
        return entry.backoff

    def current(self, key: str) -> float:
        """The wait `key` is under (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def in_backoff(self, key: str, now: float) -> bool:
        """True while `now` is within the wait that began at the last failure."""
        entry = self._entries.get(key)
        return entry is not None and now - entry.last_update < entry.backoff

    def remaining(self, key: str, now: float) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(0.0, entry.last_update + entry.backoff - now)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key starting with `prefix` (a deleted pod's entries)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
