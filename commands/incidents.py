"""Image-pull incidents: what a failing pull is, how failures group, and what to do next.

    read_pod(pod) -> PodPulls                    one pod's containers, pull state each
    pull_cause(reason, message, ...) -> Cause    the kubelet's waiting reason/message (+ event)
    aggregate(failures) -> {IncidentKey: Group}  failing pods grouped per incident
    decide(stored=..., group=..., ...) -> Act    open / update / resolve / nothing
    next_deadline(...)                           when the next grace period ends
    adopt_unknown(failures, open_keys)           a wordless back-off joins its open incident
    admit(posted_at, now=..., limit_per_minute=...) -> bool   the per-channel rate limit

An incident is keyed by (namespace, owning workload, image, cause): fifty pods of one
Deployment failing on one image for one reason are ONE incident and one Slack message.
A group is alerted only after its oldest failure has lasted `grace_s` (a pull that
succeeds on retry pages nobody). An open incident resolves when no pod of its
(namespace, workload, image) is failing or still waiting to pull: every affected pod
has pulled, or is gone (the workload moved to another image).

The rate limit counts the incident messages posted to a channel in the last minute;
over it, an incident joins the channel's summary message ("N more incidents") rather
than being dropped.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from commands.diagnosis import Cause, classify_message, redact

PULL_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ImageInspectError",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
"""Kubelet waiting reasons that mean "the image could not be pulled"."""

_REASON_CAUSE: Mapping[str, Cause] = {
    "InvalidImageName": Cause.INVALID_IMAGE,
    "ErrImageNeverPull": Cause.INVALID_IMAGE,
    "ImageInspectError": Cause.INVALID_IMAGE,
    "SignatureValidationFailed": Cause.INVALID_IMAGE,
    "RegistryUnavailable": Cause.REGISTRY_UNREACHABLE,
}
WINDOW = timedelta(minutes=1)
"""The rate limit's window."""


class PullState(StrEnum):
    FAILING = "failing"
    """Waiting with an image-pull reason."""
    WAITING = "waiting"
    """Not started yet for another reason (ContainerCreating, no status yet): may still fail."""
    PULLED = "pulled"
    """Running, terminated, or otherwise past the pull."""


@dataclass(frozen=True)
class ContainerPull:
    """One container (or init container) of a pod and where its pull stands."""

    container: str
    image: str
    state: PullState
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class PodPulls:
    """A pod as the alerts see it: where it runs, who owns it, its containers' pulls."""

    namespace: str
    name: str
    uid: str
    node: str
    owner_kind: str
    owner_name: str
    template_hash: str
    pull_secrets: tuple[str, ...]
    containers: tuple[ContainerPull, ...]

    @property
    def failing(self) -> tuple[ContainerPull, ...]:
        return tuple(c for c in self.containers if c.state is PullState.FAILING)


def _images(spec: Mapping[str, Any]) -> dict[str, str]:
    images: dict[str, str] = {}
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, Mapping) and container.get("name"):
                images[str(container["name"])] = str(container.get("image", ""))
    return images


def _container_pull(status: Mapping[str, Any], images: Mapping[str, str]) -> ContainerPull:
    name = str(status.get("name", ""))
    image = images.get(name) or str(status.get("image", ""))
    state = status.get("state") or {}
    waiting = state.get("waiting")
    if isinstance(waiting, Mapping):
        reason = str(waiting.get("reason") or "")
        message = str(waiting.get("message") or "")
        if reason in PULL_REASONS:
            return ContainerPull(name, image, PullState.FAILING, reason, message)
        if status.get("imageID") or (status.get("lastState") or {}).get("terminated"):
            return ContainerPull(name, image, PullState.PULLED, reason, message)
        return ContainerPull(name, image, PullState.WAITING, reason, message)
    if "running" in state or "terminated" in state:
        return ContainerPull(name, image, PullState.PULLED)
    return ContainerPull(name, image, PullState.WAITING)


