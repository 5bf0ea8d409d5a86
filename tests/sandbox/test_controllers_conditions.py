"""Deployment status and conditions, back-off schedules, message texts, pod-template knobs (pure).

Covers: the Progressing condition's transitions (NewReplicaSetAvailable,
ReplicaSetUpdated keeping its transition time, ProgressDeadlineExceeded from the
last update, nothing new while stuck within the deadline, a finished rollout left
alone), Available (MinimumReplicasAvailable / Unavailable), pause and resume, when
to re-check the deadline; the kubelet's back-off (10 s doubling to 300 s, reset
after 600 s of quiet); Go duration texts; the test-knob annotations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.cluster.controllers import backoff, conditions, knobs, texts

Obj = dict[str, Any]
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def progressing(status: str, reason: str, updated: float, transition: float) -> Obj:
    return {
        "type": "Progressing",
        "status": status,
        "reason": reason,
        "message": "m",
        "lastUpdateTime": stamp(updated),
        "lastTransitionTime": stamp(transition),
    }


def deploy(status: Obj, *, replicas: int = 3, deadline: int = 60) -> Obj:
    return {
        "metadata": {"name": "api", "generation": 2},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": deadline,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
        },
        "status": status,
    }


def rs(name: str, replicas: int, ready: int) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
    }


def cond(status: Obj, kind: str) -> Obj:
    found = conditions.get_condition(status, kind)
    assert found is not None, status
    return found


@pytest.mark.parametrize(
    ("case", "before", "new_ready", "old_size", "now", "expected"),
    [
        # All 3 new pods available, nothing old: complete.
        (
            "complete",
            {
                "updatedReplicas": 3,
                "replicas": 4,
                "availableReplicas": 3,
                "conditions": [progressing("True", "ReplicaSetUpdated", 10, 0)],
            },
            3,
            0,
            20,
            ("True", texts.NEW_RS_AVAILABLE_REASON, 20, 0),
        ),
        # One more pod ready than before: progress; the transition time stays.
        (
            "progress",
            {
                "updatedReplicas": 2,
                "replicas": 4,
                "readyReplicas": 4,
                "availableReplicas": 4,
                "conditions": [progressing("True", "NewReplicaSetCreated", 10, 5)],
            },
            3,
            1,
            30,
            ("True", texts.RS_UPDATED_REASON, 30, 5),
        ),
        # No progress, 61 s after the last update with a 60 s deadline: timed out.
        (
            "deadline",
            {
                "updatedReplicas": 3,
                "replicas": 6,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "conditions": [progressing("True", "ReplicaSetUpdated", 10, 0)],
            },
            0,
            3,
            72,
            ("False", texts.TIMED_OUT_REASON, 72, 72),
        ),
        # No progress but within the deadline: the condition stays as it was.
        (
            "stuck",
            {
                "updatedReplicas": 3,
                "replicas": 6,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "conditions": [progressing("True", "ReplicaSetUpdated", 10, 0)],
            },
            0,
            3,
            60,
            ("True", texts.RS_UPDATED_REASON, 10, 0),
        ),
        # Already timed out: stays timed out even if nothing changes.
        (
            "still-timed-out",
            {
                "updatedReplicas": 3,
                "replicas": 6,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "conditions": [progressing("False", "ProgressDeadlineExceeded", 70, 70)],
            },
            0,
            3,
            500,
            ("False", texts.TIMED_OUT_REASON, 70, 70),
        ),
        # A finished rollout is not re-evaluated (no deadline for a healthy Deployment).
        (
            "finished",
            {
                "updatedReplicas": 3,
                "replicas": 3,
                "readyReplicas": 3,
                "availableReplicas": 3,
                "conditions": [progressing("True", "NewReplicaSetAvailable", 10, 0)],
            },
            3,
            0,
            10_000,
            ("True", texts.NEW_RS_AVAILABLE_REASON, 10, 0),
        ),
    ],
)
def test_progressing_transitions(
    case: str,
    before: Obj,
    new_ready: int,
    old_size: int,
    now: float,
    expected: tuple[str, str, float, float],
) -> None:
    d = deploy(before)
    new = rs("api-new", 3, new_ready)
    old = rs("api-old", old_size, old_size)
    status = conditions.rollout_status(d, [old, new], new, at(now))
    got = cond(status, "Progressing")
    status_value, reason, updated, transition = expected
    assert (got["status"], got["reason"]) == (status_value, reason), case
    assert (got["lastUpdateTime"], got["lastTransitionTime"]) == (stamp(updated), stamp(transition))
    if case == "deadline":
        assert got["message"] == 'ReplicaSet "api-new" has timed out progressing.'
    if reason == texts.NEW_RS_AVAILABLE_REASON and case == "complete":
        assert got["message"] == 'ReplicaSet "api-new" has successfully progressed.'


def test_counts_and_available_condition() -> None:
    d = deploy({}, replicas=4)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 1, "maxUnavailable": 1}
    new, old = rs("n", 2, 1), rs("o", 3, 2)
    status = conditions.calculate_status(d, [old, new], new, at(0))
    assert {
        k: status.get(k)
        for k in (
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        )
    } == {
        "observedGeneration": 2,
        "replicas": 5,
        "updatedReplicas": 2,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "unavailableReplicas": 2,
    }
    assert cond(status, "Available")["reason"] == texts.MIN_AVAILABLE_REASON  # 3 >= 4 - 1
    status = conditions.calculate_status(d, [rs("o", 3, 1), rs("n", 2, 1)], new, at(0))
    available = cond(status, "Available")
    assert (available["status"], available["reason"], available["message"]) == (
        "False",
        texts.MIN_UNAVAILABLE_REASON,
        "Deployment does not have minimum availability.",
    )
    # Zero counts are left out, as the API's omitempty does.
    empty = conditions.calculate_status(deploy({}, replicas=0), [], None, at(0))
    assert "replicas" not in empty
    assert empty["observedGeneration"] == 2


def test_set_condition_keeps_transition_time_while_the_status_holds() -> None:
    status: Obj = {"conditions": [progressing("True", "A", 1, 1)]}
    conditions.set_condition(
        status, conditions.new_condition("Progressing", "True", "B", "m", at(5))
    )
    assert cond(status, "Progressing")["lastTransitionTime"] == stamp(1)
    assert cond(status, "Progressing")["lastUpdateTime"] == stamp(5)
    conditions.set_condition(
        status, conditions.new_condition("Progressing", "True", "B", "x", at(9))
    )
    assert cond(status, "Progressing")["lastUpdateTime"] == stamp(5)  # same reason: no-op
    conditions.set_condition(
        status, conditions.new_condition("Progressing", "False", "C", "m", at(9))
    )
    assert cond(status, "Progressing")["lastTransitionTime"] == stamp(9)


def test_pause_and_resume_conditions_and_deadline_requeue() -> None:
    d = deploy({"conditions": [progressing("True", "ReplicaSetUpdated", 10, 0)]})
    d["spec"]["paused"] = True
    paused = conditions.paused_condition(d, at(20))
    assert paused is not None
    assert (paused["status"], paused["reason"]) == (
        "Unknown",
        "DeploymentPaused",
    )
    d["status"]["conditions"] = [paused]
    assert conditions.paused_condition(d, at(30)) is None
    d["spec"]["paused"] = False
    resumed = conditions.paused_condition(d, at(40))
    assert resumed is not None
    assert resumed["reason"] == "DeploymentResumed"
    stuck = deploy({"conditions": [progressing("True", "ReplicaSetUpdated", 10, 0)]})
    assert conditions.requeue_after(stuck, stuck["status"], at(30)) == pytest.approx(41.0)
    timed_out = {"conditions": [progressing("False", "ProgressDeadlineExceeded", 80, 80)]}
    assert conditions.requeue_after(stuck, timed_out, at(90)) is None


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, [10]),
        (4, [10, 20, 40, 80]),
        (7, [10, 20, 40, 80, 160, 300, 300]),
    ],
)
def test_backoff_schedule(failures: int, expected: list[float]) -> None:
    assert backoff.schedule(failures) == expected


def test_backoff_entries_double_and_expire() -> None:
    b = backoff.BackOff()
    waits = []
    now = 0.0
    for _ in range(7):
        waits.append(b.next("pod_image", now))
        now += waits[-1]
    assert waits == backoff.schedule(7)
    assert b.in_backoff("pod_image", now - 1)
    assert not b.in_backoff("pod_image", now + 1)
    # Quiet for more than twice the cap: starts over at 10 s.
    assert b.next("pod_image", now + 601) == 10
    b.forget_prefix("pod")
    assert b.current("pod_image") == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),
        (0.25, "250ms"),
        (1.2, "1.2s"),
        (1.2345, "1.234s"),
        (10, "10s"),
        (80, "1m20s"),
        (300, "5m0s"),
        (3725.5, "1h2m5.5s"),
    ],
)
def test_go_durations(seconds: float, text: str) -> None:
    assert texts.go_duration(seconds) == text


def test_kubelet_texts() -> None:
    assert texts.pulled("r/a:1", 1.2, 1.5, 764) == (
        'Successfully pulled image "r/a:1" in 1.2s (1.5s including waiting). Image size: 764 bytes.'
    )
    assert texts.crashloop_waiting(20, "api", texts.pod_ref("api-x", "default", "u1")) == (
        "back-off 20s restarting failed container=api pod=api-x_default(u1)"
    )
    assert texts.invalid_image("Bad:Image") == (
        'Failed to apply default image tag "Bad:Image": couldn\'t parse image name "Bad:Image": '
        "invalid reference format"
    )
    assert texts.unschedulable(
        3, {"node(s) didn't match Pod's node affinity/selector": 3}
    ).startswith("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, knobs.Knobs()),
        (
            {knobs.CRASH: "exit-code=2,after=3,message=panic: db, cache down"},
            knobs.Knobs(crash=knobs.Crash(2, "panic: db, cache down", 3.0)),
        ),
        (
            {knobs.CRASH: "container=worker"},
            knobs.Knobs(crash=knobs.Crash(container="worker")),
        ),
        ({knobs.CRASH: "exit-code=x"}, knobs.Knobs()),  # malformed: ignored
        (
            {knobs.NEVER_READY: "true", knobs.READY_AFTER: "2.5"},
            knobs.Knobs(never_ready=True, ready_after=2.5),
        ),
        (
            {knobs.CONFIG_ERROR: 'secret "db" not found'},
            knobs.Knobs(config_error='secret "db" not found'),
        ),
        (
            {knobs.HEALTHY_PATHS: "/healthz, /ready"},
            knobs.Knobs(healthy_paths=frozenset({"/healthz", "/ready"})),
        ),
    ],
)
def test_staging_knobs(annotations: dict[str, str], expected: knobs.Knobs) -> None:
    assert knobs.knobs_for({"metadata": {"annotations": annotations}}) == expected


def test_probe_status_follows_healthy_paths() -> None:
    k = knobs.Knobs(healthy_paths=frozenset({"/healthz"}))
    assert k.probe_status("/healthz") == 200
    assert k.probe_status("/health") == 404
    assert knobs.Knobs().probe_status("/anything") == 200
