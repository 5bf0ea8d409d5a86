"""The kubelet stand-in: runs the pods bound to the simulated nodes, one worker task per pod.

Per container (init containers first, one after another) it does what the kubelet's
`SyncPod` does, with the kubelet's reasons, messages and events:

* image: `applyDefaultImageTag` (→ `InvalidImageName`), the pull policy
  (`IfNotPresent` uses the node's image store: `already present on machine`),
  `Pulling` → a real pull through `ImagePuller` with the pod's `imagePullSecrets` →
  `Pulled` (`Successfully pulled image "X" in 1.2s (1.5s including waiting). Image
  size: N bytes.`) or `Failed` + `Error: ErrImagePull`, then `ImagePullBackOff`
  (`BackOff` + `Error: ImagePullBackOff`) until the back-off (10 s, 20 s, ... 300 s)
  lets it pull again. Pulls on one node are serialized, as with the kubelet's default
  `serializeImagePulls`.
* start: `Created` / `Started`, state running, a few log lines; without probes Ready
  once the app has booted, with probes as the prober (`probes`) decides: `Unhealthy`
  events, Ready from readiness, a liveness or startup failure killed (`Killing`, exit
  137) and restarted (knobs set the boot time and what the app answers, or
  crash it, keep it unready, fail its config). An image built for another
  architecture starts and dies with `exec format error`, as on a real node.
* crash: terminated (exit code, reason `Error`, or `OOMKilled` with 137 when staged),
  restart at once the first time,
  then `CrashLoopBackOff` with the back-off, `restartCount` and `lastState`.
* deletion: the scheduler's finalizer holds the pod; `Killing` events, containers
  terminate after a short grace, then the kubelet drops the finalizer and the pod
  is gone (what the real kubelet's final zero-grace delete does).

Every status change is one write to the pod's `status` subresource.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers import texts
from sandbox.cluster.controllers.backoff import BackOff
from sandbox.cluster.controllers.events import EventRecorder
from sandbox.cluster.controllers.informer import Cache, TaskSet
from sandbox.cluster.controllers.knobs import knobs_for
from sandbox.cluster.controllers.nodes import KUBELET_FINALIZER, SimNode
from sandbox.cluster.controllers.podstate import Container, PodRuntime
from sandbox.cluster.controllers.probes import (
    READINESS,
    STARTUP,
    App,
    ProbeWorker,
    probes_of,
    run_probe,
)
from sandbox.cluster.controllers.puller import (
    ImagePuller,
    PullError,
    credentials_for,
    keyring_from_secrets,
)
from sandbox.cluster.errors import ApiError
from sandbox.cluster.imageref import BadReference, ImageRef, containerd_ref, parse_ref
from sandbox.cluster.resources import PODS, SECRETS, Resource
from sandbox.cluster.store import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
COMPONENT = "kubelet"
SHOW_ERROR_SECONDS = 0.5  # how long `ErrImagePull` / `Error` show before the back-off state
INIT_RUN_SECONDS = 0.5  # how long an init container runs


@dataclass
class KubeletSettings:
    """Timings of the simulated nodes, in scaled seconds."""

    ready_delay: float = 1.0  # container start → Ready (no probe, no knob)
    pull_seconds: float = 1.0  # downloading an image not yet on the node
    termination_seconds: float = 1.0  # deletion → containers stopped (capped by the pod's grace)


class Kubelet:
    """All simulated nodes' kubelets: a worker task per pod bound to one of them."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        cache: Cache,
        recorder: EventRecorder,
        tasks: TaskSet,
        puller: ImagePuller,
        nodes: dict[str, SimNode],
        settings: KubeletSettings,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache
        self.recorder = recorder
        self.tasks = tasks
        self.puller = puller
        self.nodes = nodes
        self.settings = settings
        self.pull_backoff = BackOff()
        self.crash_backoff = BackOff()
        self._wakes: dict[str, asyncio.Event] = {}

    def on_change(self, kind: str, resource: Resource, obj: Obj) -> None:
        if resource is not PODS:
            return
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        if kind == "DELETED":
            wake = self._wakes.pop(uid, None)
            if wake is not None:
                wake.set()  # the worker sees the pod gone and ends
            self.recorder.forget(uid)
            self.pull_backoff.forget_prefix(uid)
            self.crash_backoff.forget_prefix(uid)
            return
        node = self.nodes.get(obj.get("spec", {}).get("nodeName") or "")
        if node is None:
            return
        wake = self._wakes.get(uid)
        if wake is None:
            wake = self._wakes[uid] = asyncio.Event()
            self.tasks.spawn(
                f"kubelet:{node.name}:{meta.get('namespace')}/{meta['name']}",
                self._work(obj, node, wake),
            )
        elif meta.get("deletionTimestamp"):
            wake.set()

    # ---- the pod worker ----

    async def _work(self, pod: Obj, node: SimNode, wake: asyncio.Event) -> None:
        meta = pod["metadata"]
        spec = pod.get("spec") or {}
        runtime = PodRuntime(
            uid=meta["uid"],
            namespace=meta.get("namespace", ""),
            name=meta["name"],
            node=node,
            knobs=knobs_for(pod),
            init=[
                Container(c, True, reason="PodInitializing")
                for c in spec.get("initContainers") or []
            ],
            app=[
                Container(
                    c,
                    False,
                    reason="PodInitializing" if spec.get("initContainers") else "ContainerCreating",
                )
                for c in spec.get("containers") or []
            ],
            ip=node.allocate_pod_ip(),
            start_time=self.clock.timestamp(),
            origin=self.clock.monotonic(),
        )
        try:
            while True:
                wake.clear()
                current = self.cache.get(PODS, runtime.namespace, runtime.name)
                if current is None or current["metadata"].get("uid") != runtime.uid:
                    return
                if current["metadata"].get("deletionTimestamp"):
                    await self._terminate(runtime, current)
                    return
                try:
                    due = await self._sync(runtime, current)
                    self._write_status(runtime)
                except (ApiError, OSError, ValueError, KeyError, TypeError):
                    log.exception(
                        "kubelet: sync of %s/%s failed; retrying", runtime.namespace, runtime.name
                    )
                    due = self.clock.monotonic() + 1.0
                timeout = (
                    None if due is None else self.clock.wall(max(0.0, due - self.clock.monotonic()))
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            if self._wakes.get(runtime.uid) is wake:
                del self._wakes[runtime.uid]

    async def _sync(self, rt: PodRuntime, pod: Obj) -> float | None:
        """Do whatever is due for the pod's containers; return when to look again."""
        for c in rt.init:
            if c.completed:
                continue
            await self._step(rt, pod, c)
            if not c.completed:
                return min(c.due_times(), default=None)
        if any(c.reason == "PodInitializing" and c.state == "waiting" for c in rt.app):
            for c in rt.app:
                c.wait("ContainerCreating")
        if rt.evicted is not None:
            return None
        evict_at = rt.origin + rt.knobs.evict_after if rt.knobs.evict_after is not None else None
        if evict_at is not None and self.clock.monotonic() >= evict_at:
            self._evict(rt, pod)
            return None
        for c in rt.app:
            await self._step(rt, pod, c)
        due = [t for c in rt.app for t in c.due_times()]
        return min([*due, *([evict_at] if evict_at is not None else [])], default=None)

    def _evict(self, rt: PodRuntime, pod: Obj) -> None:
        """The eviction manager under memory pressure: the pod's containers are killed and
        it ends `Failed` / `Evicted` (its ReplicaSet makes a new one; this one stays)."""
        first = rt.app[0].name if rt.app else ""
        rt.evicted = texts.evicted(first)
        self.recorder.record(
            pod, reason="Evicted", message=rt.evicted, type="Warning", component=COMPONENT
        )
        now = self.clock.timestamp()
        for c in rt.app:
            if c.state == "running":
                self._event(rt, pod, c, "Killing", f"Stopping container {c.name}")
                c.state, c.ready = "terminated", False
                c.finished = {
                    "exitCode": 137,
                    "reason": "Error",
                    "startedAt": c.started_at,
                    "finishedAt": now,
                    "containerID": c.container_id,
                }

    async def _step(self, rt: PodRuntime, pod: Obj, c: Container) -> None:
        now = self.clock.monotonic()
        if c.show_backoff_at is not None and now >= c.show_backoff_at:
            c.show_backoff_at = None
            self._show_backoff(rt, pod, c)
        if c.state == "running":
            self._while_running(rt, pod, c, now)
        if c.state == "running" or c.never_retry:
            return
        fresh = c.state == "waiting" and c.reason in ("ContainerCreating", "PodInitializing")
        if (c.next_try is None and fresh) or (c.next_try is not None and now >= c.next_try):
            c.next_try = None
            await self._start(rt, pod, c)

    def _while_running(self, rt: PodRuntime, pod: Obj, c: Container, now: float) -> None:
        if c.complete_at is not None and now >= c.complete_at:
            c.complete_at = None
            c.state, c.ready = "terminated", False
            c.finished = {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": c.started_at,
                "finishedAt": self.clock.timestamp(),
                "containerID": c.container_id,
            }
            return
        if c.crash_at is not None and now >= c.crash_at and c.crash is not None:
            code, line, reason = c.crash
            if line is not None:
                self.store.append_log(rt.namespace, rt.name, c.name, line)
            self._exit(rt, pod, c, code, reason, now)
            return
        for worker in list(c.probes):
            due = worker.due()
            if due is not None and now >= due:
                self._probe(rt, pod, c, worker, now)
                if c.state != "running":
                    return
        if not c.ready and c.ready_at is not None and now >= c.ready_at:
            c.ready, c.ready_at = True, None

    def _probe(
        self, rt: PodRuntime, pod: Obj, c: Container, worker: ProbeWorker, now: float
    ) -> None:
        """One tick of a probe worker, and what the kubelet does with its result."""
        assert c.app is not None
        assert c.running_since is not None
        probed = run_probe(
            worker, now=now, running_for=now - c.running_since, started=c.startup_done, app=c.app
        )
        if probed is None:
            return
        kind = worker.spec.kind
        if not probed.ok:
            self._event(
                rt, pod, c, "Unhealthy", texts.probe_failed(kind, probed.output), warning=True
            )
        if probed.verdict is None:
            return
        if kind == STARTUP and probed.verdict:
            c.startup_done = True
            readiness = [w for w in c.probes if w.spec.kind == READINESS]
            for w in readiness:
                w.trigger(now)
            if not readiness and not c.app.knobs.never_ready:
                c.ready = True
        elif kind == READINESS:
            c.ready = probed.verdict and not c.app.knobs.never_ready
        elif not probed.verdict:  # liveness or startup failed: kill, restart per policy
            self._event(rt, pod, c, "Killing", texts.probe_kill(c.name, kind.lower()))
            self._exit(rt, pod, c, 137, "Error", now)

    def _exit(
        self, rt: PodRuntime, pod: Obj, c: Container, code: int, reason: str, now: float
    ) -> None:
        """The container ended: terminated now, restarted later (at once the first time)."""
        c.state, c.ready = "terminated", False
        c.crash_at = c.ready_at = None
        c.stop_probes()
        c.finished = {
            "exitCode": code,
            "reason": reason,
            "startedAt": c.started_at,
            "finishedAt": self.clock.timestamp(),
            "containerID": c.container_id,
        }
        wait = self.crash_backoff.current(f"{rt.uid}/{c.name}")
        c.backoff_wait = wait
        c.next_try = now + max(wait, SHOW_ERROR_SECONDS)
        if wait:
            c.show_backoff_at = now + SHOW_ERROR_SECONDS

    def _show_backoff(self, rt: PodRuntime, pod: Obj, c: Container) -> None:
        """After a short while in `ErrImagePull` / `Error`, the back-off state shows."""
        if c.state == "waiting" and c.reason == "ErrImagePull":
            c.wait("ImagePullBackOff", texts.backoff_pull(c.image))
            self._event(rt, pod, c, "BackOff", texts.backoff_pull(c.image))
            self._event(rt, pod, c, "Failed", texts.error_reason("ImagePullBackOff"), warning=True)
        elif c.state == "terminated" and c.backoff_wait:
            c.last_terminated, c.finished = c.finished, None
            c.wait("CrashLoopBackOff", texts.crashloop_waiting(c.backoff_wait, c.name, rt.ref))
            self._event(rt, pod, c, "BackOff", texts.backoff_restart(c.name, rt.ref), warning=True)

    async def _start(self, rt: PodRuntime, pod: Obj, c: Container) -> None:
        """`startContainer`: image, config, create, start."""
        if not await self._ensure_image(rt, pod, c):
            return
        now = self.clock.monotonic()
        if rt.knobs.config_error and not c.init:
            message = rt.knobs.config_error
            c.wait("CreateContainerConfigError", message)
            self._event(rt, pod, c, "Failed", texts.error_reason(message), warning=True)
            key = f"{rt.uid}/{c.name}/config"
            c.next_try = now + self.crash_backoff.next(key, now)
            return
        restarting = (
            c.finished is not None
            or c.last_terminated is not None
            or c.restart_count > 0
            or c.container_id != ""
        )
        if restarting:
            if c.finished is not None:
                c.last_terminated = c.finished
            c.finished = None
            c.restart_count += 1
        if restarting and not c.init:
            self.crash_backoff.next(f"{rt.uid}/{c.name}", now)
        c.container_id = "containerd://" + secrets.token_hex(32)
        self._event(rt, pod, c, "Created", texts.created_container(c.name))
        self._event(rt, pod, c, "Started", texts.started_container(c.name))
        c.state, c.reason, c.message, c.ready = "running", "", None, False
        c.started_at = self.clock.timestamp()
        c.backoff_wait = 0.0
        assert c.pulled is not None
        if not c.pulled.platform.matches(rt.node.platform):
            # The binary is for another architecture: the process never runs.
            entry = (c.spec.get("command") or list(c.pulled.command) or ["/entrypoint"])[0]
            # runc's init writes this to the container's stderr and exits 255.
            c.crash = (255, f"exec {entry}: exec format error", "Error")
            c.crash_at = now + 0.1
            return
        self._log_start(rt, c)
        if c.init:
            c.complete_at = now + INIT_RUN_SECONDS
            return
        crash = rt.knobs.crash
        if crash is not None and crash.applies_to(c.name):
            c.crash = (crash.exit_code, crash.log_line, crash.reason)
            c.crash_at = now + crash.after_seconds
        self._arm_probes(rt, pod, c, now)

    def _arm_probes(self, rt: PodRuntime, pod: Obj, c: Container, now: float) -> None:
        """The new instance's probe workers, or (without probes) Ready once it has booted."""
        knobs = knobs_for(pod, dict(c.pulled.labels) if c.pulled else None)
        boot = knobs.ready_after
        specs = probes_of(c.spec)
        c.running_since = now
        c.startup_done = not any(s.kind == STARTUP for s in specs)
        if not specs:
            if not knobs.never_ready:
                c.ready_at = now + (self.settings.ready_delay if boot is None else boot)
            return
        c.app = App.of(
            c.spec,
            ip=rt.ip,
            boot_at=now + (self.settings.ready_delay if boot is None else boot),
            knobs=knobs,
        )
        c.probes = [ProbeWorker.start(s, origin=rt.origin, now=now) for s in specs]
        if c.startup_done and not any(s.kind == READINESS for s in specs):
            c.ready = not knobs.never_ready  # no readiness probe: ready once started

    def _log_start(self, rt: PodRuntime, c: Container) -> None:
        ports = [
            p.get("containerPort") for p in c.spec.get("ports") or [] if p.get("containerPort")
        ]
        lines = [f"starting {c.name} from {c.image}"]
        if not c.init:
            lines.append(f"listening on :{ports[0] if ports else 8080}")
        for line in lines:
            self.store.append_log(rt.namespace, rt.name, c.name, line)

    # ---- images ----

    async def _ensure_image(self, rt: PodRuntime, pod: Obj, c: Container) -> bool:
        """`EnsureImageExists`: True when the image is on the node, else sets the waiting state."""
        image = c.image
        try:
            ref = parse_ref(image)
        except BadReference:
            c.wait("InvalidImageName", texts.invalid_image(image))
            c.never_retry = True
            self._event(rt, pod, c, "InspectFailed", texts.invalid_image(image), warning=True)
            self._event(rt, pod, c, "Failed", texts.error_reason("InvalidImageName"), warning=True)
            return False
        node = rt.node
        name = containerd_ref(ref)
        policy = c.spec.get("imagePullPolicy") or (
            "Always" if ref.tag in (None, "latest") and not ref.digest else "IfNotPresent"
        )
        present = node.images.get(name)
        if policy == "Never" or (policy == "IfNotPresent" and present is not None):
            if present is not None:
                c.pulled = present
                self._event(rt, pod, c, "Pulled", texts.already_present(image))
                return True
            c.wait("ErrImageNeverPull", texts.never_pull(image))
            c.never_retry = True
            self._event(rt, pod, c, "ErrImageNeverPull", texts.never_pull(image), warning=True)
            self._event(rt, pod, c, "Failed", texts.error_reason("ErrImageNeverPull"), warning=True)
            return False
        self._event(rt, pod, c, "Pulling", texts.pulling(image))
        began = self.clock.monotonic()
        try:
            async with node.pull_lock:
                pulling = self.clock.monotonic()
                result = node.images.get(name) if policy == "IfNotPresent" else None
                if result is None:
                    result = await self.puller.pull(
                        ref, platform=node.platform, auths=self._credentials(rt, pod, ref)
                    )
                    if result.manifest_digest not in node.digests:
                        await self.clock.sleep(self.settings.pull_seconds)
                        node.digests.add(result.manifest_digest)
                    node.images[name] = result
                pulled_in = self.clock.monotonic() - pulling
        except PullError as e:
            self._event(rt, pod, c, "Failed", texts.failed_pull(image, str(e)), warning=True)
            key = f"{rt.uid}_{image}"
            wait = self.pull_backoff.next(key, self.clock.monotonic())
            c.wait("ErrImagePull", str(e))
            self._event(rt, pod, c, "Failed", texts.error_reason("ErrImagePull"), warning=True)
            now = self.clock.monotonic()
            c.next_try = now + wait
            c.show_backoff_at = now + min(SHOW_ERROR_SECONDS, wait / 2)
            return False
        total = self.clock.monotonic() - began
        c.pulled = result
        self._event(rt, pod, c, "Pulled", texts.pulled(image, pulled_in, total, result.size))
        return True

    def _credentials(self, rt: PodRuntime, pod: Obj, ref: ImageRef) -> list[Any]:
        found, missing = [], []
        for item in pod.get("spec", {}).get("imagePullSecrets") or []:
            name = item.get("name")
            if not name:
                continue
            try:
                found.append(self.store.get(SECRETS, rt.namespace, name))
            except ApiError:
                missing.append(name)
        if missing:
            self.recorder.record(
                pod,
                reason="FailedToRetrieveImagePullSecret",
                type="Warning",
                message=f"Unable to retrieve some image pull secrets ({', '.join(missing)}); "
                "attempting to pull the image may not succeed.",
                component=COMPONENT,
                host=rt.node.name,
            )
        return credentials_for(keyring_from_secrets(found), ref)

    # ---- deletion ----

    async def _terminate(self, rt: PodRuntime, pod: Obj) -> None:
        running = [c for c in [*rt.init, *rt.app] if c.state == "running"]
        for c in running:
            self._event(rt, pod, c, "Killing", texts.killing(c.name))
            c.ready = False
        self._write_status(rt)
        grace = float(pod.get("spec", {}).get("terminationGracePeriodSeconds") or 30)
        if running:
            await self.clock.sleep(min(grace, self.settings.termination_seconds))
        for c in running:
            c.state = "terminated"
            c.crash_at = c.ready_at = c.complete_at = None
            c.stop_probes()
            c.finished = {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": c.started_at,
                "finishedAt": self.clock.timestamp(),
                "containerID": c.container_id,
            }
        self._write_status(rt)

        def release(obj: Obj) -> None:
            finalizers = [
                f for f in obj["metadata"].get("finalizers") or [] if f != KUBELET_FINALIZER
            ]
            if finalizers:
                obj["metadata"]["finalizers"] = finalizers
            else:
                obj["metadata"].pop("finalizers", None)

        try:
            gone = self.store.mutate(PODS, rt.namespace, rt.name, release)
        except ApiError as e:
            if e.code != 404:
                raise
            return
        self.cache.apply(
            "MODIFIED" if gone["metadata"].get("finalizers") else "DELETED", PODS, gone
        )

    # ---- status ----

    def _write_status(self, rt: PodRuntime) -> None:
        pod = self.cache.get(PODS, rt.namespace, rt.name)
        if pod is None or pod["metadata"].get("uid") != rt.uid:
            return
        status = rt.status(pod, self.clock.timestamp())
        if status == pod.get("status"):
            return

        def update(obj: Obj) -> None:
            obj["status"] = status

        try:
            new = self.store.mutate(PODS, rt.namespace, rt.name, update, subresource="status")
        except ApiError as e:
            if e.code != 404:
                raise
            return
        self.cache.apply("MODIFIED", PODS, new)

    def _event(
        self,
        rt: PodRuntime,
        pod: Obj,
        c: Container,
        reason: str,
        message: str,
        *,
        warning: bool = False,
    ) -> None:
        self.recorder.record(
            pod,
            reason=reason,
            message=message,
            type="Warning" if warning else "Normal",
            component=COMPONENT,
            host=rt.node.name,
            field_path=c.field_path,
        )