def read_pod(pod: Mapping[str, Any]) -> PodPulls:
    """The alerts' view of a `v1.Pod` (pure). Containers without a status are WAITING."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    images = _images(spec)
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    containers = [_container_pull(s, images) for s in statuses if isinstance(s, Mapping)]
    seen = {c.container for c in containers}
    if status.get("phase") not in ("Succeeded", "Failed"):
        containers += [
            ContainerPull(n, i, PullState.WAITING) for n, i in images.items() if n not in seen
        ]
    owner_kind, owner_name = "", ""
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            owner_kind, owner_name = str(ref.get("kind", "")), str(ref.get("name", ""))
    secrets = tuple(
        str(s["name"])
        for s in spec.get("imagePullSecrets") or []
        if isinstance(s, Mapping) and s.get("name")
    )
    return PodPulls(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        node=str(spec.get("nodeName") or ""),
        owner_kind=owner_kind,
        owner_name=owner_name,
        template_hash=str((meta.get("labels") or {}).get("pod-template-hash", "")),
        pull_secrets=secrets,
        containers=tuple(containers),
    )


def workload_from_names(pod: PodPulls) -> str:
    """The owning workload when its ReplicaSet can't be read: `api-7d9c` → `api` (pure).

    A Deployment names its ReplicaSets `<deployment>-<pod-template-hash>`."""
    if pod.owner_kind == "ReplicaSet":
        suffix = f"-{pod.template_hash}"
        if pod.template_hash and pod.owner_name.endswith(suffix):
            return pod.owner_name[: -len(suffix)]
        return pod.owner_name
    return pod.owner_name or pod.name


def is_pull_failure_event(reason: str, message: str) -> bool:
    """A kubelet `Failed` event about a pull (`Failed to pull image "X": …`)."""
    return reason in ("Failed", "ErrImagePull") and message.startswith("Failed to pull image")


def pull_cause(
    reason: str, message: str, *, event_message: str = "", previous: Cause | None = None
) -> Cause:
    """Why a container can't pull (pure).

    The waiting message first; `ImagePullBackOff` only says "Back-off pulling image", so
    then the pod's latest pull-failure event, then what this container failed with before.
    """
    if reason in _REASON_CAUSE:
        return _REASON_CAUSE[reason]
    for text in (message, event_message):
        cause = classify_message(text) if text else Cause.UNKNOWN
        if cause is not Cause.UNKNOWN:
            return cause
    return previous if previous is not None else Cause.UNKNOWN


@dataclass(frozen=True, order=True)
class IncidentKey:
    """What makes two failing pulls the same incident."""

    namespace: str
    workload: str
    image: str
    cause: Cause

    @property
    def name(self) -> str:
        """The incident's ConfigMap name: stable, a valid object name whatever the image."""
        raw = "\0".join((self.namespace, self.workload, self.image, self.cause.value))
        return "deckhand-incident-" + hashlib.sha256(raw.encode()).hexdigest()[:20]

    @property
    def scope(self) -> tuple[str, str, str]:
        """(namespace, workload, image): what must have pulled for it to resolve."""
        return (self.namespace, self.workload, self.image)


@dataclass(frozen=True)
class Failure:
    """One container failing to pull, as observed: when it was first seen failing."""

    key: IncidentKey
    pod: str
    node: str
    message: str
    since: datetime


@dataclass(frozen=True)
class Group:
    """Every current failure of one incident."""

    key: IncidentKey
    pods: frozenset[str]
    nodes: frozenset[str]
    message: str
    """The kubelet's message (redacted), from the most recently seen failure."""
    since: datetime
    """When the oldest of these failures was first seen."""


def aggregate(failures: Iterable[Failure]) -> dict[IncidentKey, Group]:
    """Failures grouped per incident (pure). A pod with two failing containers counts once."""
    grouped: dict[IncidentKey, list[Failure]] = {}
    for failure in failures:
        grouped.setdefault(failure.key, []).append(failure)
    groups = {}
    for key, items in grouped.items():
        newest = max(items, key=lambda f: f.since)
        groups[key] = Group(
            key=key,
            pods=frozenset(f.pod for f in items),
            nodes=frozenset(f.node for f in items if f.node),
            message=redact(newest.message),
            since=min(f.since for f in items),
        )
    return groups


