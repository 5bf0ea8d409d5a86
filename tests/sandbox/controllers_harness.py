"""A sandbox cluster plus a Gitea registry, and waits driven by the store's change feed.

Used by the `test_controllers_*` modules: `Harness.until(check)` re-evaluates `check`
after every change in the cluster (no sleeps), with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from commands.images import Platform
from sandbox.cluster.resources import DEPLOYMENTS, EVENTS, PODS, REPLICASETS, SECRETS
from sandbox.cluster.server import SandboxCluster
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image

T = TypeVar("T")
Obj = dict[str, Any]
TOKEN = "gta_harness_0123456789abcdef0123456789ab"
GOOD, OTHER, THIRD, MISSING = "1a2b3c4", "5d6e7f8", "9a8b7c6", "0000000"
ARM_INDEX, ARM_SINGLE, MULTI = "arm64only", "arm64single", "multiarch"


class Harness:
    def __init__(self, cluster: SandboxCluster, registry: GiteaRegistry) -> None:
        self.cluster = cluster
        self.registry = registry
        self.store = cluster.store
        self.controllers = cluster.controllers

    def image(self, tag: str) -> str:
        return f"{self.registry.host}/admin/api:{tag}"

    async def until(self, check: Callable[[], T | None], *, seconds: float = 15.0) -> T:
        """Wait until `check()` returns something truthy (re-checked on every change)."""
        queue = self.store.subscribe()
        try:
            async with asyncio.timeout(seconds):
                while True:
                    result = check()
                    if result:
                        return result
                    await queue.get()
                    while not queue.empty():  # a burst of changes: check once after it
                        queue.get_nowait()
        finally:
            self.store.unsubscribe(queue)

    def deploy(
        self,
        name: str = "api",
        tag: str = GOOD,
        *,
        replicas: int = 3,
        pod_annotations: dict[str, str] | None = None,
        container: dict[str, Any] | None = None,
        pod_spec: dict[str, Any] | None = None,
        **spec: Any,
    ) -> Obj:
        template: Obj = {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "imagePullSecrets": [{"name": "gitea-credentials"}],
                "containers": [{"name": "api", "image": self.image(tag), **(container or {})}],
                **(pod_spec or {}),
            },
        }
        if pod_annotations:
            template["metadata"]["annotations"] = pod_annotations
        body = {
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": template,
                **spec,
            },
        }
        return self.store.create(DEPLOYMENTS, body, namespace="default")

    def set_image(self, tag: str, name: str = "api") -> Obj:
        def update(d: Obj) -> None:
            d["spec"]["template"]["spec"]["containers"][0]["image"] = self.image(tag)

        return self.store.mutate(DEPLOYMENTS, "default", name, update)

    def deployment(self, name: str = "api") -> Obj:
        return self.store.get(DEPLOYMENTS, "default", name)

    def pods(self, app: str = "api", *, terminating: bool = False) -> list[Obj]:
        items, _ = self.store.list(PODS, "default", label_selector=f"app={app}")
        return [p for p in items if terminating or not p["metadata"].get("deletionTimestamp")]

    def replica_sets(self, app: str = "api") -> list[Obj]:
        items, _ = self.store.list(REPLICASETS, "default", label_selector=f"app={app}")
        return items

    def events(self, *, reason: str | None = None, about: str = "") -> list[Obj]:
        items, _ = self.store.list(EVENTS, "default")
        items.sort(key=lambda e: e["metadata"]["name"].rsplit(".", 1)[-1].rjust(20, "0"))
        return [
            e
            for e in items
            if (reason is None or e["reason"] == reason)
            and e["involvedObject"]["name"].startswith(about)
        ]

    def rolled_out(self, name: str = "api") -> Obj | None:
        """The Deployment once `kubectl rollout status` would call it done."""
        d = self.deployment(name)
        s = d.get("status") or {}
        want = d["spec"]["replicas"]
        done = (
            s.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and s.get("updatedReplicas", 0) == want
            and s.get("replicas", 0) == want
            and s.get("availableReplicas", 0) == want
        )
        return d if done else None


def container_status(pod: Obj, index: int = 0) -> Obj:
    return (pod.get("status") or {}).get("containerStatuses", [{}])[index]


def waiting_reason(pod: Obj) -> str | None:
    return (container_status(pod).get("state") or {}).get("waiting", {}).get("reason")


@asynccontextmanager
async def harness(speed: float = 50.0, **controller_options: Any) -> AsyncIterator[Harness]:
    """A started cluster (controllers with `controller_options`) and a seeded registry."""
    async with GiteaRegistry(users={"admin": TOKEN}) as registry:
        for tag in (GOOD, OTHER, THIRD):
            registry.seed("admin/api", tag, build_image(salt=tag))
        arm = Platform("linux", "arm64")
        registry.seed("admin/api", ARM_INDEX, build_image(platforms=[arm], index=True))
        registry.seed("admin/api", ARM_SINGLE, build_image(platforms=[arm]))
        registry.seed("admin/api", MULTI, build_image(platforms=[Platform("linux", "amd64"), arm]))
        cluster = SandboxCluster(speed=speed)
        if controller_options:
            cluster.controllers = type(cluster.controllers)(
                cluster.store, cluster.clock, **controller_options
            )
        async with cluster:
            config = {
                "auths": {
                    registry.host: {"auth": base64.b64encode(f"admin:{TOKEN}".encode()).decode()}
                }
            }
            cluster.store.create(
                SECRETS,
                {
                    "metadata": {"name": "gitea-credentials"},
                    "type": "kubernetes.io/dockerconfigjson",
                    "data": {
                        ".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()
                    },
                },
                namespace="default",
            )
            yield Harness(cluster, registry)
