"""Why a rollout isn't progressing: classify pod state and kubelet events into a `Cause`.

    classify_message(text) -> Cause                  a containerd/kubelet error text
    diagnose(*, pods, events=(), crashloop_restarts) -> Finding | None
    explain(finding, *, image, namespace, pull_secret, platform) -> Explanation

`kubectl rollout status` waits for the progress deadline (600 s by default) even when
the image can't be pulled. Deckhand doesn't: a `Finding` with `is_fatal` means the
rollout can't succeed by waiting (tag not found, pull credentials rejected, wrong
platform, invalid image, missing config, a crash loop past `crashloop_restarts`), so
the engine fails fast. A registry outage is fatal once the kubelet backs off (it
failed and is waiting to retry); unschedulable and not-ready pods are not fatal by
themselves (a surge pod is unschedulable while old pods terminate): the engine fails
them after `rollout.readiness_timeout_s`, still long before the deadline.

Inputs are typed observations; `PodObservation.from_dict` / `EventObservation.from_dict`
read the Kubernetes JSON (`v1.Pod`, `v1.Event`) at the boundary. Evidence quoted back
to users is truncated and has `token=`/`password=` values redacted.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from commands import texts
from commands.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    Probe,
    ProbeEvidence,
    evidence_by_kind,
    parse_kill,
    parse_unhealthy,
    probes_of,
)


class Cause(StrEnum):
    """What keeps the new pods from becoming available."""

    TAG_NOT_FOUND = "tag_not_found"
    PULL_AUTH = "pull_auth"
    PLATFORM_MISMATCH = "platform_mismatch"
    REGISTRY_UNREACHABLE = "registry_unreachable"
    INVALID_IMAGE = "invalid_image"
    CRASH_LOOP = "crash_loop"
    CONFIG_ERROR = "config_error"
    STARTUP_PROBE = "startup_probe"
    LIVENESS_PROBE = "liveness_probe"
    READINESS_PROBE = "readiness_probe"
    UNSCHEDULABLE = "unschedulable"
    NOT_READY = "not_ready"
    PROGRESS_DEADLINE = "progress_deadline"
    OOM_KILLED = "oom_killed"
    PROBE_FAILED = "probe_failed"
    EVICTED = "evicted"
    UNKNOWN = "unknown"


FATAL = frozenset(
    {
        Cause.TAG_NOT_FOUND,
        Cause.PULL_AUTH,
        Cause.PLATFORM_MISMATCH,
        Cause.INVALID_IMAGE,
        Cause.CONFIG_ERROR,
        Cause.PROGRESS_DEADLINE,
    }
)
"""Causes that waiting can't fix. CRASH_LOOP is fatal from `crashloop_restarts` on."""

# Order matters: a platform miss also ends in "not found", auth texts in "failed to…".
_PATTERNS: tuple[tuple[Cause, re.Pattern[str]], ...] = (
    (Cause.PLATFORM_MISMATCH, re.compile(r"no match for platform|exec format error")),
    (
        Cause.PULL_AUTH,
        re.compile(
            r"401 unauthorized|403 forbidden|failed to authorize|authentication required"
            r"|pull access denied|unauthorized:|denied: "
        ),
    ),
    (
        Cause.REGISTRY_UNREACHABLE,
        re.compile(
            r"connection refused|i/o timeout|no such host|network is unreachable"
            r"|tls handshake timeout|connection reset|context deadline exceeded"
            r"|server misbehaving|50[234] (bad gateway|service unavailable|gateway timeout)"
        ),
    ),
    (
        Cause.INVALID_IMAGE,
        re.compile(r"invalid reference format|couldn't parse image|invalidimagename"),
    ),
    (Cause.TAG_NOT_FOUND, re.compile(r"not found|manifest unknown|name unknown")),
)

