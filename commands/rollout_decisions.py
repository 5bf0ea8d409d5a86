"""Pure decisions of the rollout engine that work on the API's JSON objects.

Purely computational functions with no side-effects; `bot.rollout` feeds them the
objects its watches see and acts on the answers:

- `revision_of`, `new_replicaset`: which ReplicaSet a rollout creates (the one owned by
  the Deployment whose `deployment.kubernetes.io/revision` equals the Deployment's).
- `pod_symptoms`: what is wrong with a pod, as kubelet reports it (waiting reasons,
  last termination, unschedulable, not ready), one `Symptom` per problem.
- `undo_target`: `kubectl rollout undo` as a function — the ReplicaSet to go back
  to, or the reason there is none (no history, paused, already that template).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
class Symptom:
    """Something wrong with one pod of the new ReplicaSet."""

    pod: str
    container: str
    reason: str
    """A kubelet waiting reason (`ErrImagePull`, `CrashLoopBackOff`, …), `Unschedulable`,
    or `NotReady` (running but never ready)."""
    message: str = ""
    exit_code: int | None = None
    exit_reason: str = ""
    restarts: int = 0
    since: datetime | None = None
    """For `NotReady`: when the container started running."""


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def pod_symptoms(pod: Json) -> list[Symptom]:
    """What kubelet reports wrong with `pod` (empty when it is fine or simply starting)."""
    name = str(_meta(pod).get("name", ""))
    status = pod.get("status") or {}
    found: list[Symptom] = []
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            found.append(Symptom(name, "", "Unschedulable", str(condition.get("message", ""))))
    for cs in status.get("containerStatuses") or []:
        container = str(cs.get("name", ""))
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        restarts = int(cs.get("restartCount") or 0)
        exit_code = last.get("exitCode")
        if "waiting" in state:
            waiting = state["waiting"] or {}
            reason = str(waiting.get("reason", ""))
            if reason and reason != "ContainerCreating" and reason != "PodInitializing":
                found.append(
                    Symptom(
                        name,
                        container,
                        reason,
                        str(waiting.get("message", "")),
                        exit_code=int(exit_code) if exit_code is not None else None,
                        exit_reason=str(last.get("reason", "")),
                        restarts=restarts,
                    )
                )
        elif "running" in state and not cs.get("ready"):
            started = _parse_time((state["running"] or {}).get("startedAt"))
            found.append(Symptom(name, container, "NotReady", restarts=restarts, since=started))
    return found


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
"""Waiting reasons that mean the image could not be pulled."""

CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})


@dataclass(frozen=True)
class Counts:
    """Replica counts of a rollout, as `kubectl rollout status` prints them."""

    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    old: int = 0
    """Pods of older ReplicaSets still present (`status.replicas - updatedReplicas`)."""


def counts_of(deployment: Json) -> Counts:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    return Counts(
        desired=desired,
        updated=updated,
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        old=max(0, int(status.get("replicas") or 0) - updated),
    )


def pull_evidence(symptom: Symptom, events: Iterable[Json]) -> str:
    """The most precise text for a pull failure: the newest `Failed` event's message
    (`Failed to pull image "X": <CRI error>`), else the waiting message."""
    failed = [
        e
        for e in events
        if e.get("reason") == "Failed" and "pull" in str(e.get("message", "")).lower()
    ]
    if failed:
        newest = max(failed, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        return str(newest.get("message", ""))
    return symptom.message


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


@dataclass(frozen=True)
class Judgement:
    """Where a rollout stands: still going (`wake_in_s`: re-judge then at the latest),
    complete, or failed with the evidence."""

    state: str
    """`waiting`, `succeeded` or `failed`."""
    counts: Counts
    reason: str = ""
    """On failure: a kubelet reason, `Unschedulable`, `NotReady`, `ProgressDeadlineExceeded`
    or `DeploymentDeleted`."""
    symptom: Symptom | None = None
    evidence: str = ""
    """The kubelet / event / condition text behind the failure."""
    wake_in_s: float | None = None


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
    complete: Callable[[Json], bool | str],
) -> Judgement:
    """Decide a rollout from what the watches saw (pure).

    `complete(deployment)` is kubectl's rule (`commands.rollout_status`): True when
    done, a string reason when it failed for good (ProgressDeadlineExceeded), False to
    keep waiting. On top of it, the pods of the new ReplicaSet fail the rollout at once
    for a pull failure, a config error, an unschedulable pod, a crash loop of at least
    `crashloop_restarts` restarts, or a container not ready `readiness_timeout_s` after
    it started.
    """
    if deployment is None:
        return Judgement("failed", Counts(), "DeploymentDeleted", evidence="it was deleted")
    counts = counts_of(deployment)
    observed = int((deployment.get("status") or {}).get("observedGeneration") or 0)
    if observed < generation:
        return Judgement("waiting", counts)
    verdict = complete(deployment)
    if verdict is True:
        return Judgement("succeeded", counts)
    if isinstance(verdict, str) and verdict:
        return Judgement("failed", counts, verdict, evidence=_progress_message(deployment))
    new = new_replicaset(deployment, replicasets)
    if new is None:
        return Judgement("waiting", counts)
    wake: float | None = None
    for pod in sorted(pods_of(new, pods), key=lambda p: str(_meta(p).get("name", ""))):
        name = str(_meta(pod).get("name", ""))
        for symptom in pod_symptoms(pod):
            if symptom.reason in PULL_REASONS:
                evidence = pull_evidence(symptom, events.get(name, ()))
                return Judgement("failed", counts, symptom.reason, symptom, evidence)
            if symptom.reason in CONFIG_REASONS or symptom.reason == "Unschedulable":
                return Judgement("failed", counts, symptom.reason, symptom, symptom.message)
            if symptom.reason == "CrashLoopBackOff" and symptom.restarts >= crashloop_restarts:
                return Judgement("failed", counts, symptom.reason, symptom, symptom.message)
            if symptom.reason == "NotReady" and symptom.since is not None:
                left = readiness_timeout_s - (now - symptom.since).total_seconds()
                if left <= 0:
                    text = f"not ready {readiness_timeout_s:.0f} s after it started"
                    return Judgement("failed", counts, "NotReady", symptom, text)
                wake = left if wake is None else min(wake, left)
    return Judgement("waiting", counts, wake_in_s=wake)


def _progress_message(deployment: Json) -> str:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing":
            return str(condition.get("message", ""))
    return ""
