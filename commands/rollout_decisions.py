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

from collections.abc import Iterable, Mapping
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
