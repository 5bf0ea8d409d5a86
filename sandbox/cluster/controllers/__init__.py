"""Controllers of the sandbox cluster: Deployments roll out pod by pod, pods pull real images.

`Controllers(store, clock)` is what `SandboxCluster` runs beside the API server:

    store.subscribe() ──► dispatcher ──► Cache (objects + owner index)
                                     ├─► DeploymentController  (work queue, 1 worker)
                                     ├─► ReplicaSetController  (work queue, 1 worker)
                                     ├─► Scheduler             (work queue, 1 worker)
                                     └─► Kubelet               (1 task per pod on a node)

Every controller reads the cache and writes through the store; the store's change
events come back through the dispatcher and wake whoever cares. Time is the
`Clock`'s (scaled). All tasks are spawned through one `TaskSet` and all timers
through one `Timers`, and `stop()` cancels both, so nothing outlives the cluster.

Modules: `deployment`, `replicaset`, `nodes` (nodes + scheduler), `kubelet` (with
`podstate`: container states and the pod status they make),
`puller` (images over HTTP), `events` (recording), and the pure `rollout`,
`conditions`, `backoff`, `staging` (test knobs) and `texts` (every message).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers.deployment import DeploymentController
from sandbox.cluster.controllers.events import EventRecorder
from sandbox.cluster.controllers.informer import Cache, TaskSet, Timers
from sandbox.cluster.controllers.kubelet import Kubelet, KubeletSettings
from sandbox.cluster.controllers.nodes import Scheduler, SimNode, node_object
from sandbox.cluster.controllers.puller import ImagePuller
from sandbox.cluster.controllers.replicaset import ReplicaSetController
from sandbox.cluster.errors import ApiError
from sandbox.cluster.imageref import Platform
from sandbox.cluster.resources import DEPLOYMENTS, NODES, PODS, REPLICASETS, Resource
from sandbox.cluster.store import Change, Store

__all__ = ["DEFAULT_NODES", "Controllers"]

log = logging.getLogger(__name__)

DEFAULT_NODES: tuple[tuple[str, str], ...] = (
    ("node-1", "amd64"),
    ("node-2", "amd64"),
    ("node-3", "amd64"),
)


class Controllers:
    """The Deployment and ReplicaSet controllers, the scheduler and the kubelet stand-in.

    Keyword arguments (all optional, in scaled seconds where timed):
    `nodes` — (name, arch) of the nodes to seed; `ready_delay` — container start →
    Ready; `pull_seconds` — simulated download of an image new to a node;
    `termination_seconds` — pod deletion → gone; `endpoints` — registry host → base
    URL (like containerd's hosts.toml; loopback hosts default to plain HTTP);
    `pull_timeout` — wall seconds for one registry request.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        nodes: Sequence[tuple[str, str]] = DEFAULT_NODES,
        ready_delay: float = 1.0,
        pull_seconds: float = 1.0,
        termination_seconds: float = 1.0,
        endpoints: Mapping[str, str] | None = None,
        pull_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.nodes: dict[str, SimNode] = {}
        self._seed_nodes = list(nodes)
        self.settings = KubeletSettings(ready_delay, pull_seconds, termination_seconds)
        self.puller = ImagePuller(endpoints=endpoints, timeout=pull_timeout)
        self.tasks = TaskSet()
        self.timers = Timers(clock)
        self.cache = Cache([DEPLOYMENTS, REPLICASETS, PODS, NODES])
        self.recorder = EventRecorder(store, clock)
        args = (store, clock, self.cache, self.recorder, self.timers)
        self.deployments = DeploymentController(*args)
        self.replicasets = ReplicaSetController(*args)
        self.scheduler = Scheduler(*args)
        self.kubelet = Kubelet(
            store,
            clock,
            self.cache,
            self.recorder,
            self.tasks,
            self.puller,
            self.nodes,
            self.settings,
        )
        self._queue: asyncio.Queue[Change] | None = None

    async def start(self) -> None:
        """Seed the nodes, fill the cache and start the workers."""
        await self.puller.start()
        self._queue = self.store.subscribe()
        for name, arch in self._seed_nodes:
            self.add_node(name, arch=arch)
        for resource in (NODES, DEPLOYMENTS, REPLICASETS, PODS):
            items, _ = self.store.list(resource)
            for obj in items:
                self._dispatch("ADDED", resource, obj)
        self.tasks.spawn("controllers:dispatch", self._run_dispatch(self._queue))
        self.tasks.spawn(
            "controllers:deployment", self.deployments.queue.run(self.deployments.sync)
        )
        self.tasks.spawn(
            "controllers:replicaset", self.replicasets.queue.run(self.replicasets.sync)
        )
        self.tasks.spawn("controllers:scheduler", self.scheduler.queue.run(self.scheduler.sync))

    async def stop(self) -> None:
        """Cancel every task and timer and wait for the tasks to end."""
        self.timers.cancel_all()
        await self.tasks.cancel_all()
        if self._queue is not None:
            self.store.unsubscribe(self._queue)
            self._queue = None
        await self.puller.close()

    def add_node(self, name: str, *, arch: str = "amd64", os: str = "linux") -> SimNode:
        """Add a simulated node (and its Node object); pending pods may now fit on it."""
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = SimNode(name, Platform(os, arch), len(self.nodes) + 1)
        try:
            created = self.store.create(NODES, node_object(node))
        except ApiError as e:
            if e.code != 409:
                raise
        else:
            self.cache.apply("ADDED", NODES, created)
        return node

    async def _run_dispatch(self, queue: asyncio.Queue[Change]) -> None:
        while True:
            kind, resource, obj = await queue.get()
            try:
                self._dispatch(kind, resource, obj)
            except Exception:
                log.exception("controllers: handling %s %s failed", kind, resource.kind)

    def _dispatch(self, kind: str, resource: Resource, obj: dict[str, object]) -> None:
        if not self.cache.watches(resource):
            return
        self.cache.apply(kind, resource, obj)
        self.deployments.on_change(kind, resource, obj)
        self.replicasets.on_change(kind, resource, obj)
        self.scheduler.on_change(kind, resource, obj)
        self.kubelet.on_change(kind, resource, obj)
