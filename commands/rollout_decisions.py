"""Pure decisions of the rollout engine that work on the API's JSON objects.

Purely computational functions with no side-effects; `bot.rollout` feeds them the
objects its watches see and acts on the answers:

- `revision_of`, `new_replicaset`: which ReplicaSet a rollout creates (the one owned by
  the Deployment whose `deployment.kubernetes.io/revision` equals the Deployment's).
- `judge`: success, failure (with `commands.diagnosis`' finding) or keep waiting, from
  the Deployment, its ReplicaSets, their pods and events; kubectl's completion rule
  comes from `commands.rollout_status`; "stuck" is decided by each new pod's own
  `Budget` (its startup probe, its readiness probe's delay, then `readiness_timeout_s`).
- `undo_target`: `kubectl rollout undo` as a function — the ReplicaSet to go back
  to, or the reason there is none (no history, paused, already that template).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from commands.budgets import Budget, Starting, budget_of
from commands.diagnosis import (
    Cause,
    EventObservation,
    Finding,
    PodObservation,
    diagnose,
    redact,
)
from commands.rollout_status import Complete, DeadlineExceeded, DeploymentStatus, rollout_status

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"

Json = Mapping[str, Any]


def _meta(obj: Json) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def revision_of(obj: Json) -> int:
    """The `deployment.kubernetes.io/revision` annotation as a number (0 if absent)."""
    raw = (_meta(obj).get("annotations") or {}).get(REVISION, "")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def owned_by(obj: Json, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in _meta(obj).get("ownerReferences") or [])


def images_of(template_owner: Json) -> dict[str, str]:
    """Container name → image of a Deployment's or ReplicaSet's pod template."""
    spec = ((template_owner.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {c.get("name", ""): c.get("image", "") for c in spec.get("containers") or []}


def new_replicaset(deployment: Json, replicasets: Iterable[Json]) -> Json | None:
    """The ReplicaSet of the Deployment's current revision, or None while it doesn't exist.

    The controller stamps the new ReplicaSet and the Deployment with the same revision;
    until the Deployment carries it, the ReplicaSet whose template runs the Deployment's
    images is taken (an adopted old ReplicaSet when a rollout goes back to it).
    """
    uid = _meta(deployment).get("uid", "")
    owned = [rs for rs in replicasets if owned_by(rs, uid)]
    wanted = revision_of(deployment)
    images = images_of(deployment)
    by_revision = [rs for rs in owned if wanted and revision_of(rs) == wanted]
    for rs in by_revision:
        if images_of(rs) == images:
            return rs
    matching = [rs for rs in owned if images_of(rs) == images]
    return max(matching, key=revision_of) if matching else None


@dataclass(frozen=True)
class UndoTarget:
    """What `rollout undo` would restore: the ReplicaSet's revision and template."""

    revision: int
    template: dict[str, Any]
    change_cause: str | None
    images: dict[str, str]


@dataclass(frozen=True)
class UndoRefused:
    reason: str
    """`no-history`, `paused`, `no-such-revision`, `no-such-tag`, `already-there`."""
    text: str


