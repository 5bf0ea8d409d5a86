"""What Deckhand observed before planning, as frozen values the planners take.

    DeploymentState   a Deployment's configured container image, replicas, revision,
                      paused, strategy (`from_dict` reads the API's JSON)
    ImageCheck        the registry says the nodes can pull the image (digest, platform…)
    ImageProblem      the registry says no, in one sentence
    LockInfo          a lock on deploys of a service to an environment
    Revision          one revision (ReplicaSet) of a Deployment (`from_replicaset`)
    peak_pods(state)  most pods a rollout of that Deployment runs at once

The runtime gathers these (cluster, registry, lock store) and hands them to
`commands.plan`. Reading them from JSON is a purely computational function with no
side-effects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.images import ImageReference, InvalidReference

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


@dataclass(frozen=True)
class DeploymentState:
    """What the cluster says about one Deployment right now."""

    namespace: str
    name: str
    container: str
    """The configured container's name."""
    image: str | None
    """That container's image; None when the Deployment has no such container."""
    replicas: int
    revision: int | None = None
    paused: bool = False
    strategy: str = "RollingUpdate"
    max_surge: int | str = "25%"
    """`spec.strategy.rollingUpdate.maxSurge` (an int or a percentage string)."""
    containers: tuple[str, ...] = ()
    """Every container name, to say which exist when `image` is None."""

    @classmethod
    def from_dict(cls, deployment: Mapping[str, Any], container: str) -> DeploymentState:
        """Read an `apps/v1 Deployment` as the API returns it, for `container`.

        Kubernetes' defaults apply to absent fields: 1 replica, RollingUpdate, 25% surge.
        """
        meta = deployment.get("metadata") or {}
        spec = deployment.get("spec") or {}
        strategy = spec.get("strategy") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        images = {c.get("name"): c.get("image") for c in pod.get("containers") or []}
        revision = (meta.get("annotations") or {}).get(REVISION)
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            container=container,
            image=images.get(container),
            replicas=int(1 if spec.get("replicas") is None else spec["replicas"]),
            revision=int(str(revision)) if str(revision).isdigit() else None,
            paused=bool(spec.get("paused", False)),
            strategy=str(strategy.get("type") or "RollingUpdate"),
            max_surge=(strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"),
            containers=tuple(str(name) for name in images),
        )


@dataclass(frozen=True)
class ImageCheck:
    """The registry says the nodes can pull this image (tag exists, platform matches)."""

    reference: str
    """`registry/repo:tag@sha256:…`"""
    digest: str
    platform: str
    size: int | None = None
    created: datetime | None = None
    revision_label: str | None = None
    """The image's `org.opencontainers.image.revision` label (the git commit), if any."""


@dataclass(frozen=True)
class ImageProblem:
    """The registry says no; `sentence` (from the registry layer) says why, for people."""

    sentence: str


@dataclass(frozen=True)
class LockInfo:
    """A lock on deploys of a service to an env."""

    holder: str
    since: datetime
    reason: str | None = None
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Revision:
    """One revision of a Deployment (a ReplicaSet): the configured container's image."""

    number: int
    image: str
    change_cause: str | None = None
    created_at: datetime | None = None

    @property
    def tag(self) -> str | None:
        try:
            return ImageReference.parse(self.image).tag
        except InvalidReference:
            return None

    @classmethod
    def from_replicaset(cls, replicaset: Mapping[str, Any], container: str) -> Revision | None:
        """A ReplicaSet's revision and `container`'s image (None: no revision or container)."""
        meta = replicaset.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        number = str(annotations.get(REVISION, ""))
        pod = ((replicaset.get("spec") or {}).get("template") or {}).get("spec") or {}
        images = {c.get("name"): c.get("image") for c in pod.get("containers") or []}
        if not number.isdigit() or not images.get(container):
            return None
        created = meta.get("creationTimestamp")
        return cls(
            number=int(number),
            image=str(images[container]),
            change_cause=annotations.get(CHANGE_CAUSE),
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
        )


def peak_pods(state: DeploymentState) -> int:
    """Most pods a rollout of `state` runs at once (maxSurge percentages round up)."""
    if state.strategy == "Recreate":
        return state.replicas
    surge = state.max_surge
    if isinstance(surge, str) and surge.endswith("%"):
        surge = math.ceil(state.replicas * float(surge[:-1]) / 100)
    elif isinstance(surge, str):
        surge = int(surge) if surge.isdigit() else state.replicas  # unreadable: assume the worst
    return state.replicas + surge
