"""What Deckhand observed before planning, as frozen values the planners take.

    DeploymentState   a Deployment's configured container image, replicas, revision,
                      paused, strategy (read from the API's JSON by
                      `bot.rollout.cluster_reads.deployment_state`)
    ImageCheck        the registry says the nodes can pull the image (digest, platform…)
    ImageProblem      the registry says no, in one sentence
    LockInfo          a lock on deploys of a service to an environment
    Revision          one revision (ReplicaSet) of a Deployment
                      (`bot.rollout.cluster_reads.revision_of_replicaset`)
    peak_pods(state)  most pods a rollout of that Deployment runs at once

The runtime gathers these (cluster, registry, lock store) and hands them to
`commands.plan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from commands.images import ImageReference, InvalidReference


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