def undo_target(
    deployment: Json,
    replicasets: Iterable[Json],
    *,
    to_revision: int | None = None,
    to_tag: str | None = None,
) -> UndoTarget | UndoRefused:
    """The template to restore, as `kubectl rollout undo [--to-revision]` picks it.

    Without `to_revision`/`to_tag`: the highest revision below the current one. With
    `to_tag`: the newest revision whose images all end in `:<tag>` or `:<tag>@…`.
    """
    name = _meta(deployment).get("name", "")
    if (deployment.get("spec") or {}).get("paused"):
        return UndoRefused("paused", f"deployment {name} is paused: resume it before a rollback")
    uid = _meta(deployment).get("uid", "")
    owned = sorted(
        (rs for rs in replicasets if owned_by(rs, uid) and revision_of(rs) > 0),
        key=revision_of,
        reverse=True,
    )
    current = revision_of(deployment) or (revision_of(owned[0]) if owned else 0)
    chosen: Json | None = None
    if to_revision is not None:
        chosen = next((rs for rs in owned if revision_of(rs) == to_revision), None)
        if chosen is None:
            return UndoRefused(
                "no-such-revision", f"deployment {name} has no revision {to_revision}"
            )
    elif to_tag is not None:
        for rs in owned:
            if revision_of(rs) != current and all(
                _has_tag(i, to_tag) for i in images_of(rs).values()
            ):
                chosen = rs
                break
        if chosen is None:
            return UndoRefused(
                "no-such-tag", f"deployment {name} has no earlier revision running {to_tag}"
            )
    else:
        chosen = next((rs for rs in owned if revision_of(rs) < current), None)
        if chosen is None:
            return UndoRefused(
                "no-history", f"deployment {name} has no previous revision to roll back to"
            )
    template = _without_hash(dict((chosen.get("spec") or {}).get("template") or {}))
    current_template = _without_hash(dict((deployment.get("spec") or {}).get("template") or {}))
    if template == current_template:
        return UndoRefused(
            "already-there",
            f"deployment {name} already runs revision {revision_of(chosen)}'s template",
        )
    cause = (_meta(chosen).get("annotations") or {}).get(CHANGE_CAUSE)
    return UndoTarget(revision_of(chosen), template, cause, images_of(chosen))


def _has_tag(image: str, tag: str) -> bool:
    name = image.split("@", 1)[0]
    return name.rsplit("/", 1)[-1].partition(":")[2] == tag


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != TEMPLATE_HASH}
    meta["labels"] = labels
    return {**template, "metadata": meta}


@dataclass(frozen=True)
class Counts:
    """Replica counts of a rollout, as `kubectl rollout status` prints them."""

    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    old: int = 0
    """Pods of older ReplicaSets still present (`status.replicas - updatedReplicas`)."""


def counts_of(status: DeploymentStatus) -> Counts:
    return Counts(
        desired=status.replicas,
        updated=status.updated_replicas,
        ready=status.ready_replicas,
        available=status.available_replicas,
        old=max(0, status.status_replicas - status.updated_replicas),
    )


def pods_of(replicaset: Json, pods: Iterable[Json]) -> list[Json]:
    """The pods a ReplicaSet owns (by owner uid, else by its pod-template-hash label)."""
    uid = _meta(replicaset).get("uid", "")
    hash_label = (_meta(replicaset).get("labels") or {}).get(TEMPLATE_HASH)
    found = []
    for pod in pods:
        if owned_by(pod, uid) or (
            hash_label and (_meta(pod).get("labels") or {}).get(TEMPLATE_HASH) == hash_label
        ):
            found.append(pod)
    return found


STARTING = frozenset({"ContainerCreating", "PodInitializing"})
"""Waiting reasons every new container goes through: nothing wrong yet."""


def needs_events(pods: Iterable[Json]) -> bool:
    """A pod shows trouble whose story may be in its events (pure): a container waiting
    for another reason than starting, restarted or terminated, or a pod not scheduled.
    Until one does (or a verdict of failure is near) a rollout needs no events: the
    follower reads them only then (`bot.rollout.observe`), with nothing lost, since a
    pod's events stay in the API for an hour."""
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") == "Failed":
            return True
        for condition in status.get("conditions") or ():
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                return True
        containers = [
            *(status.get("initContainerStatuses") or ()),
            *(status.get("containerStatuses") or ()),
        ]
        for cs in containers:
            state = cs.get("state") or {}
            waiting = (state.get("waiting") or {}).get("reason")
            if waiting is not None and waiting not in STARTING:
                return True
            ended = state.get("terminated")
            if ended is not None and ended.get("exitCode") != 0:  # an init container's 0: done
                return True
            if cs.get("restartCount") or (cs.get("lastState") or {}).get("terminated"):
                return True
    return False


@dataclass(frozen=True)
class Judgement:
    """Where a rollout stands: still going (`wake_in_s`: re-judge then at the latest),
    complete, or failed with the finding behind it."""

    state: str
    """`waiting`, `succeeded` or `failed`."""
    counts: Counts
    finding: Finding | None = None
    """On failure, what `commands.diagnosis` found (or the deadline / deletion)."""
    wake_in_s: float | None = None
    starting: Starting | None = None
    """While waiting: the new pod furthest into its startup budget, if one is in one."""


