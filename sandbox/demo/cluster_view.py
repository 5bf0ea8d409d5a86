"""What the demo's side panel shows of the cluster: deployments and their pods.

Pure: `cluster_view(deployments, pods)` turns raw Kubernetes objects into the small JSON
the page renders, without I/O. A pod's `state` is the one word `kubectl get pods` would
print in its STATUS column (`Running`, `ErrImagePull`, `ImagePullBackOff`,
`CrashLoopBackOff`, `ContainerCreating`, `Terminating`, …).
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster.controllers.knobs import CRASH

Obj = dict[str, Any]


def pod_state(pod: Obj) -> str:
    """The STATUS word of `kubectl get pods` for this pod (pure)."""
    meta = pod.get("metadata", {})
    if meta.get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
        terminated = state.get("terminated")
        if terminated and terminated.get("reason"):
            return str(terminated["reason"])
    return str(status.get("phase") or "Pending")


def _ready(pod: Obj) -> bool:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _restarts(pod: Obj) -> int:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    return sum(int(c.get("restartCount", 0)) for c in statuses)


def _image(spec: Obj) -> str:
    containers = spec.get("containers") or [{}]
    return str(containers[0].get("image", ""))


def image_tag(image: str) -> str:
    """The tag of an image reference, or its short digest when pinned by digest only."""
    ref, _, digest = image.partition("@")
    tag = ref.rsplit("/", 1)[-1].partition(":")[2]
    return tag or digest[:19]


def _owner_deployment(pod: Obj) -> str | None:
    """The Deployment a pod belongs to, from its ReplicaSet owner (`<deploy>-<hash>`)."""
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            name = str(ref.get("name", ""))
            return name.rsplit("-", 1)[0] if "-" in name else name
    return None


def cluster_view(deployments: list[Obj], pods: list[Obj], *, namespaces: dict[str, str]) -> Obj:
    """`{"environments": [{"name", "namespace", "deployments": [...]}]}` (pure).

    `namespaces` maps environment name to namespace, in display order. Each deployment
    carries its image, replica counts, whether a crash is staged, and its pods (name,
    state, ready, restarts, image), sorted by name.
    """
    by_deployment: dict[tuple[str, str], list[Obj]] = {}
    for pod in pods:
        meta = pod.get("metadata", {})
        owner = _owner_deployment(pod)
        if owner is None:
            continue
        by_deployment.setdefault((meta.get("namespace", ""), owner), []).append(
            {
                "name": meta.get("name", ""),
                "state": pod_state(pod),
                "ready": _ready(pod),
                "restarts": _restarts(pod),
                "image": _image(pod.get("spec", {})),
            }
        )
    environments = []
    for env_name, namespace in namespaces.items():
        rows = []
        for deployment in deployments:
            meta = deployment.get("metadata", {})
            if meta.get("namespace") != namespace:
                continue
            spec, status = deployment.get("spec", {}), deployment.get("status", {})
            template = spec.get("template", {})
            image = _image(template.get("spec", {}))
            notes = template.get("metadata", {}).get("annotations") or {}
            rows.append(
                {
                    "name": meta.get("name", ""),
                    "image": image,
                    "tag": image_tag(image),
                    "replicas": int(spec.get("replicas", 0)),
                    "ready": int(status.get("readyReplicas", 0)),
                    "updated": int(status.get("updatedReplicas", 0)),
                    "available": int(status.get("availableReplicas", 0)),
                    "crash_staged": CRASH in notes,
                    "probe_paths": sorted(
                        {
                            str(get.get("path", "/"))
                            for c in template.get("spec", {}).get("containers") or []
                            for kind in ("readinessProbe", "livenessProbe", "startupProbe")
                            if (get := (c.get(kind) or {}).get("httpGet")) is not None
                        }
                    ),
                    "pods": sorted(
                        by_deployment.get((namespace, meta.get("name", "")), []),
                        key=lambda p: str(p["name"]),
                    ),
                }
            )
        rows.sort(key=lambda r: str(r["name"]))
        environments.append({"name": env_name, "namespace": namespace, "deployments": rows})
    return {"environments": environments}
