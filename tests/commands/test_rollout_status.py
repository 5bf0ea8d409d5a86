"""`commands.rollout_status`: kubectl's completion rule, step by step, over Deployment
JSON as the API returns it (missing fields, spec.replicas defaulting to 1).
"""

from __future__ import annotations

from typing import Any

import pytest

from commands.rollout_status import (
    Complete,
    DeadlineExceeded,
    DeploymentStatus,
    RolloutState,
    Waiting,
    rollout_status,
)


def deployment(
    *,
    generation: int = 2,
    observed: int = 2,
    spec_replicas: int | None = 3,
    conditions: list[dict[str, Any]] | None = None,
    **status: int,
) -> dict[str, Any]:
    spec = {} if spec_replicas is None else {"replicas": spec_replicas}
    return {
        "metadata": {"name": "api", "generation": generation},
        "spec": spec,
        "status": {"observedGeneration": observed, "conditions": conditions or [], **status},
    }


DEADLINE = [
    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
    {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "api-6d4f" has timed out progressing.',
    },
]
DONE: dict[str, Any] = {
    "replicas": 3,
    "updatedReplicas": 3,
    "availableReplicas": 3,
    "readyReplicas": 3,
}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(generation=3, observed=2, **DONE),
         Waiting("Waiting for the Deployment controller to pick up the change")),
        (deployment(generation=3, observed=2, conditions=DEADLINE),
         Waiting("Waiting for the Deployment controller to pick up the change")),
        (deployment(conditions=DEADLINE, updatedReplicas=1),
         DeadlineExceeded('Deployment `api` exceeded its progress deadline: ReplicaSet "api-6d4f" '
                          "has timed out progressing.")),
        (deployment(updatedReplicas=1, availableReplicas=3, replicas=3),
         Waiting("1 of 3 new replicas have been updated")),
        (deployment(updatedReplicas=3, availableReplicas=2, replicas=4),
         Waiting("1 old replica is pending termination")),
        (deployment(updatedReplicas=3, availableReplicas=3, replicas=5),
         Waiting("2 old replicas are pending termination")),
        (deployment(updatedReplicas=3, availableReplicas=2, replicas=3),
         Waiting("2 of 3 updated replicas are available")),
        (deployment(**DONE), Complete()),
        (deployment(spec_replicas=None, updatedReplicas=1, availableReplicas=1, replicas=1),
         Complete()),
        (deployment(spec_replicas=None), Waiting("0 of 1 new replicas have been updated")),
        (deployment(spec_replicas=0), Complete()),
        ({"metadata": {"name": "api"}}, Waiting("0 of 1 new replicas have been updated")),
    ],
)  # fmt: skip
def test_rollout_status(obj: dict[str, Any], expected: RolloutState) -> None:
    assert rollout_status(DeploymentStatus.from_dict(obj)) == expected


def test_from_dict_reads_counts() -> None:
    status = DeploymentStatus.from_dict(deployment(conditions=DEADLINE, **DONE))
    assert status == DeploymentStatus(
        name="api",
        generation=2,
        observed_generation=2,
        replicas=3,
        updated_replicas=3,
        status_replicas=3,
        available_replicas=3,
        ready_replicas=3,
        progressing_reason="ProgressDeadlineExceeded",
        progressing_message='ReplicaSet "api-6d4f" has timed out progressing.',
    )
