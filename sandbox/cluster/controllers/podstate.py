"""What a node knows of the pods it runs: container states and the pod status they make.

`Container` holds one container's lifecycle (waiting / running / terminated, restarts,
the times at which something is due); `PodRuntime` holds a pod's containers and
renders the pod's `status` (phase, conditions, container statuses) the way the
kubelet reports it. No I/O: the kubelet stand-in (`kubelet`) drives these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.cluster.controllers import texts
from sandbox.cluster.controllers.knobs import Knobs
from sandbox.cluster.controllers.nodes import SimNode
from sandbox.cluster.controllers.probes import App, ProbeWorker
from sandbox.cluster.controllers.puller import PulledImage

Obj = dict[str, Any]


@dataclass
class Container:
    """What the node knows of one container of one pod."""

    spec: Obj
    init: bool
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str | None = None
    pulled: PulledImage | None = None
    container_id: str = ""
    started_at: str | None = None
    finished: Obj | None = None
    last_terminated: Obj | None = None
    restart_count: int = 0
    ready: bool = False
    ready_at: float | None = None
    crash_at: float | None = None
    crash: tuple[int, str | None, str] | None = None  # exit code, last log line, reason
    complete_at: float | None = None  # init containers
    next_try: float | None = None  # when a waiting container may try to start again
    show_backoff_at: float | None = (
        None  # ErrImagePull → ImagePullBackOff, Error → CrashLoopBackOff
    )
    backoff_wait: float = 0.0
    probes: list[ProbeWorker] = field(default_factory=list)  # this container instance's
    app: App | None = None  # what answers its probes
    running_since: float | None = None  # scaled monotonic start of this instance
    startup_done: bool = False  # no startup probe, or it succeeded (the status' `started`)
    never_retry: bool = False

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def image(self) -> str:
        return str(self.spec.get("image") or "")

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"

    @property
    def completed(self) -> bool:
        """Ended with exit code 0 (what an init container must do)."""
        return self.state == "terminated" and (self.finished or {}).get("exitCode") == 0

    def wait(self, reason: str, message: str | None = None) -> None:
        self.state, self.reason, self.message = "waiting", reason, message
        self.ready = False

    def status(self) -> Obj:
        if self.state == "running":
            state: Obj = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated" and self.finished is not None:
            state = {"terminated": dict(self.finished)}
        else:
            waiting: Obj = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        result: Obj = {
            "name": self.name,
            "state": state,
            "lastState": {"terminated": dict(self.last_terminated)} if self.last_terminated else {},
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": self.pulled.reference if self.pulled else self.image,
            "imageID": self.pulled.repo_digest if self.pulled else "",
            "started": self.state == "running" and self.startup_done,
        }
        if self.container_id:
            result["containerID"] = self.container_id
        return result

    def due_times(self) -> list[float]:
        times = [
            self.ready_at if not self.ready else None,
            self.crash_at,
            self.complete_at,
            self.next_try,
            self.show_backoff_at,
            *(w.due() for w in self.probes),
        ]
        return [t for t in times if t is not None]

    def stop_probes(self) -> None:
        """The instance ended: its probe workers go (the next instance gets new ones)."""
        self.probes, self.app, self.running_since, self.startup_done = [], None, None, False


@dataclass
class _Condition:
    status: str
    since: str
    reason: str | None = None
    message: str | None = None


@dataclass
class PodRuntime:
    """The node-side state of one pod."""

    uid: str
    namespace: str
    name: str
    node: SimNode
    knobs: Knobs
    init: list[Container]
    app: list[Container]
    ip: str
    start_time: str
    origin: float = 0.0
    """Scaled monotonic time the kubelet got the pod: its probe workers tick from it."""
    conditions: dict[str, _Condition] = field(default_factory=dict)
    evicted: str | None = None
    """The kubelet's eviction message once the pod was evicted (phase Failed)."""

    @property
    def ref(self) -> str:
        return texts.pod_ref(self.name, self.namespace, self.uid)

    def condition(
        self,
        kind: str,
        ok: bool,
        reason: str | None = None,
        message: str | None = None,
        *,
        stamp: str,
    ) -> Obj:
        """A pod condition; its transition time moves only when its status changes."""
        status = "True" if ok else "False"
        current = self.conditions.get(kind)
        if current is None or current.status != status:
            current = self.conditions[kind] = _Condition(status, stamp)
        current.reason, current.message = (None, None) if ok else (reason, message)
        cond: Obj = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": current.since,
        }
        if not ok and reason:
            cond["reason"] = reason
            cond["message"] = message
        return cond

    def status(self, pod: Obj, stamp: str) -> Obj:
        """The pod's `status` as the kubelet reports it (`stamp`: now, for new transitions)."""
        inits_done = all(c.completed for c in self.init)
        unready = [c.name for c in self.app if not c.ready]
        incomplete = [c.name for c in self.init if not c.completed]
        started = any(
            c.state == "running"
            or c.restart_count
            or c.last_terminated
            or (c.state == "terminated" and not c.init)
            for c in self.app
        )
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        if deleting and all(c.state != "running" for c in self.app) and started:
            phase = (
                "Succeeded"
                if all((c.finished or {}).get("exitCode") == 0 for c in self.app)
                else "Failed"
            )
        else:
            phase = "Running" if inits_done and started else "Pending"
        if self.evicted is not None:
            phase = "Failed"
        not_ready = f"containers with unready status: [{' '.join(unready)}]"
        scheduled = next(
            (
                c
                for c in (pod.get("status") or {}).get("conditions") or []
                if c.get("type") == "PodScheduled"
            ),
            None,
        )
        conditions = [
            self.condition(
                "PodReadyToStartContainers", phase in ("Pending", "Running"), stamp=stamp
            ),
            self.condition(
                "Initialized",
                inits_done,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(incomplete)}]",
                stamp=stamp,
            ),
            self.condition("Ready", not unready, "ContainersNotReady", not_ready, stamp=stamp),
            self.condition(
                "ContainersReady", not unready, "ContainersNotReady", not_ready, stamp=stamp
            ),
        ]
        if scheduled is not None:
            conditions.append(scheduled)
        if self.evicted is not None:
            conditions.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                    "reason": "TerminationByKubelet",
                    "message": self.evicted,
                }
            )
        status: Obj = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": self.node.internal_ip,
            "hostIPs": [{"ip": self.node.internal_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
        }
        if self.init:
            status["initContainerStatuses"] = [c.status() for c in self.init]
        status["containerStatuses"] = [c.status() for c in self.app]
        status["qosClass"] = (pod.get("status") or {}).get("qosClass", "BestEffort")
        if self.evicted is not None:
            status["reason"], status["message"] = "Evicted", self.evicted
        return status
