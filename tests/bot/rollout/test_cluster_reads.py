"""`bot.rollout.cluster_reads`, the one parser of Deployments and ReplicaSets the
planners see (pure parts, table-driven): Kubernetes' defaults for absent fields, the
configured container's image or None, the revision; a ReplicaSet's revision, image and
change-cause (a ReplicaSet without the container is still a revision, with no image:
`history` lists what any tool rolled out), none without a revision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.rollout.cluster_reads import deployment_state, revision_of_replicaset
from commands.observed import DeploymentState, Revision, peak_pods

IMAGE = "gitea.example.com/admin/honeydue-api:ccccccc"


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "worker",
            "namespace": "honeydue",
            "annotations": {"deployment.kubernetes.io/revision": "7"},
        },
        "spec": {
            "template": {"spec": {"containers": [{"name": "worker", "image": "x/y:1"}]}},
            **spec,
        },
    }


@pytest.mark.parametrize(
    ("obj", "container", "expected", "peak"),
    [
        (
            deployment(
                replicas=1, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
            ),
            "worker",
            DeploymentState(
                "honeydue", "worker", "worker", "x/y:1", 1, 7, False, "RollingUpdate", 1,
                ("worker",),
            ),
            2,
        ),
        (
            {"metadata": {"name": "api"}},  # every field absent: Kubernetes' defaults
            "api",
            DeploymentState("", "api", "api", None, 1, None, False, "RollingUpdate", "25%", ()),
            2,
        ),
        (
            deployment(replicas=4, paused=True, strategy={"type": "Recreate"}),
            "other",  # no such container: no image, the names that exist are kept
            DeploymentState(
                "honeydue", "worker", "other", None, 4, 7, True, "Recreate", "25%", ("worker",)
            ),
            4,
        ),
    ],
    ids=["configured", "defaults", "no-such-container"],
)  # fmt: skip
def test_deployment_state(
    obj: dict[str, Any], container: str, expected: DeploymentState, peak: int
) -> None:
    found = deployment_state(obj, container=container)
    assert found == expected
    assert peak_pods(found) == peak


RS = {
    "metadata": {
        "annotations": {
            "deployment.kubernetes.io/revision": "3",
            "kubernetes.io/change-cause": "deckhand: U1 deployed ccccccc",
        },
        "creationTimestamp": "2026-11-26T09:00:00Z",
    },
    "spec": {"template": {"spec": {"containers": [{"name": "api", "image": IMAGE}]}}},
}
CREATED = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rs", "container", "expected"),
    [
        (RS, "api", Revision(3, IMAGE, "deckhand: U1 deployed ccccccc", CREATED)),
        (RS, "other", Revision(3, "", "deckhand: U1 deployed ccccccc", CREATED)),
        ({"metadata": {}}, "api", None),
    ],
    ids=["its-container", "without-the-container", "no-revision"],
)
def test_revision_of_replicaset(
    rs: dict[str, Any], container: str, expected: Revision | None
) -> None:
    found = revision_of_replicaset(rs, container=container)
    assert found == expected
    if found is not None and found.image:
        assert found.tag == "ccccccc"