_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
_WAITING: Mapping[str, Cause] = {
    "InvalidImageName": Cause.INVALID_IMAGE,
    "ErrImageNeverPull": Cause.INVALID_IMAGE,
    "ImageInspectError": Cause.INVALID_IMAGE,
    "SignatureValidationFailed": Cause.INVALID_IMAGE,
    "RegistryUnavailable": Cause.REGISTRY_UNREACHABLE,
    "CreateContainerConfigError": Cause.CONFIG_ERROR,
    "CreateContainerError": Cause.CONFIG_ERROR,
    "RunContainerError": Cause.CONFIG_ERROR,
}
_REDACT = re.compile(r"(?i)\b(token|password|passwd|secret|access_token)=[^&\s\"']+")
MAX_EVIDENCE = 300


def classify_message(text: str) -> Cause:
    """The cause a kubelet/containerd error text names, or UNKNOWN."""
    low = text.lower()
    for cause, pattern in _PATTERNS:
        if pattern.search(low):
            return cause
    return Cause.UNKNOWN


def redact(text: str) -> str:
    """`text` fit to quote to users: secrets in query strings removed, truncated."""
    clean = _REDACT.sub(r"\1=<redacted>", text.strip())
    return clean if len(clean) <= MAX_EVIDENCE else clean[: MAX_EVIDENCE - 1] + "…"


@dataclass(frozen=True)
class ContainerObservation:
    """One container's status (`status.containerStatuses[]`)."""

    name: str
    ready: bool = False
    running: bool = False
    waiting_reason: str | None = None
    waiting_message: str | None = None
    last_terminated_reason: str | None = None
    last_terminated_message: str | None = None
    last_exit_code: int | None = None
    restart_count: int = 0
    started: bool | None = None
    """The status' `started`: False while a startup probe hasn't succeeded."""

    @classmethod
    def from_dict(cls, status: Mapping[str, Any]) -> ContainerObservation:
        state = status.get("state") or {}
        waiting = state.get("waiting") or {}
        last = (status.get("lastState") or {}).get("terminated") or state.get("terminated") or {}
        return cls(
            name=str(status.get("name", "")),
            ready=bool(status.get("ready", False)),
            running="running" in state,
            waiting_reason=waiting.get("reason"),
            waiting_message=waiting.get("message"),
            last_terminated_reason=last.get("reason"),
            last_terminated_message=last.get("message"),
            last_exit_code=last.get("exitCode"),
            restart_count=int(status.get("restartCount", 0)),
            started=status.get("started") if isinstance(status.get("started"), bool) else None,
        )


@dataclass(frozen=True)
class PodObservation:
    """One pod of the new ReplicaSet: containers, and why it isn't scheduled (if so)."""

    name: str
    containers: tuple[ContainerObservation, ...] = ()
    unschedulable: str | None = None
    probes: Mapping[str, Mapping[str, Probe]] = field(default_factory=dict)
    """Container name → probe kind → its probe, from the pod's spec."""

    @classmethod
    def from_dict(cls, pod: Mapping[str, Any]) -> PodObservation:
        status = pod.get("status") or {}
        statuses = [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]
        unschedulable = None
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
            ):
                unschedulable = str(condition.get("message") or "Unschedulable")
        spec = pod.get("spec") or {}
        return cls(
            name=str((pod.get("metadata") or {}).get("name", "")),
            containers=tuple(ContainerObservation.from_dict(s) for s in statuses),
            unschedulable=unschedulable,
            probes={
                str(c.get("name", "")): probes_of(c)
                for c in [*spec.get("initContainers", []), *spec.get("containers", [])]
            },
        )


@dataclass(frozen=True)
class EventObservation:
    """A Kubernetes event about a pod (`reason`, `message`, `type`, involved pod name)."""

    reason: str
    message: str
    type: str = "Normal"
    pod: str | None = None
    container: str | None = None
    """From `involvedObject.fieldPath` (`spec.containers{api}`)."""
    count: int = 1
    last_seen: str = ""
    """`lastTimestamp` (or `eventTime`), as the API wrote it."""

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> EventObservation:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        path = _FIELD_PATH.match(str(involved.get("fieldPath") or ""))
        series = event.get("series") or {}
        return cls(
            reason=str(event.get("reason", "")),
            message=str(event.get("message") or event.get("note") or ""),
            type=str(event.get("type", "Normal")),
            pod=involved.get("name") if involved.get("kind", "Pod") == "Pod" else None,
            container=path.group(1) if path else None,
            count=max(1, int(event.get("count") or series.get("count") or 1)),
            last_seen=str(
                event.get("lastTimestamp")
                or series.get("lastObservedTime")
                or event.get("eventTime")
                or ""
            ),
        )


