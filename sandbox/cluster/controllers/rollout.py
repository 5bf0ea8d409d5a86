"""The Deployment controller's arithmetic: how many pods each ReplicaSet should have.

Pure functions on plain JSON objects (Deployments and ReplicaSets as the API returns
them); nothing here reads a clock or writes anything. They follow
`pkg/controller/deployment` (`rolling.go`, `sync.go`, `util/deployment_util.go`) of
kube-controller-manager v1.32, including its rounding: a percentage `maxSurge` rounds
up, a percentage `maxUnavailable` rounds down, and when both come to zero
`maxUnavailable` becomes 1.

The controller calls these with a snapshot and applies the returned sizes in order
(`list[Scale]`), recording one `ScalingReplicaSet` event per change.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.cluster.controllers import texts

Obj = dict[str, Any]

DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"
DEFAULT_REVISION_HISTORY = 10
DEFAULT_PROGRESS_DEADLINE = 600


@dataclass(frozen=True)
class Scale:
    """Set ReplicaSet `name` to `replicas` pods."""

    name: str
    replicas: int


# ---- accessors with the API's defaults ----


def replicas(d: Obj) -> int:
    """`spec.replicas` of a Deployment or ReplicaSet (default 1)."""
    value = d.get("spec", {}).get("replicas")
    return 1 if value is None else int(value)


def status_of(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def int_annotation(obj: Obj, key: str) -> int | None:
    try:
        return int(annotations_of(obj)[key])
    except (KeyError, ValueError):
        return None


def revision(rs: Obj) -> int:
    """`deployment.kubernetes.io/revision` of a ReplicaSet (0 when absent or malformed)."""
    return int_annotation(rs, texts.REVISION) or 0


def is_rolling(d: Obj) -> bool:
    kind = (d.get("spec", {}).get("strategy") or {}).get("type", "RollingUpdate")
    return bool(kind == "RollingUpdate")


def revision_history_limit(d: Obj) -> int:
    value = d.get("spec", {}).get("revisionHistoryLimit")
    return DEFAULT_REVISION_HISTORY if value is None else int(value)


def progress_deadline(d: Obj) -> int | None:
    """`spec.progressDeadlineSeconds` (default 600); None when set to the "no deadline" max."""
    value = d.get("spec", {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    if value is None:
        value = DEFAULT_PROGRESS_DEADLINE
    return None if int(value) >= 2**31 - 1 else int(value)


def min_ready_seconds(obj: Obj) -> int:
    return int(obj.get("spec", {}).get("minReadySeconds") or 0)


def creation_key(rs: Obj) -> tuple[str, str]:
    """Order of `ReplicaSetsByCreationTimestamp`: oldest first, then by name."""
    meta = rs.get("metadata", {})
    return (meta.get("creationTimestamp") or "", meta.get("name", ""))


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """`FilterActiveReplicaSets`: the ReplicaSets that should have pods."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def total_replicas(rss: Iterable[Obj | None]) -> int:
    """Sum of `spec.replicas` (`GetReplicaCountForReplicaSets`)."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_of(rs, field) for rs in rss if rs is not None)


# ---- maxSurge / maxUnavailable ----


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """`intstr.GetScaledValueFromIntOrPercent`: an int as is, `"25%"` of `total` rounded."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(
                "invalid value for IntOrString: invalid type: string is not a percentage"
            ) from None
    try:
        percent = int(text[:-1])
    except ValueError:
        raise ValueError(
            f'invalid value "{text}": strconv.Atoi: parsing "{text[:-1]}": invalid syntax'
        ) from None
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(
    max_surge: int | str | None, max_unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """(surge, unavailable) for `desired` replicas; never both zero."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, round_up=True)
    unavailable = scaled_value(
        max_unavailable if max_unavailable is not None else 0, desired, round_up=False
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Obj) -> tuple[int | str, int | str]:
    rolling = (d.get("spec", {}).get("strategy") or {}).get("rollingUpdate") or {}
    surge = rolling.get("maxSurge", DEFAULT_SURGE)
    unavailable = rolling.get("maxUnavailable", DEFAULT_UNAVAILABLE)
    return (
        DEFAULT_SURGE if surge is None else surge,
        DEFAULT_UNAVAILABLE if unavailable is None else unavailable,
    )


def max_surge(d: Obj) -> int:
    if not is_rolling(d):
        return 0
    surge, unavailable = _rolling_params(d)
    return resolve_fenceposts(surge, unavailable, replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    surge, unavailable = _rolling_params(d)
    return min(resolve_fenceposts(surge, unavailable, replicas(d))[1], replicas(d))


# ---- templates and revisions ----

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """`rand.SafeEncodeString`: map each byte onto consonants and digits (no vowels)."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in text.encode())


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The `pod-template-hash` label: FNV-32a of the template, safe-encoded.

    The real controller hashes Go's printed struct; this hashes canonical JSON, so the
    values differ from a real cluster's but have the same shape (up to 10 characters).
    """
    data = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += int(collision_count).to_bytes(4, "little")
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return safe_encode(str(h))


def without_hash(template: Obj) -> Obj:
    """A copy of a pod template without the `pod-template-hash` label."""
    result = copy.deepcopy(template)
    labels = result.get("metadata", {}).get("labels")
    if labels and texts.POD_TEMPLATE_HASH in labels:
        del labels[texts.POD_TEMPLATE_HASH]
        if not labels:
            del result["metadata"]["labels"]
    return result


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """`EqualIgnoreHash`: templates equal once the hash label is dropped from both."""
    return bool(without_hash(a) == without_hash(b))


def find_new_rs(d: Obj, rss: Sequence[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (`FindNewReplicaSet`)."""
    template = d.get("spec", {}).get("template", {})
    for rs in sorted(rss, key=creation_key):
        if equal_ignore_hash(rs.get("spec", {}).get("template", {}), template):
            return rs
    return None


def max_revision(rss: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def copyable_annotations(d: Obj) -> dict[str, str]:
    """The Deployment annotations the controller copies onto its new ReplicaSet."""
    return {k: v for k, v in annotations_of(d).items() if k not in texts.NOT_COPIED}


def replica_annotations(d: Obj) -> dict[str, str]:
    """`desired-replicas` / `max-replicas` for the Deployment's current spec."""
    return {
        texts.DESIRED_REPLICAS: str(replicas(d)),
        texts.MAX_REPLICAS: str(replicas(d) + max_surge(d)),
    }


def revision_history_after(old_revision: str, history: str, *, limit_chars: int = 2000) -> str:
    """`revision-history` after a ReplicaSet re-used on rollback leaves `old_revision`."""
    if not history:
        return old_revision
    parts = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > limit_chars and start < len(parts):
        total -= len(parts[start]) + 1
        start += 1
    if total > limit_chars:
        return history
    return ",".join([*parts[start:], old_revision])


# ---- how many pods ----


def new_rs_new_replicas(d: Obj, all_rss: Sequence[Obj | None], new_rs_replicas: int) -> int:
    """Size the new ReplicaSet may grow to now (`NewRSNewReplicas`)."""
    if not is_rolling(d):
        return replicas(d)
    max_total = replicas(d) + max_surge(d)
    current = total_replicas(all_rss)
    if current >= max_total:
        return new_rs_replicas
    scale_up = min(max_total - current, replicas(d) - new_rs_replicas)
    return new_rs_replicas + scale_up


def reconcile_new(d: Obj, all_rss: Sequence[Obj], new_rs: Obj) -> Scale | None:
    """`reconcileNewReplicaSet`: grow (within maxSurge) or shrink the new ReplicaSet."""
    want, have = replicas(d), replicas(new_rs)
    if have == want:
        return None
    target = want if have > want else new_rs_new_replicas(d, all_rss, have)
    return None if target == have else Scale(new_rs["metadata"]["name"], target)


def reconcile_old(
    d: Obj, all_rss: Sequence[Obj], old_rss: Sequence[Obj], new_rs: Obj
) -> list[Scale]:
    """`reconcileOldReplicaSets`: shrink old ReplicaSets as far as maxUnavailable allows.

    First the old pods that are not available (they block nothing by going), then
    available ones, oldest ReplicaSet first.
    """
    old = [copy.deepcopy(rs) for rs in active(old_rss)]
    if total_replicas(old) == 0:
        return []
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - status_of(new_rs, "availableReplicas")
    max_scaled_down = total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    scales: list[Scale] = []
    old.sort(key=creation_key)
    cleaned = 0
    for rs in old:
        if cleaned >= max_scaled_down:
            break
        size, available = replicas(rs), status_of(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        down = min(max_scaled_down - cleaned, size - available)
        rs["spec"]["replicas"] = size - down
        scales.append(Scale(rs["metadata"]["name"], size - down))
        cleaned += down
    available_total = total_status([*old, new_rs], "availableReplicas")
    if available_total > min_available:
        budget = available_total - min_available
        done = 0
        for rs in old:
            if done >= budget:
                break
            size = replicas(rs)
            if size == 0:
                continue
            down = min(size, budget - done)
            rs["spec"]["replicas"] = size - down
            scales.append(Scale(rs["metadata"]["name"], size - down))
            done += down
    return scales


def find_active_or_latest(new_rs: Obj | None, old_rss: Sequence[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=creation_key, reverse=True)
    candidates = active([*newest_first, new_rs])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return new_rs if new_rs is not None else newest_first[0]
    return None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = int_annotation(rs, texts.DESIRED_REPLICAS)
    return (
        replicas(rs) == replicas(d)
        and desired == replicas(d)
        and status_of(rs, "availableReplicas") == replicas(d)
    )


def is_scaling_event(d: Obj, all_rss: Sequence[Obj | None]) -> bool:
    """True when an active ReplicaSet was sized for another `spec.replicas`."""
    for rs in active(all_rss):
        desired = int_annotation(rs, texts.DESIRED_REPLICAS)
        if desired is not None and desired != replicas(d):
            return True
    return False


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        max_now = replicas(d) + max_surge(d)
        before = int_annotation(rs, texts.MAX_REPLICAS) or status_of(d, "replicas")
        if not before:
            fraction = 0
        else:
            exact = replicas(rs) * max_now / before
            fraction = math.floor(exact + 0.5) - replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale(d: Obj, new_rs: Obj | None, old_rss: Sequence[Obj]) -> list[Scale]:
    """`scale()`: follow a change of `spec.replicas` (proportionally during a rollout)."""
    target = find_active_or_latest(new_rs, old_rss)
    if target is not None:
        if replicas(target) == replicas(d):
            return []
        return [Scale(target["metadata"]["name"], replicas(d))]
    if is_saturated(d, new_rs):
        return [Scale(rs["metadata"]["name"], 0) for rs in active(old_rss)]
    if not is_rolling(d):
        return []
    rss = active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_replicas(rss)
    if to_add > 0:  # bigger first; on a tie the newer grows first
        rss.sort(key=creation_key, reverse=True)
        rss.sort(key=replicas, reverse=True)
    elif to_add < 0:  # bigger first; on a tie the older shrinks first
        rss.sort(key=creation_key)
        rss.sort(key=replicas, reverse=True)
    sizes: dict[str, int] = {}
    added = 0
    for rs in rss:
        name = rs["metadata"]["name"]
        if to_add:
            part = _proportion(rs, d, to_add, added)
            sizes[name] = replicas(rs) + part
            added += part
        else:
            sizes[name] = replicas(rs)
    scales: list[Scale] = []
    for i, rs in enumerate(rss):
        name = rs["metadata"]["name"]
        if i == 0 and to_add:
            sizes[name] = max(0, sizes[name] + to_add - added)
        # Every active ReplicaSet, changed or not: its replica annotations follow the spec.
        scales.append(Scale(name, sizes[name]))
    return scales


def recreate_old(old_rss: Sequence[Obj]) -> list[Scale]:
    """Recreate: every old ReplicaSet to zero at once."""
    return [Scale(rs["metadata"]["name"], 0) for rs in active(old_rss)]


def cleanup(d: Obj, old_rss: Sequence[Obj]) -> list[str]:
    """Names of old ReplicaSets beyond `revisionHistoryLimit` that may be deleted."""
    limit = revision_history_limit(d)
    alive = [rs for rs in old_rss if not rs.get("metadata", {}).get("deletionTimestamp")]
    extra = len(alive) - limit
    if extra <= 0:
        return []
    alive.sort(key=lambda rs: (revision(rs), *creation_key(rs)))
    doomed = []
    for rs in alive[:extra]:
        generation = int(rs.get("metadata", {}).get("generation") or 0)
        if (
            status_of(rs, "replicas") != 0
            or replicas(rs) != 0
            or generation > status_of(rs, "observedGeneration")
        ):
            continue
        doomed.append(rs["metadata"]["name"])
    return doomed