def _events_oldest_first(pods: Iterable[Json], events: Mapping[str, Iterable[Json]]) -> list[Json]:
    found = [e for p in pods for e in events.get(str(_meta(p).get("name", "")), ())]
    return sorted(found, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))


def judge(
    deployment: Json | None,
    replicasets: Iterable[Json],
    pods: Iterable[Json],
    events: Mapping[str, Iterable[Json]],
    *,
    generation: int,
    now: datetime,
    readiness_timeout_s: float,
    crashloop_restarts: int,
) -> Judgement:
    """Decide a rollout from what the watches saw (pure).

    kubectl's rule (`commands.rollout_status`) says when it is complete or past its
    progress deadline. On top of it, `commands.diagnosis` looks at the new
    ReplicaSet's pods and their events: a fatal finding (image can't be pulled, bad
    config, crash loop past `crashloop_restarts`) fails the rollout at once; a pod
    unschedulable or running-but-unready past its `Budget` fails it then: a startup
    probe's own budget, then the readiness probe's initial delay plus
    `readiness_timeout_s` from the end of the startup phase.
    """
    if deployment is None:
        gone = Finding(Cause.UNKNOWN, True, "the Deployment was deleted")
        return Judgement("failed", Counts(), gone)
    status = DeploymentStatus.from_dict(deployment)
    # Our patch's generation counts even if the watch delivered an older object.
    status = replace(status, generation=max(status.generation, generation))
    counts = counts_of(status)
    state = rollout_status(status)
    if isinstance(state, Complete):
        return Judgement("succeeded", counts)
    if isinstance(state, DeadlineExceeded):
        deadline = Finding(Cause.PROGRESS_DEADLINE, True, redact(state.message))
        return Judgement("failed", counts, deadline)
    observed = status.observed_generation >= status.generation
    new = new_replicaset(deployment, replicasets) if observed else None
    if new is None:
        return Judgement("waiting", counts)
    mine = sorted(pods_of(new, pods), key=lambda p: str(_meta(p).get("name", "")))
    seen_pods = [PodObservation.from_dict(p) for p in mine]
    history = [EventObservation.from_dict(e) for e in _events_oldest_first(mine, events)]
    finding = diagnose(pods=seen_pods, events=history, crashloop_restarts=crashloop_restarts)
    if finding is not None and finding.is_fatal:
        return Judgement("failed", counts, finding)
    wake: float | None = None
    starting: Starting | None = None
    for seen in seen_pods:
        pod = next(p for p in mine if str(_meta(p).get("name", "")) == seen.name)
        budget = budget_of(pod, history, readiness_timeout_s=readiness_timeout_s)
        if budget is None:
            continue
        left = (budget.ends - now).total_seconds()
        if left <= 0:
            return Judgement("failed", counts, _spent(budget, seen, history, crashloop_restarts))
        if budget.kind == "startup":
            elapsed = (now - budget.since).total_seconds()
            if starting is None or elapsed > starting.elapsed_s:
                starting = Starting(seen.name, max(0.0, elapsed), budget.seconds)
            left = min(left, STARTING_REFRESH_S)  # the live line moves on while it starts
        wake = left if wake is None else min(wake, left)
    return Judgement("waiting", counts, wake_in_s=wake, starting=starting)


STARTING_REFRESH_S = 5.0
"""While a pod is inside its startup budget, re-judge at least this often (cluster s)."""


def _spent(
    budget: Budget, seen: PodObservation, history: list[EventObservation], restarts: int
) -> Finding:
    """The finding for a pod whose budget ran out: what diagnosis sees, and which budget."""
    stuck = diagnose(pods=[seen], events=history, crashloop_restarts=restarts)
    if budget.kind == "startup":
        probe = stuck.probe if stuck is not None and stuck.cause is Cause.STARTUP_PROBE else None
        evidence = stuck.evidence if stuck is not None and probe is not None else ""
        why = Finding(Cause.STARTUP_PROBE, True, evidence, seen.name, budget.container, probe)
    else:
        why = stuck or Finding(Cause.NOT_READY, True, pod=seen.name, container=budget.container)
    return replace(why, is_fatal=True, budget=budget.spent())
