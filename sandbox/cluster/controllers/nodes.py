"""Simulated nodes (Node objects plus each node's image store) and the scheduler.

The default cluster looks like a small k3s one: `node-1`, `node-2`, `node-3`, all
linux/amd64, with the well-known labels (`kubernetes.io/arch`, `kubernetes.io/os`,
`kubernetes.io/hostname`) and `status.nodeInfo`. A test adds an arm64 node with
`Controllers.add_node("arm-1", arch="arm64")`.

The scheduler binds each pending pod to a node, round robin over the nodes that are
Ready, match the pod's `nodeSelector` (and `requiredDuringScheduling` node
affinity `In` / `NotIn` / `Exists` / `DoesNotExist` terms) and have room for its
`resources.requests` (cpu, memory, pod count; the requests of the pods already bound
there count against `status.allocatable`, as the `NodeResourcesFit` plugin does).
No fit: condition `PodScheduled=False` reason `Unschedulable` with the scheduler's
message (`0/3 nodes are available: 3 Insufficient cpu. preemption: ...`) and a
`FailedScheduling` event; it retries when a node appears or a pod goes. Binding also adds the
kubelet stand-in's finalizer, which makes deletion graceful (see `kubelet`).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers import texts
from sandbox.cluster.controllers.events import EventRecorder
from sandbox.cluster.controllers.informer import Cache, Key, Timers, WorkQueue, key_of
from sandbox.cluster.controllers.puller import PulledImage
from sandbox.cluster.errors import ApiError
from sandbox.cluster.imageref import Platform
from sandbox.cluster.resources import NODES, PODS, Resource
from sandbox.cluster.store import Store

Obj = dict[str, Any]
COMPONENT = "default-scheduler"
KUBELET_FINALIZER = "sandbox.deckhand.dev/kubelet-termination"
K3S_VERSION = "v1.32.4+k3s1"


@dataclass
class SimNode:
    """One simulated node: what the kubelet stand-in knows about it."""

    name: str
    platform: Platform
    index: int
    images: dict[str, PulledImage] = field(default_factory=dict)  # by containerd reference
    digests: set[str] = field(default_factory=set)  # content already downloaded
    pull_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # serialized pulls
    _ips: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    @property
    def internal_ip(self) -> str:
        return f"192.168.49.{self.index + 1}"

    def allocate_pod_ip(self) -> str:
        n = next(self._ips)
        return f"10.42.{self.index - 1}.{n % 250 + 2}"


def node_object(node: SimNode) -> Obj:
    """The Node a k3s agent registers (labels, capacity, conditions, nodeInfo)."""
    arch, os_name = node.platform.architecture, node.platform.os
    ready_time = "2026-01-01T00:00:00Z"

    def cond(kind: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": ready_time,
            "lastTransitionTime": ready_time,
            "reason": reason,
            "message": message,
        }

    resources = {
        "cpu": "4",
        "ephemeral-storage": "61202244Ki",
        "memory": "8127108Ki",
        "pods": "110",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": os_name,
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": node.name,
                "kubernetes.io/os": os_name,
                "node.kubernetes.io/instance-type": "k3s",
            },
        },
        "spec": {
            "podCIDR": f"10.42.{node.index - 1}.0/24",
            "podCIDRs": [f"10.42.{node.index - 1}.0/24"],
            "providerID": f"k3s://{node.name}",
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": node.internal_ip},
                {"type": "Hostname", "address": node.name},
            ],
            "allocatable": dict(resources),
            "capacity": dict(resources),
            "conditions": [
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch,
                "bootID": f"00000000-0000-4000-8000-{node.index:012d}",
                "containerRuntimeVersion": "containerd://2.0.4-k3s2",
                "kernelVersion": "6.1.0-31-cloud-" + arch,
                "kubeProxyVersion": K3S_VERSION,
                "kubeletVersion": K3S_VERSION,
                "machineID": f"{node.index:032x}",
                "operatingSystem": os_name,
                "osImage": "K3s " + K3S_VERSION,
                "systemUUID": f"00000000-0000-4000-8000-{node.index:012d}",
            },
        },
    }


def _node_ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _expression_matches(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


_SUFFIXES = {
    "m": 0.001,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
}


def quantity(text: object) -> float:
    """A resource.Quantity as a number (`500m` → 0.5, `1Gi` → 1073741824); 0 if unreadable."""
    value = str(text or "0").strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if value.endswith(suffix):
            try:
                return float(value[: -len(suffix)]) * _SUFFIXES[suffix]
            except ValueError:
                return 0.0
    try:
        return float(value)
    except ValueError:
        return 0.0


def requests_of(pod: Obj) -> dict[str, float]:
    """The pod's cpu and memory requests (sum over its containers; pure)."""
    total = {"cpu": 0.0, "memory": 0.0}
    for c in (pod.get("spec") or {}).get("containers") or []:
        requests = (c.get("resources") or {}).get("requests") or {}
        for name in total:
            total[name] += quantity(requests.get(name))
    return total