class Phase(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Incident:
    """An alerted incident, as stored in the cluster (one ConfigMap each)."""

    key: IncidentKey
    phase: Phase
    opened_at: datetime
    channel: str
    ts: str = ""
    """The Slack message (the summary's, when `summarized`); '' until posted."""
    summarized: bool = False
    pods: int = 0
    peak_pods: int = 0
    nodes: tuple[str, ...] = ()
    message: str = ""
    diagnosis: str = ""
    fix: str = ""
    cause_label: str = ""
    resolved_at: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def observed(self, group: Group) -> Incident:
        """This incident showing `group`'s pods and nodes."""
        return replace(
            self,
            pods=len(group.pods),
            peak_pods=max(self.peak_pods, len(group.pods)),
            nodes=tuple(sorted(group.nodes)),
            message=group.message or self.message,
        )


class Act(StrEnum):
    NOTHING = "nothing"
    OPEN = "open"
    UPDATE = "update"
    RESOLVE = "resolve"


def decide(
    *,
    stored: Incident | None,
    group: Group | None,
    still_pulling: bool,
    now: datetime,
    grace_s: float,
) -> Act:
    """The next step for one incident key (pure).

    `stored`: the incident as stored (None: never alerted). `group`: its failures now
    (None: none). `still_pulling`: some pod of the key's (namespace, workload, image)
    hasn't pulled yet (failing for any cause, or not started).
    """
    if stored is None or stored.phase is Phase.RESOLVED:
        if group is not None and now - group.since >= timedelta(seconds=grace_s):
            return Act.OPEN
        return Act.NOTHING
    if group is None:
        return Act.NOTHING if still_pulling else Act.RESOLVE
    if len(group.pods) != stored.pods or tuple(sorted(group.nodes)) != stored.nodes:
        return Act.UPDATE
    return Act.NOTHING


def next_deadline(
    groups: Iterable[Group], *, alerted: Iterable[IncidentKey], now: datetime, grace_s: float
) -> datetime | None:
    """When the earliest grace period still running ends (None: none is running).

    Groups already alerted, or whose grace ended (decided at `now`), don't count: a
    wake-up for them would come back at once and spin."""
    skip = set(alerted)
    ends = [g.since + timedelta(seconds=grace_s) for g in groups if g.key not in skip]
    future = [end for end in ends if end > now]
    return min(future) if future else None


def adopt_unknown(failures: Iterable[Failure], open_keys: Iterable[IncidentKey]) -> list[Failure]:
    """Failures whose cause is UNKNOWN join the open incident of the same (namespace,
    workload, image), if there is one (pure).

    A back-off says nothing of its cause; once the pull-failure events are gone (or
    after a restart) it would otherwise look like a second incident."""
    by_scope: dict[tuple[str, str, str], IncidentKey] = {}
    for key in sorted(open_keys):
        if key.cause is not Cause.UNKNOWN:
            by_scope.setdefault(key.scope, key)
    return [
        replace(f, key=by_scope[f.key.scope])
        if f.key.cause is Cause.UNKNOWN and f.key.scope in by_scope
        else f
        for f in failures
    ]


def admit(posted_at: Sequence[datetime], *, now: datetime, limit_per_minute: int) -> bool:
    """True: the incident gets its own message; False: it joins the channel's summary.

    `posted_at`: when the channel's incident messages (not summaries) were posted."""
    recent = [t for t in posted_at if now - t < WINDOW]
    return len(recent) < limit_per_minute


def current_summary(summaries: Mapping[str, datetime], *, now: datetime) -> str | None:
    """The summary message (ts) overflowing incidents join: the newest one started less
    than a window ago; None: start a new one. `summaries`: ts → when it was started."""
    live = [(started, ts) for ts, started in summaries.items() if now - started < WINDOW]
    return max(live)[1] if live else None
