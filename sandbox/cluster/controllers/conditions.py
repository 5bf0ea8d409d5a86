"""A Deployment's status and its Available / Progressing conditions.

Pure functions: the caller passes the Deployment, its ReplicaSets and `now`; the
result is the status the controller should write. They follow
`pkg/controller/deployment/sync.go` (`calculateStatus`), `progress.go`
(`syncRolloutStatus`, `requeueStuckDeployment`) and `util` (`SetDeploymentCondition`,
`DeploymentComplete`, `DeploymentProgressing`, `DeploymentTimedOut`) of v1.32.

The progress deadline is measured from the Progressing condition's
`lastUpdateTime`, which moves whenever the rollout makes progress.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sandbox.cluster.clock import format_time
from sandbox.cluster.controllers import rollout, texts

Obj = dict[str, Any]


def get_condition(status: Obj, kind: str) -> Obj | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def new_condition(kind: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = format_time(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, condition: Obj) -> None:
    """`SetDeploymentCondition`: no-op for the same status and reason; keep the transition
    time while the status is unchanged; the new condition goes last."""
    current = get_condition(status, condition["type"])
    if (
        current
        and current["status"] == condition["status"]
        and current.get("reason") == condition.get("reason")
    ):
        return
    if current and current["status"] == condition["status"]:
        condition = {**condition, "lastTransitionTime": current["lastTransitionTime"]}
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def remove_condition(status: Obj, kind: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def calculate_status(
    d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None, now: datetime
) -> Obj:
    """`calculateStatus`: counts from the ReplicaSets plus the Available condition."""
    old_status = d.get("status") or {}
    available = rollout.total_status(all_rss, "availableReplicas")
    unavailable = max(0, rollout.total_replicas(all_rss) - available)
    status: Obj = {
        "observedGeneration": int(d.get("metadata", {}).get("generation") or 1),
        "replicas": rollout.total_status(all_rss, "replicas"),
        "updatedReplicas": rollout.total_status([new_rs], "replicas"),
        "readyReplicas": rollout.total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if old_status.get("collisionCount") is not None:
        status["collisionCount"] = old_status["collisionCount"]
    if old_status.get("conditions"):
        status["conditions"] = copy.deepcopy(old_status["conditions"])
    if available >= rollout.replicas(d) - rollout.max_unavailable(d):
        cond = new_condition(
            "Available", "True", texts.MIN_AVAILABLE_REASON, texts.MIN_AVAILABLE, now
        )
    else:
        cond = new_condition(
            "Available", "False", texts.MIN_UNAVAILABLE_REASON, texts.MIN_UNAVAILABLE, now
        )
    set_condition(status, cond)
    return _api_shape(status)


def _api_shape(status: Obj) -> Obj:
    """Drop zero counts, as the API's `omitempty` does (kubectl reads absent as 0)."""
    return {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}


def complete(d: Obj, status: Obj) -> bool:
    """`DeploymentComplete`: every replica updated and available, nothing old left."""
    want = rollout.replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 1)
    )


def progressing(d: Obj, new_status: Obj) -> bool:
    """`DeploymentProgressing`: did anything move since the status the Deployment has?"""
    old = d.get("status") or {}

    def n(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new_status, "replicas") - n(new_status, "updatedReplicas")
    return (
        n(new_status, "updatedReplicas") > n(old, "updatedReplicas")
        or new_old < old_old
        or n(new_status, "readyReplicas") > n(old, "readyReplicas")
        or n(new_status, "availableReplicas") > n(old, "availableReplicas")
    )


def timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    """`DeploymentTimedOut`: the Progressing condition is older than the deadline."""
    deadline = rollout.progress_deadline(d)
    cond = get_condition(status, "Progressing")
    if deadline is None or cond is None or cond.get("reason") == texts.NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == texts.TIMED_OUT_REASON:
        return True
    return parse_time(cond["lastUpdateTime"]) + timedelta(seconds=deadline) < now


def rollout_status(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None, now: datetime) -> Obj:
    """`syncRolloutStatus`: the status with the Progressing condition brought up to date."""
    status = calculate_status(d, all_rss, new_rs, now)
    deadline = rollout.progress_deadline(d)
    if deadline is None:
        remove_condition(status, "Progressing")
    current = get_condition(d.get("status") or {}, "Progressing")
    finished = (
        int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
        and current is not None
        and current.get("reason") == texts.NEW_RS_AVAILABLE_REASON
    )
    name = new_rs["metadata"]["name"] if new_rs else None
    d_name = d["metadata"]["name"]
    if deadline is not None and not finished:
        if complete(d, status):
            msg = (
                texts.rs_progressed(name)
                if name
                else f'Deployment "{d_name}" has successfully progressed.'
            )
            set_condition(
                status,
                new_condition("Progressing", "True", texts.NEW_RS_AVAILABLE_REASON, msg, now),
            )
        elif progressing(d, status):
            msg = texts.rs_progressing(name) if name else f'Deployment "{d_name}" is progressing.'
            cond = new_condition("Progressing", "True", texts.RS_UPDATED_REASON, msg, now)
            if current is not None:
                if current["status"] == "True":
                    cond["lastTransitionTime"] = current["lastTransitionTime"]
                remove_condition(status, "Progressing")
            set_condition(status, cond)
        elif timed_out(d, status, now):
            msg = (
                texts.rs_timed_out(name)
                if name
                else f'Deployment "{d_name}" has timed out progressing.'
            )
            set_condition(
                status, new_condition("Progressing", "False", texts.TIMED_OUT_REASON, msg, now)
            )
    return status


def requeue_after(d: Obj, status: Obj, now: datetime) -> float | None:
    """`requeueStuckDeployment`: seconds until the deadline check is due, or None."""
    deadline = rollout.progress_deadline(d)
    cond = get_condition(status, "Progressing")
    if deadline is None or cond is None or complete(d, status):
        return None
    if cond.get("reason") == texts.TIMED_OUT_REASON:
        return None
    due = parse_time(cond["lastUpdateTime"]) + timedelta(seconds=deadline)
    return max(0.0, (due - now).total_seconds()) + 1.0


def paused_condition(d: Obj, now: datetime) -> Obj | None:
    """`checkPausedConditions`: the Progressing condition a pause or resume calls for."""
    if rollout.progress_deadline(d) is None:
        return None
    cond = get_condition(d.get("status") or {}, "Progressing")
    if cond is not None and cond.get("reason") == texts.TIMED_OUT_REASON:
        return None
    paused = bool(d.get("spec", {}).get("paused"))
    is_paused_cond = cond is not None and cond.get("reason") == texts.PAUSED_REASON
    if paused and not is_paused_cond:
        return new_condition("Progressing", "Unknown", texts.PAUSED_REASON, texts.PAUSED, now)
    if not paused and is_paused_cond:
        return new_condition("Progressing", "Unknown", texts.RESUMED_REASON, texts.RESUMED, now)
    return None


def parse_time(text: str) -> datetime:
    """RFC 3339 (`2026-01-02T03:04:05Z`, optionally with fractions) to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
