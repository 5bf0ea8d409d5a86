"""commands.rollout_decisions: the new ReplicaSet, what is wrong with a pod, what undo restores."""

from __future__ import annotations

from typing import Any

import pytest

from commands.rollout_decisions import (
    Symptom,
    UndoRefused,
    UndoTarget,
    new_replicaset,
    pod_symptoms,
    revision_of,
    undo_target,
)

UID = "dep-uid"


def deployment(image: str, revision: int | None = None, *, paused: bool = False) -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(revision)} if revision else {}
    return {
        "metadata": {"name": "api", "uid": UID, "annotations": annotations},
        "spec": {
            "paused": paused,
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            },
        },
    }


def rs(name: str, image: str, revision: int, owner: str = UID) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "ownerReferences": [{"uid": owner}],
            "annotations": {
                "deployment.kubernetes.io/revision": str(revision),
                "kubernetes.io/change-cause": f"deploy {image}",
            },
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "api", "pod-template-hash": name[-5:]}},
                "spec": {"containers": [{"name": "api", "image": image}]},
            }
        },
    }


OLD = "r.example/a/api:1111111@sha256:aa"
NEW = "r.example/a/api:2222222@sha256:bb"


@pytest.mark.parametrize(
    ("dep", "sets", "expected"),
    [
        (deployment(NEW, 2), [rs("api-old11", OLD, 1), rs("api-new22", NEW, 2)], "api-new22"),
        (deployment(NEW, 1), [rs("api-old11", OLD, 1)], None),  # controller hasn't made it yet
        (deployment(NEW), [rs("api-new22", NEW, 2)], "api-new22"),  # no revision yet: by image
        (deployment(NEW, 2), [rs("api-new22", NEW, 2, owner="other")], None),
        (deployment(OLD, 3), [rs("api-old11", OLD, 3), rs("api-new22", NEW, 2)], "api-old11"),
    ],
)
def test_new_replicaset(
    dep: dict[str, Any], sets: list[dict[str, Any]], expected: str | None
) -> None:
    found = new_replicaset(dep, sets)
    assert (found["metadata"]["name"] if found else None) == expected


def pod(container_status: dict[str, Any], conditions: list[dict[str, Any]] | None = None) -> Any:
    return {
        "metadata": {"name": "api-new22-x"},
        "status": {"conditions": conditions or [], "containerStatuses": [container_status]},
    }


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (pod({"name": "api", "state": {"running": {}}, "ready": True}), []),
        (pod({"name": "api", "state": {"waiting": {"reason": "ContainerCreating"}}}), []),
        (
            pod({"name": "api", "state": {"waiting": {"reason": "ErrImagePull", "message": "x"}}}),
            [Symptom("api-new22-x", "api", "ErrImagePull", "x")],
        ),
        (
            pod(
                {
                    "name": "api",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                }
            ),
            [Symptom("api-new22-x", "api", "CrashLoopBackOff", "back-off", 1, "Error", 3)],
        ),
        (
            {
                "metadata": {"name": "p"},
                "status": {
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": "0/1 nodes are available",
                        }
                    ]
                },
            },
            [Symptom("p", "", "Unschedulable", "0/1 nodes are available")],
        ),
    ],
)
def test_pod_symptoms(p: dict[str, Any], expected: list[Symptom]) -> None:
    assert pod_symptoms(p) == expected


def test_not_ready_symptom_carries_start_time() -> None:
    status = {"name": "api", "state": {"running": {"startedAt": "2026-01-02T03:04:05Z"}}}
    (symptom,) = pod_symptoms(pod({**status, "ready": False}))
    assert symptom.reason == "NotReady"
    assert symptom.since is not None
    assert symptom.since.minute == 4


HISTORY = [rs("api-aaaa1", OLD, 1), rs("api-bbbb2", NEW, 2)]


@pytest.mark.parametrize(
    ("dep", "kwargs", "expected"),
    [
        (deployment(NEW, 2), {}, 1),
        (deployment(NEW, 2), {"to_revision": 1}, 1),
        (deployment(NEW, 2), {"to_tag": "1111111"}, 1),
        (deployment(NEW, 2), {"to_revision": 7}, "no-such-revision"),
        (deployment(NEW, 2), {"to_tag": "3333333"}, "no-such-tag"),
        (deployment(NEW, 2, paused=True), {}, "paused"),
        (deployment(OLD, 2), {}, "already-there"),
    ],
)
def test_undo_target(dep: dict[str, Any], kwargs: dict[str, Any], expected: object) -> None:
    found = undo_target(dep, HISTORY, **kwargs)
    if isinstance(expected, int):
        assert isinstance(found, UndoTarget)
        assert found.revision == expected
        assert found.images == {"api": OLD}
        assert "pod-template-hash" not in found.template["metadata"]["labels"]
        assert found.change_cause == f"deploy {OLD}"
    else:
        assert isinstance(found, UndoRefused)
        assert found.reason == expected


def test_undo_without_history() -> None:
    found = undo_target(deployment(NEW, 1), [rs("api-bbbb2", NEW, 1)])
    assert isinstance(found, UndoRefused)
    assert found.reason == "no-history"


def test_revision_of_tolerates_garbage() -> None:
    assert (
        revision_of({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "x"}}}) == 0
    )
    assert revision_of({}) == 0
