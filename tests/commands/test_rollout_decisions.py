"""commands.rollout_decisions: the new ReplicaSet, the rollout verdict, what undo restores,
when a rollout's pods show trouble worth reading their events for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.diagnosis import Cause
from commands.rollout_decisions import (
    UndoRefused,
    UndoTarget,
    judge,
    needs_events,
    new_replicaset,
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


NOW = datetime(2026, 1, 2, 3, 10, tzinfo=UTC)


def rolled(status: dict[str, Any], generation: int = 2) -> dict[str, Any]:
    dep = deployment(NEW, 2)
    dep["metadata"]["generation"] = generation
    dep["spec"]["replicas"] = 3
    dep["status"] = {"observedGeneration": generation, **status}
    return dep


def new_pod(container: dict[str, Any], *, conditions: list[Any] | None = None) -> Any:
    return {
        "metadata": {"name": "api-new22-x", "ownerReferences": [{"uid": "uid-api-new22"}]},
        "status": {"conditions": conditions or [], "containerStatuses": [container]},
    }


PULL_EVENT = {
    "reason": "Failed",
    "type": "Warning",
    "message": f'Failed to pull image "{NEW}": failed to resolve reference "{NEW}": not found',
    "involvedObject": {"kind": "Pod", "name": "api-new22-x"},
    "lastTimestamp": "2026-01-02T03:05:00Z",
}
DONE = {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3, "readyReplicas": 3}
HALF = {"replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}
DEADLINE = {
    **HALF,
    "conditions": [
        {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "too slow"}
    ],
}


@pytest.mark.parametrize(
    ("dep", "pod", "events", "state", "cause"),
    [
        (rolled(DONE), None, [], "succeeded", None),
        (
            rolled({**DONE, "observedGeneration": 1}),
            None,
            [],
            "waiting",
            None,
        ),  # our generation not observed yet
        (rolled(DEADLINE), None, [], "failed", Cause.PROGRESS_DEADLINE),
        (
            rolled(HALF),
            new_pod({"name": "api", "state": {"running": {}}, "ready": True}),
            [],
            "waiting",
            None,
        ),
        (
            rolled(HALF),
            new_pod(
                {
                    "name": "api",
                    "state": {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": "Back-off pulling image",
                        }
                    },
                }
            ),
            [PULL_EVENT],
            "failed",
            Cause.TAG_NOT_FOUND,
        ),
        (
            rolled(HALF),
            new_pod(
                {
                    "name": "api",
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1}},
                }
            ),
            [],
            "waiting",
            None,
        ),
        (
            rolled(HALF),
            new_pod(
                {
                    "name": "api",
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1}},
                }
            ),
            [],
            "failed",
            Cause.CRASH_LOOP,
        ),
        (
            rolled(HALF),
            new_pod(
                {
                    "name": "api",
                    "ready": False,
                    "state": {"running": {"startedAt": "2026-01-02T03:09:00Z"}},
                }
            ),
            [],
            "waiting",
            None,
        ),
        (
            rolled(HALF),
            new_pod(
                {
                    "name": "api",
                    "ready": False,
                    "state": {"running": {"startedAt": "2026-01-02T03:07:00Z"}},
                }
            ),
            [],
            "failed",
            Cause.NOT_READY,
        ),
    ],
)
def test_judge(
    dep: dict[str, Any], pod: Any, events: list[Any], state: str, cause: Cause | None
) -> None:
    sets = [rs("api-old11", OLD, 1), rs("api-new22", NEW, 2)]
    judgement = judge(
        dep,
        sets,
        [pod] if pod else [],
        {"api-new22-x": events},
        generation=2,
        now=NOW,
        readiness_timeout_s=120,
        crashloop_restarts=2,
    )
    assert judgement.state == state
    assert (judgement.finding.cause if judgement.finding else None) == cause


def test_judge_wakes_when_readiness_would_time_out() -> None:
    pod = new_pod(
        {"name": "api", "ready": False, "state": {"running": {"startedAt": "2026-01-02T03:09:00Z"}}}
    )
    judgement = judge(
        rolled(HALF),
        [rs("api-new22", NEW, 2)],
        [pod],
        {},
        generation=2,
        now=NOW,
        readiness_timeout_s=120,
        crashloop_restarts=2,
    )
    assert judgement.wake_in_s == pytest.approx(60)
    assert judgement.counts.updated == 1
    assert judgement.counts.old == 3


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


STARTUP_48 = {
    "httpGet": {"path": "/healthz", "port": 8080},
    "periodSeconds": 5,
    "failureThreshold": 48,
}


def starting_pod(started_at: str, *, started: bool, probes: dict[str, Any]) -> Any:
    pod = new_pod(
        {
            "name": "api",
            "ready": False,
            "started": started,
            "state": {"running": {"startedAt": started_at}},
        }
    )
    pod["spec"] = {"containers": [{"name": "api", **probes}]}
    return pod


@pytest.mark.parametrize(
    ("started_at", "started", "probes", "timeout", "state", "starting", "budget"),
    [
        # 95 s into a 48 × 5 s startup budget: waiting, and the live line says so
        ("2026-01-02T03:08:25Z", False, {"startupProbe": STARTUP_48}, 20, "waiting", 95, ""),
        # past the readiness timeout but inside the startup budget: still waiting
        ("2026-01-02T03:06:00Z", False, {"startupProbe": STARTUP_48}, 120, "waiting", 240, ""),
        # past the budget (+ the timeout's 1 s slack): failed, naming the budget
        (
            "2026-01-02T03:05:58Z",
            False,
            {"startupProbe": STARTUP_48},
            20,
            "failed",
            None,
            "startup probe: 48 × 5 s = 240 s passed without success",
        ),
        # started; readiness counts from the startup phase's end, plus its initial delay
        (
            "2026-01-02T03:09:30Z",
            True,
            {
                "startupProbe": STARTUP_48,
                "readinessProbe": {"httpGet": {"path": "/"}, "initialDelaySeconds": 10},
            },
            20,
            "waiting",
            None,
            "",
        ),
        (
            "2026-01-02T03:09:20Z",
            True,
            {"readinessProbe": {"httpGet": {"path": "/"}, "initialDelaySeconds": 10}},
            20,
            "failed",
            None,
            "readiness: not Ready 20 s (rollout.readiness_timeout_s) after starting and its "
            "readiness probe's 10 s initial delay",
        ),
    ],
)
def test_judge_uses_the_pods_own_budgets(
    started_at: str,
    started: bool,
    probes: dict[str, Any],
    timeout: float,
    state: str,
    starting: float | None,
    budget: str,
) -> None:
    judgement = judge(
        rolled(HALF),
        [rs("api-new22", NEW, 2)],
        [starting_pod(started_at, started=started, probes=probes)],
        {},
        generation=2,
        now=NOW,
        readiness_timeout_s=timeout,
        crashloop_restarts=2,
    )
    assert judgement.state == state
    assert (judgement.starting.elapsed_s if judgement.starting else None) == starting
    if judgement.starting is not None:
        assert judgement.starting.budget_s == 241
        assert judgement.wake_in_s is not None
        assert judgement.wake_in_s <= 5
    if state == "failed":
        assert judgement.finding is not None
        assert judgement.finding.budget == budget
        assert judgement.finding.is_fatal


def _status(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "api-1"}, "status": status}


def _container(state: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": "api", "state": state, "restartCount": 0, "lastState": {}, **more}


@pytest.mark.parametrize(
    ("pod", "trouble"),
    [
        (_status(phase="Pending"), False),
        (
            _status(containerStatuses=[_container({"waiting": {"reason": "ContainerCreating"}})]),
            False,
        ),
        (
            _status(containerStatuses=[_container({"running": {"startedAt": "t"}}, ready=False)]),
            False,
        ),
        (_status(containerStatuses=[_container({"waiting": {"reason": "ErrImagePull"}})]), True),
        (
            _status(containerStatuses=[_container({"waiting": {"reason": "CrashLoopBackOff"}})]),
            True,
        ),
        (_status(containerStatuses=[_container({"running": {}}, restartCount=1)]), True),
        (
            _status(
                containerStatuses=[
                    _container({"running": {}}, lastState={"terminated": {"exitCode": 137}})
                ]
            ),
            True,
        ),
        (_status(initContainerStatuses=[_container({"terminated": {"exitCode": 0}})]), False),
        (_status(initContainerStatuses=[_container({"terminated": {"exitCode": 1}})]), True),
        (_status(conditions=[{"type": "PodScheduled", "status": "False"}]), True),
        (_status(conditions=[{"type": "PodScheduled", "status": "True"}]), False),
        (_status(phase="Failed", reason="Evicted"), True),
        ({}, False),
    ],
)
def test_needs_events(pod: dict[str, Any], trouble: bool) -> None:
    assert needs_events([pod]) is trouble