_FIELD_PATH = re.compile(r"spec\.(?:initContainers|containers)\{([^}]+)\}")


@dataclass(frozen=True)
class Finding:
    """A diagnosed cause, with the pod/container it was seen on and the quoted evidence."""

    cause: Cause
    is_fatal: bool
    evidence: str = ""
    pod: str | None = None
    container: str | None = None
    probe: ProbeEvidence | None = None
    budget: str = ""
    """Which of Kubernetes' budgets ran out, when one did (`startup probe: 48 × 5 s = 240 s
    passed without success`)."""


def _probe_evidence(
    pod: PodObservation, container: ContainerObservation, events: Sequence[EventObservation]
) -> dict[str, ProbeEvidence]:
    """Per probe kind, the latest failure the events show for this container."""
    mine = [
        e for e in events if e.pod in (None, pod.name) and e.container in (None, container.name)
    ]
    failures = [
        (*parsed, e.count)
        for e in mine
        if e.reason == "Unhealthy" and (parsed := parse_unhealthy(e.message)) is not None
    ]
    killed = {
        hit[1]
        for e in mine
        if e.reason == "Killing" and (hit := parse_kill(e.message)) and hit[0] == container.name
    }
    return evidence_by_kind(
        pod.probes.get(container.name, {}),
        container.name,
        started=container.started,
        failures=failures,
        killed=killed,
    )


def _quoted(probe: ProbeEvidence) -> str:
    """The kubelet's own event text, as `kubectl get events` shows it (`… (x3)`)."""
    repeats = f" (x{probe.count})" if probe.count > 1 else ""
    return redact(f"{probe.kind.capitalize()} probe failed: {probe.seen.output}{repeats}")


def _probe_finding(
    pod: PodObservation,
    container: ContainerObservation,
    events: Sequence[EventObservation],
    restarts: int,
) -> Finding | None:
    """A probe keeps the container from being Ready, or got it killed (not a crash loop)."""
    if container.ready:
        return None
    evidence = _probe_evidence(pod, container, events)
    killed = [e for e in evidence.values() if e.killed and e.kind in (STARTUP, LIVENESS)]
    if killed and (container.restart_count or container.last_exit_code in (137, 143)):
        kill = next((e for e in killed if e.kind == STARTUP), killed[0])
        cause = Cause.STARTUP_PROBE if kill.kind == STARTUP else Cause.LIVENESS_PROBE
        # A startup budget that ran out runs out again; a liveness kill on an answer that
        # can't change (404) is certain; other kills count like crashes.
        fatal = (
            kill.kind == STARTUP or kill.seen.is_definitive or container.restart_count >= restarts
        )
        spec = kill.probe
        budget = (
            texts.startup_budget_spent(spec.initial_delay_s, spec.failure_threshold, spec.period_s)
            if kill.kind == STARTUP and spec is not None
            else ""
        )
        output = _quoted(kill)
        return Finding(cause, fatal, output, pod.name, container.name, kill, budget=budget)
    if not container.running:
        return None
    if container.started is False and STARTUP in evidence:
        found = evidence[STARTUP]
        return Finding(Cause.STARTUP_PROBE, False, _quoted(found), pod.name, container.name, found)
    if READINESS in evidence:
        found = evidence[READINESS]
        threshold = found.probe.failure_threshold if found.probe else 3
        fatal = found.seen.is_definitive and found.count >= threshold
        return Finding(
            Cause.READINESS_PROBE, fatal, _quoted(found), pod.name, container.name, found
        )
    return None


