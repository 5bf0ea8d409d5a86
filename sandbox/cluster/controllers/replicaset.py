"""The ReplicaSet controller: keep `spec.replicas` pods, report how many are ready/available.

Follows `pkg/controller/replicaset` (v1.32): pods are `<rs>-<5 random chars>` with the
template's labels and annotations and a controller ownerReference; surplus pods go
in the order of `ActivePodsWithRanks` (unscheduled, then pending, then not ready,
then ready for the shortest time, then most restarts, then newest); terminating and
finished pods don't count. A pod is available once Ready for `minReadySeconds`; the
controller re-checks then. Events: `SuccessfulCreate` / `SuccessfulDelete`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers import rollout, texts
from sandbox.cluster.controllers.conditions import parse_time
from sandbox.cluster.controllers.deployment import owner_ref
from sandbox.cluster.controllers.events import EventRecorder
from sandbox.cluster.controllers.informer import (
    Cache,
    Key,
    Timers,
    WorkQueue,
    controller_of,
    key_of,
)
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import PODS, REPLICASETS, Resource
from sandbox.cluster.store import Store

Obj = dict[str, Any]
COMPONENT = "replicaset-controller"
BURST = 500  # the real controller's burstReplicas: at most this many creates per sync


def is_active(pod: Obj) -> bool:
    """Counts toward a ReplicaSet: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def is_ready(pod: Obj) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Obj) -> float | None:
    cond = ready_condition(pod)
    if cond is None or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    return parse_time(cond["lastTransitionTime"]).timestamp()


def is_available(pod: Obj, min_ready: int, now: float) -> bool:
    if not is_ready(pod):
        return False
    if min_ready <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready <= now


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key of `ActivePodsWithRanks`: the pod to delete first sorts first (pure)."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    since = ready_since(pod)
    restarts = max(
        (int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []), default=0
    )
    created = (
        parse_time(pod["metadata"]["creationTimestamp"]).timestamp()
        if pod["metadata"].get("creationTimestamp")
        else 0.0
    )
    return (
        1 if pod.get("spec", {}).get("nodeName") else 0,
        phase_rank,
        1 if is_ready(pod) else 0,
        -(since or 0.0),
        -restarts,
        -created,
    )


def labels_match(pod: Obj, labels: dict[str, str]) -> bool:
    have = pod["metadata"].get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


class ReplicaSetController:
    def __init__(
        self, store: Store, clock: Clock, cache: Cache, recorder: EventRecorder, timers: Timers
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache
        self.recorder = recorder
        self.queue = WorkQueue("replicaset-controller", timers)

    def on_change(self, kind: str, resource: Resource, obj: Obj) -> None:
        if resource is REPLICASETS:
            if kind != "DELETED":
                self.queue.add(key_of(obj))
        elif resource is PODS:
            ref = controller_of(obj)
            if ref and ref.get("kind") == "ReplicaSet":
                self.queue.add((obj["metadata"].get("namespace", ""), ref["name"]))

    def sync(self, key: Key) -> None:
        namespace, name = key
        rs = self.cache.get(REPLICASETS, namespace, name)
        if rs is None:
            return
        pods = self.cache.owned(PODS, rs["metadata"]["uid"], namespace)
        active = [p for p in pods if is_active(p)]
        if not rs["metadata"].get("deletionTimestamp"):
            active = self._manage(rs, active)
        self._update_status(rs, active)

    def _manage(self, rs: Obj, active: list[Obj]) -> list[Obj]:
        diff = len(active) - rollout.replicas(rs)
        if diff < 0:
            for _ in range(min(-diff, BURST)):
                pod = self._create_pod(rs)
                if pod is None:
                    break
                active.append(pod)
            if -diff > BURST:
                self.queue.add(key_of(rs))
        elif diff > 0:
            doomed = sorted(active, key=deletion_rank)[:diff]
            for pod in doomed:
                self._delete_pod(rs, pod)
            gone = {p["metadata"]["uid"] for p in doomed}
            active = [p for p in active if p["metadata"]["uid"] not in gone]
        return active

    def _create_pod(self, rs: Obj) -> Obj | None:
        template = rs["spec"].get("template") or {}
        meta = template.get("metadata") or {}
        namespace = rs["metadata"].get("namespace", "")
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": rs["metadata"]["name"] + "-",
                "namespace": namespace,
                "labels": dict(meta.get("labels") or {}),
                "ownerReferences": [owner_ref(rs)],
            },
            "spec": template.get("spec") or {},
        }
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = dict(meta["annotations"])
        try:
            created = self.store.create(PODS, pod, namespace=namespace)
        except ApiError as e:
            self.recorder.record(
                rs,
                reason="FailedCreate",
                type="Warning",
                message=f"Error creating: {e.message}",
                component=COMPONENT,
            )
            return None
        self.cache.apply("ADDED", PODS, created)
        self.recorder.record(
            rs,
            reason="SuccessfulCreate",
            message=texts.created_pod(created["metadata"]["name"]),
            component=COMPONENT,
        )
        return created

    def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            gone = self.store.delete(PODS, meta.get("namespace"), meta["name"])
        except ApiError as e:
            if e.code != 404:
                raise
            return
        # A pod with the kubelet's finalizer comes back marked, else it is gone.
        self.cache.apply(
            "DELETED" if not gone["metadata"].get("finalizers") else "MODIFIED", PODS, gone
        )
        self.recorder.record(
            rs,
            reason="SuccessfulDelete",
            message=texts.deleted_pod(meta["name"]),
            component=COMPONENT,
        )

    def _update_status(self, rs: Obj, active: Sequence[Obj]) -> None:
        now = self.clock.now().timestamp()
        min_ready = rollout.min_ready_seconds(rs)
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels"
        ) or {}
        ready = [p for p in active if is_ready(p)]
        available = [p for p in ready if is_available(p, min_ready, now)]
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if labels_match(p, template_labels)),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": int(rs["metadata"].get("generation") or 1),
        }
        # The API omits zero counts (omitempty), except `replicas`.
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        old = rs.get("status") or {}
        if {k: v for k, v in old.items() if k != "conditions"} != status:
            if old.get("conditions"):
                status["conditions"] = old["conditions"]

            def update(obj: Obj) -> None:
                obj["status"] = status

            meta = rs["metadata"]
            try:
                new = self.store.mutate(
                    REPLICASETS, meta.get("namespace"), meta["name"], update, subresource="status"
                )
            except ApiError as e:
                if e.code != 404:
                    raise
                return
            self.cache.apply("MODIFIED", REPLICASETS, new)
        if len(available) < len(ready):
            waits = [ready_since(p) for p in ready if p not in available]
            soonest = min((s for s in waits if s is not None), default=now)
            self.queue.add_after(key_of(rs), max(0.0, soonest + min_ready - now) + 0.5)
