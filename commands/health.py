"""Workload health beyond pulls: crash loops, OOM kills, probe kills, pods that can't be
scheduled or were evicted — read from a pod and classified for the alerts.

    read_health(pod) -> PodHealth                 one pod: its crashes, scheduling, eviction
    crash_cause(crash, probe_killed=...) -> Cause OOM_KILLED, PROBE_FAILED or CRASH_LOOP
    still_failing(...) -> bool                    a crash counts until it has settled
    log_verdict(lines) -> str | None              `exec format error` in the last log lines
    kind_enabled(alerts, cause) -> bool           the config's switch for that kind

A crash-looping container alternates between `CrashLoopBackOff` and a short run; a
state alone would resolve and reopen the incident with every restart. So a container
that crashed stays failing until `settle_s` have passed since the last crash was
seen (a restart count that grew, a `CrashLoopBackOff`, a terminated abnormal state).
An evicted pod lingers as an object (phase Failed) until someone deletes it: it counts
for `settle_s` after it was first seen evicted.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commands.config import AlertsConfig
from commands.diagnosis import Cause

EXEC_FORMAT = "exec format error"
CRASH_CAUSES = frozenset({Cause.CRASH_LOOP, Cause.OOM_KILLED, Cause.PROBE_FAILED})
WORKLOAD_CAUSES = CRASH_CAUSES | {Cause.UNSCHEDULABLE, Cause.EVICTED}


@dataclass(frozen=True)
class Crash:
    """A container that has terminated abnormally at least once (or is terminated so now)."""

    container: str
    image: str
    restarts: int
    exit_code: int | None
    reason: str
    """The last termination's reason: `Error`, `OOMKilled`, ..."""
    backing_off: bool
    """Now waiting in `CrashLoopBackOff`, or terminated abnormally right now."""
    memory_limit: str = ""


@dataclass(frozen=True)
class PodHealth:
    namespace: str
    name: str
    node: str
    image: str
    """The first container's image (what an unschedulable or evicted pod is keyed by)."""
    crashes: tuple[Crash, ...] = ()
    unschedulable: str | None = None
    """The scheduler's message while `PodScheduled=False` reason `Unschedulable`."""
    evicted: str | None = None
    """The kubelet's message for a pod evicted under node pressure."""


def _abnormal(terminated: Mapping[str, Any]) -> bool:
    return terminated.get("reason") == "OOMKilled" or terminated.get("exitCode") not in (0, None)


def _crash(status: Mapping[str, Any], spec: Mapping[str, Any]) -> Crash | None:
    state = status.get("state") or {}
    last = (status.get("lastState") or {}).get("terminated") or {}
    now = state.get("terminated") or {}
    waiting = (state.get("waiting") or {}).get("reason")
    ended = now if now and _abnormal(now) else last
    if not ended or not _abnormal(ended):
        return None
    limits = (spec.get("resources") or {}).get("limits") or {}
    return Crash(
        container=str(status.get("name", "")),
        image=str(spec.get("image") or status.get("image", "")),
        restarts=int(status.get("restartCount") or 0),
        exit_code=ended.get("exitCode"),
        reason=str(ended.get("reason") or ""),
        backing_off=waiting == "CrashLoopBackOff" or bool(now and _abnormal(now)),
        memory_limit=str(limits.get("memory") or ""),
    )


def read_health(pod: Mapping[str, Any]) -> PodHealth:
    """The health view of a `v1.Pod` (pure)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    specs = {
        str(c.get("name")): c
        for key in ("initContainers", "containers")
        for c in spec.get(key) or []
        if isinstance(c, Mapping)
    }
    crashes = []
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for item in statuses:
        if isinstance(item, Mapping):
            found = _crash(item, specs.get(str(item.get("name")), {}))
            if found is not None:
                crashes.append(found)
    unschedulable = None
    for cond in status.get("conditions") or []:
        if (
            isinstance(cond, Mapping)
            and cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == "Unschedulable"
        ):
            unschedulable = str(cond.get("message") or "")
    evicted = None
    if status.get("phase") == "Failed" and status.get("reason") == "Evicted":
        evicted = str(status.get("message") or "")
        crashes = []  # its containers were killed for the eviction: no crash of their own
    containers = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    return PodHealth(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        node=str(spec.get("nodeName") or ""),
        image=str(containers[0].get("image", "")) if containers else "",
        crashes=tuple(crashes),
        unschedulable=unschedulable,
        evicted=evicted,
    )


def crash_cause(crash: Crash, *, probe_killed: bool) -> Cause:
    """Why a container keeps dying, as far as its status and events tell (pure).

    `probe_killed`: a `Killing ... failed liveness|startup probe` event names it. An
    `exec format error` only shows in its log: `log_verdict` refines CRASH_LOOP later."""
    if crash.reason == "OOMKilled":
        return Cause.OOM_KILLED
    if probe_killed:
        return Cause.PROBE_FAILED
    return Cause.CRASH_LOOP


def log_verdict(lines: Iterable[str]) -> str | None:
    """`exec format error` when the container's last log lines carry it (pure)."""
    return EXEC_FORMAT if any(EXEC_FORMAT in line.lower() for line in lines) else None


def still_failing(
    *, backing_off: bool, last_seen: datetime, now: datetime, settle_s: float
) -> bool:
    """A crash (or eviction) still counts: backing off now, or seen less than `settle_s` ago."""
    return backing_off or now - last_seen < timedelta(seconds=settle_s)


def kind_enabled(switches: AlertsConfig, cause: Cause) -> bool:
    """The config's switch for an alert kind; pull causes are always on (pure)."""
    table = {
        Cause.CRASH_LOOP: switches.crash_loops,
        Cause.OOM_KILLED: switches.oom_killed,
        Cause.PROBE_FAILED: switches.probes,
        Cause.UNSCHEDULABLE: switches.unschedulable,
        Cause.EVICTED: switches.evictions,
    }
    return table.get(cause, True)
