"""How long Kubernetes' own settings give a new pod to become Ready (pure).

    budget_of(pod, events, *, readiness_timeout_s) -> Budget | None

A container with a `startupProbe` that hasn't succeeded may take
`initialDelaySeconds + periodSeconds × failureThreshold` (plus `timeoutSeconds` of
slack) from its start: the kubelet gives up on it then, not before. Once started, its
readiness counts from the end of the startup phase (a period after the last failed
startup probe the events show), plus the readiness probe's `initialDelaySeconds`;
Deckhand's `rollout.readiness_timeout_s` comes after those budgets, never instead of
them. An unschedulable pod gets `readiness_timeout_s` from the condition's transition.
`commands.rollout_decisions.judge` fails a rollout when a new pod's budget has ended.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commands import texts
from commands.diagnosis import EventObservation
from commands.probes import READINESS, STARTUP, Probe, parse_unhealthy, probes_of

Json = Mapping[str, Any]


def _meta(obj: Json) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def parse_time(text: object) -> datetime | None:
    """A `metav1.Time` string as an aware datetime (None if absent or unreadable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Budget:
    """How long Kubernetes' own settings give a new pod to get Ready, and which setting.

    `startup`: a container whose startup probe hasn't succeeded gets
    `initialDelaySeconds + periodSeconds × failureThreshold` (+ `timeoutSeconds`) from its
    start, after which the kubelet gives up on it. `readiness`: a started container gets
    its readiness probe's `initialDelaySeconds` plus `rollout.readiness_timeout_s`
    from the end of its startup phase. `unschedulable`: `readiness_timeout_s` from the
    condition's transition.
    """

    kind: str
    since: datetime
    seconds: float
    pod: str
    container: str | None = None
    probe: Probe | None = None
    delay_s: int = 0
    """The readiness probe's `initialDelaySeconds` inside `seconds`."""

    @property
    def ends(self) -> datetime:
        return self.since + timedelta(seconds=self.seconds)

    def spent(self) -> str:
        """The sentence for a budget that ran out."""
        if self.kind == "startup" and self.probe is not None:
            return texts.startup_budget_spent(
                self.probe.initial_delay_s, self.probe.failure_threshold, self.probe.period_s
            )
        if self.kind == "readiness":
            return texts.readiness_budget_spent(self.seconds - self.delay_s, self.delay_s)
        return ""


@dataclass(frozen=True)
class Starting:
    """A new pod inside its startup budget (for the live message)."""

    pod: str
    elapsed_s: float
    budget_s: float


def _startup_end(
    started: datetime, startup: Probe, pod: str, container: str, events: Iterable[EventObservation]
) -> datetime:
    """When the startup phase of a started container ended, at the latest: a period after
    its last failed startup probe, else a period after the initial delay."""
    end = started + timedelta(seconds=startup.initial_delay_s + startup.period_s)
    for event in events:
        parsed = parse_unhealthy(event.message) if event.reason == "Unhealthy" else None
        if (
            parsed is not None
            and parsed[0] == STARTUP
            and event.pod in (None, pod)
            and event.container in (None, container)
        ):
            seen = parse_time(event.last_seen)
            if seen is not None and seen >= started:
                end = max(end, seen + timedelta(seconds=startup.period_s))
    return end


def budget_of(
    pod: Json, events: Iterable[EventObservation], *, readiness_timeout_s: float
) -> Budget | None:
    """The budget a new pod is inside (the first to end, over its containers), or None
    while nothing waits: not scheduled yet, pulling, crashing, or Ready."""
    status = pod.get("status") or {}
    name = str(_meta(pod).get("name", ""))
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            since = parse_time(condition.get("lastTransitionTime")) or parse_time(
                _meta(pod).get("creationTimestamp")
            )
            return Budget("unschedulable", since, readiness_timeout_s, name) if since else None
    specs = {
        str(c.get("name", "")): probes_of(c)
        for c in (pod.get("spec") or {}).get("containers") or []
    }
    events = list(events)
    found: list[Budget] = []
    for cs in status.get("containerStatuses") or []:
        started = parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
        if started is None or cs.get("ready"):
            continue
        container = str(cs.get("name", ""))
        probes = specs.get(container, {})
        startup, readiness = probes.get(STARTUP), probes.get(READINESS)
        if startup is not None and cs.get("started") is not True:
            found.append(Budget("startup", started, startup.budget_s, name, container, startup))
            continue
        since = started
        if startup is not None:
            since = _startup_end(started, startup, name, container, events)
        delay = readiness.initial_delay_s if readiness else 0
        found.append(
            Budget(
                "readiness", since, delay + readiness_timeout_s, name, container, readiness, delay
            )
        )
    return min(found, key=lambda b: b.ends) if found else None