def _container_finding(
    pod: PodObservation,
    container: ContainerObservation,
    events: Sequence[EventObservation],
    restarts: int,
) -> Finding | None:
    name = pod.name
    reason = container.waiting_reason
    message = container.waiting_message or ""
    cause: Cause | None = None
    if reason in _PULL_REASONS:
        cause = classify_message(message)
        if cause is Cause.UNKNOWN:  # "Back-off pulling image": the reason is in the events
            for event in reversed(events):
                if event.pod in (None, name) and event.reason in ("Failed", "ErrImagePull"):
                    found = classify_message(event.message)
                    if found is not Cause.UNKNOWN:
                        cause, message = found, event.message
                        break
    elif reason is not None and reason in _WAITING:
        cause = _WAITING[reason]
    elif (probed := _probe_finding(pod, container, events, restarts)) is not None:
        return probed
    elif reason == "CrashLoopBackOff" or (container.restart_count and not container.ready):
        last = container.last_terminated_message or ""
        if "exec format error" in last.lower():
            cause, message = Cause.PLATFORM_MISMATCH, last
        else:
            cause = Cause.CRASH_LOOP
            code = container.last_exit_code
            message = last or message or (f"exit code {code}" if code is not None else "")
            is_fatal = container.restart_count >= restarts
            return Finding(cause, is_fatal, redact(message), name, container.name)
    elif container.running and not container.ready:
        cause = Cause.NOT_READY
    if cause is None:
        return None
    # An unreachable registry is fatal once the kubelet is backing off: it has failed,
    # and a blip that a single retry would have fixed doesn't fail a deploy.
    backing_off = cause is Cause.REGISTRY_UNREACHABLE and reason == "ImagePullBackOff"
    return Finding(cause, cause in FATAL or backing_off, redact(message), name, container.name)


def diagnose(
    *,
    pods: Sequence[PodObservation],
    events: Sequence[EventObservation] = (),
    crashloop_restarts: int = 2,
) -> Finding | None:
    """The most telling finding over the new pods (fatal first, then by `Cause` order),
    or None when nothing looks wrong. Events are oldest first."""
    findings: list[Finding] = []
    for pod in pods:
        if pod.unschedulable is not None:
            findings.append(
                Finding(Cause.UNSCHEDULABLE, False, redact(pod.unschedulable), pod.name)
            )
        for container in pod.containers:
            found = _container_finding(pod, container, events, crashloop_restarts)
            if found is not None:
                findings.append(found)
    if not findings:
        return None
    order = list(Cause)
    return min(findings, key=lambda f: (not f.is_fatal, order.index(f.cause)))


@dataclass(frozen=True)
class Explanation:
    """What to tell people: the cause in one sentence, and the next step to fix it."""

    cause: Cause
    sentence: str
    next_step: str


def explain(
    finding: Finding,
    *,
    image: str,
    namespace: str,
    pull_secret: str | None = None,
    platform: str = "linux/amd64",
) -> Explanation:
    """The sentence and next step for `finding` on `image` in `namespace`."""
    if finding.probe is not None:
        return _explain_probe(finding, finding.probe, namespace=namespace)
    if finding.budget:
        finding = replace(finding, evidence=finding.budget)
    sentence, step = texts.cause(
        finding.cause,
        image=image,
        namespace=namespace,
        pod=finding.pod,
        evidence=finding.evidence,
        pull_secret=pull_secret,
        platform=platform,
    )
    return Explanation(finding.cause, sentence, step)


def _explain_probe(finding: Finding, probe: ProbeEvidence, *, namespace: str) -> Explanation:
    spec = probe.probe
    seen = probe.seen
    sentence = texts.probe_sentence(
        probe.kind,
        container=probe.container,
        pod=finding.pod,
        handler=probe.handler,
        seen=texts.probe_seen(
            seen.what, seen.status, seen.output, spec.timeout_s if spec else None
        ),
        count=probe.count,
        killed=probe.killed,
        budget=finding.budget,
    )
    step = texts.probe_next_step(
        probe.kind,
        field=spec.field if spec else f"{probe.kind}Probe",
        what=seen.what,
        status=seen.status,
        path=spec.path if spec else "",
        port=spec.port if spec else "",
        passing=probe.passing,
        namespace=namespace,
        pod=finding.pod,
    )
    return Explanation(finding.cause, sentence, step)