def misfit(pod: Obj, node: Obj, bound: list[Obj]) -> list[str]:
    """Why `node` can't take `pod`, in the scheduler's words ([] = it fits; pure).

    `bound`: the pods already on that node."""
    if not fits(pod, node):
        return ["node(s) didn't match Pod's node affinity/selector"]
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    reasons = []
    if len(bound) + 1 > quantity(allocatable.get("pods", "110")):
        reasons.append("Too many pods")
    wanted = requests_of(pod)
    used = {"cpu": 0.0, "memory": 0.0}
    for other in bound:
        for name, amount in requests_of(other).items():
            used[name] += amount
    for name in ("cpu", "memory"):
        if wanted[name] and used[name] + wanted[name] > quantity(allocatable.get(name)):
            reasons.append(f"Insufficient {name}")
    return reasons


def fits(pod: Obj, node: Obj) -> bool:
    """Does `node` satisfy the pod's nodeSelector and required node affinity? (pure)"""
    labels = node["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        return any(
            all(_expression_matches(e, labels) for e in term.get("matchExpressions") or [])
            for term in terms
        )
    return True


class Scheduler:
    def __init__(
        self, store: Store, clock: Clock, cache: Cache, recorder: EventRecorder, timers: Timers
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache
        self.recorder = recorder
        self.queue = WorkQueue("scheduler", timers)
        self._pending: dict[Key, None] = {}
        self._turn = 0

    def on_change(self, kind: str, resource: Resource, obj: Obj) -> None:
        if resource is PODS:
            key = key_of(obj)
            if (
                kind == "DELETED"
                or obj.get("spec", {}).get("nodeName")
                or obj["metadata"].get("deletionTimestamp")
            ):
                self._pending.pop(key, None)
                if kind == "DELETED" and obj.get("spec", {}).get("nodeName"):
                    for waiting in self._pending:  # its room may fit a waiting pod
                        self.queue.add(waiting)
            elif kind == "ADDED":
                self._pending[key] = None
                self.queue.add(key)
        elif resource is NODES and kind != "DELETED":
            for key in self._pending:
                self.queue.add(key)

    def sync(self, key: Key) -> None:
        pod = self.cache.get(PODS, *key)
        if (
            pod is None
            or pod.get("spec", {}).get("nodeName")
            or pod["metadata"].get("deletionTimestamp")
        ):
            self._pending.pop(key, None)
            return
        nodes = sorted(self.cache.all(NODES), key=lambda n: n["metadata"]["name"])
        ready = [n for n in nodes if _node_ready(n)]
        on_node: dict[str, list[Obj]] = {}
        for other in self.cache.all(PODS):
            where = (other.get("spec") or {}).get("nodeName")
            if where and (other.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                on_node.setdefault(where, []).append(other)
        reasons: dict[str, int] = {}
        candidates = []
        for n in ready:
            why = misfit(pod, n, on_node.get(n["metadata"]["name"], []))
            if not why:
                candidates.append(n)
            for reason in why:
                reasons[reason] = reasons.get(reason, 0) + 1
        if not candidates:
            if len(nodes) > len(ready):
                reasons["node(s) were not ready"] = len(nodes) - len(ready)
            self._unschedulable(pod, len(nodes), reasons)
            return
        node = candidates[self._turn % len(candidates)]
        self._turn += 1
        self._bind(pod, node["metadata"]["name"])
        self._pending.pop(key, None)

    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]

        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = node
            finalizers = obj["metadata"].setdefault("finalizers", [])
            if KUBELET_FINALIZER not in finalizers:
                finalizers.append(KUBELET_FINALIZER)

        def scheduled(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": self.clock.timestamp(),
                }
            )
            status["conditions"] = conds

        try:
            bound = self.store.mutate(PODS, namespace, name, bind)
            self.cache.apply("MODIFIED", PODS, bound)
            bound = self.store.mutate(PODS, namespace, name, scheduled, subresource="status")
        except ApiError as e:
            if e.code == 404:
                return
            raise
        self.cache.apply("MODIFIED", PODS, bound)
        self.recorder.record(
            bound,
            reason="Scheduled",
            message=texts.scheduled(namespace or "", name, node),
            component=COMPONENT,
        )

    def _unschedulable(self, pod: Obj, total: int, reasons: dict[str, int]) -> None:
        message = texts.unschedulable(total, reasons)
        meta = pod["metadata"]
        current = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") == "PodScheduled"
            ),
            None,
        )
        if current is None or current.get("message") != message:

            def mark(obj: Obj) -> None:
                status = obj.setdefault("status", {})
                conds = [
                    c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"
                ]
                conds.append(
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "lastProbeTime": None,
                        "lastTransitionTime": self.clock.timestamp(),
                        "reason": "Unschedulable",
                        "message": message,
                    }
                )
                status["conditions"] = conds

            try:
                marked = self.store.mutate(
                    PODS, meta.get("namespace"), meta["name"], mark, subresource="status"
                )
            except ApiError as e:
                if e.code == 404:
                    return
                raise
            self.cache.apply("MODIFIED", PODS, marked)
        self.recorder.record(
            pod, reason="FailedScheduling", type="Warning", message=message, component=COMPONENT
        )
