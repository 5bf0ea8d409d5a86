"""Is a Deployment's rollout done? kubectl's completion rule as a pure function.

    rollout_status(DeploymentStatus) -> Waiting | Complete | DeadlineExceeded
    DeploymentStatus.from_dict(deployment_json) -> DeploymentStatus

The rule is `kubectl rollout status deployment`'s (kubectl
`pkg/polymorphichelpers/rollout_status.go`), in this order:

1. `metadata.generation > status.observedGeneration`: the controller hasn't seen the
   new spec yet → Waiting.
2. condition `Progressing` with reason `ProgressDeadlineExceeded` → DeadlineExceeded.
3. `updatedReplicas < spec.replicas` → Waiting ("1 of 3 new replicas have been updated").
4. `status.replicas > updatedReplicas` → Waiting (old replicas pending termination).
5. `availableReplicas < updatedReplicas` → Waiting ("2 of 3 updated replicas are available").
6. Otherwise → Complete.

Like kubectl it does not look at pods: image-pull failures and crash loops are
`commands.diagnosis`'s, so the engine can fail fast instead of waiting for the deadline.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commands import texts


@dataclass(frozen=True)
class DeploymentStatus:
    """The fields of a Deployment that decide whether its rollout is complete."""

    name: str
    generation: int
    observed_generation: int
    replicas: int
    """`spec.replicas` (Kubernetes defaults it to 1)."""
    updated_replicas: int = 0
    status_replicas: int = 0
    """`status.replicas`: every pod of every ReplicaSet, old ones included."""
    available_replicas: int = 0
    ready_replicas: int = 0
    progressing_reason: str | None = None
    progressing_message: str | None = None

    @classmethod
    def from_dict(cls, deployment: Mapping[str, Any]) -> DeploymentStatus:
        """Read a `apps/v1 Deployment` as the API returns it (missing counts are 0)."""
        meta = deployment.get("metadata") or {}
        spec = deployment.get("spec") or {}
        status = deployment.get("status") or {}
        progressing: Mapping[str, Any] = {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "Progressing":
                progressing = condition
        replicas = spec.get("replicas")
        return cls(
            name=str(meta.get("name", "")),
            generation=int(meta.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            replicas=1 if replicas is None else int(replicas),
            updated_replicas=int(status.get("updatedReplicas") or 0),
            status_replicas=int(status.get("replicas") or 0),
            available_replicas=int(status.get("availableReplicas") or 0),
            ready_replicas=int(status.get("readyReplicas") or 0),
            progressing_reason=progressing.get("reason"),
            progressing_message=progressing.get("message"),
        )


@dataclass(frozen=True)
class Waiting:
    """Not done yet; `reason` says what it waits for, for people."""

    reason: str


@dataclass(frozen=True)
class Complete:
    """Every replica runs the new template and is available."""


@dataclass(frozen=True)
class DeadlineExceeded:
    """The Deployment's `progressDeadlineSeconds` passed without progress."""

    message: str


RolloutState = Waiting | Complete | DeadlineExceeded


def rollout_status(status: DeploymentStatus) -> RolloutState:
    """kubectl's verdict for `status`. A purely computational function, no side-effects."""
    if status.generation > status.observed_generation:
        return Waiting(texts.waiting_for_observation())
    if status.progressing_reason == "ProgressDeadlineExceeded":
        return DeadlineExceeded(texts.deadline_exceeded(status.name, status.progressing_message))
    if status.updated_replicas < status.replicas:
        return Waiting(texts.waiting_updated(status.updated_replicas, status.replicas))
    if status.status_replicas > status.updated_replicas:
        old = status.status_replicas - status.updated_replicas
        return Waiting(texts.waiting_old(old))
    if status.available_replicas < status.updated_replicas:
        return Waiting(texts.waiting_available(status.available_replicas, status.updated_replicas))
    return Complete()
