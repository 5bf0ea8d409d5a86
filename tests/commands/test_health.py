"""commands.health: reading crashes, scheduling and eviction from a pod; the crash
classification; the settle rule; the per-kind switches (tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.config import AlertsConfig
from commands.diagnosis import Cause
from commands.health import (
    Crash,
    crash_cause,
    kind_enabled,
    log_verdict,
    read_health,
    still_failing,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pod(status: dict[str, Any] | None = None, **pod_status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "api-1", "namespace": "ns"},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "api", "image": "r/a:1", "resources": {"limits": {"memory": "1Gi"}}}
            ],
        },
        "status": {"containerStatuses": [{"name": "api", **(status or {})}], **pod_status},
    }


OOM = {"exitCode": 137, "reason": "OOMKilled"}
ERROR = {"exitCode": 255, "reason": "Error"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"state": {"running": {}}, "restartCount": 0}, None),
        (
            {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3,
             "lastState": {"terminated": ERROR}},
            Crash("api", "r/a:1", 3, 255, "Error", True, "1Gi"),
        ),
        (
            {"state": {"running": {}}, "restartCount": 1, "lastState": {"terminated": OOM}},
            Crash("api", "r/a:1", 1, 137, "OOMKilled", False, "1Gi"),
        ),
        (
            {"state": {"terminated": ERROR}, "restartCount": 0},
            Crash("api", "r/a:1", 0, 255, "Error", True, "1Gi"),
        ),
        ({"state": {"running": {}}, "restartCount": 1,
          "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}}}, None),
    ],
)  # fmt: skip
def test_crashes_are_read_from_the_container_status(
    status: dict[str, Any], expected: Crash | None
) -> None:
    crashes = read_health(pod(status)).crashes
    assert crashes == ((expected,) if expected else ())


@pytest.mark.parametrize(
    ("pod_status", "unschedulable", "evicted"),
    [
        ({}, None, None),
        (
            {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/3 nodes are available: 3 Insufficient cpu."}]},
            "0/3 nodes are available: 3 Insufficient cpu.",
            None,
        ),
        (
            {"phase": "Failed", "reason": "Evicted", "message": "The node was low on memory."},
            None,
            "The node was low on memory.",
        ),
    ],
)  # fmt: skip
def test_scheduling_and_eviction(
    pod_status: dict[str, Any], unschedulable: str | None, evicted: str | None
) -> None:
    killed = {"state": {"terminated": {"exitCode": 137, "reason": "Error"}}}
    health = read_health(pod(killed, **pod_status))
    assert bool(health.crashes) is (evicted is None)  # an eviction's kill is no crash
    assert (health.unschedulable, health.evicted, health.image) == (unschedulable, evicted, "r/a:1")


@pytest.mark.parametrize(
    ("reason", "probe_killed", "expected"),
    [
        ("OOMKilled", False, Cause.OOM_KILLED),
        ("OOMKilled", True, Cause.OOM_KILLED),
        ("Error", True, Cause.PROBE_FAILED),
        ("Error", False, Cause.CRASH_LOOP),
    ],
)
def test_crash_cause(reason: str, probe_killed: bool, expected: Cause) -> None:
    crash = Crash("api", "r/a:1", 2, 1, reason, True)
    assert crash_cause(crash, probe_killed=probe_killed) is expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["exec /app: exec format error"], "exec format error"),
        (["standard_init_linux.go:228: exec user process caused: exec format error"],
         "exec format error"),
        (["panic: boom"], None),
        ([], None),
    ],
)  # fmt: skip
def test_log_verdict(lines: list[str], expected: str | None) -> None:
    assert log_verdict(lines) == expected


@pytest.mark.parametrize(
    ("backing_off", "ago_s", "expected"),
    [(True, 500, True), (False, 10, True), (False, 120, False), (False, 500, False)],
)
def test_a_crash_counts_until_it_settles(backing_off: bool, ago_s: int, expected: bool) -> None:
    seen = T0 - timedelta(seconds=ago_s)
    assert still_failing(backing_off=backing_off, last_seen=seen, now=T0, settle_s=120) is expected


@pytest.mark.parametrize(
    ("switch", "cause"),
    [
        ("crash_loops", Cause.CRASH_LOOP),
        ("oom_killed", Cause.OOM_KILLED),
        ("probes", Cause.PROBE_FAILED),
        ("unschedulable", Cause.UNSCHEDULABLE),
        ("evictions", Cause.EVICTED),
    ],
)
def test_each_kind_can_be_switched_off(switch: str, cause: Cause) -> None:
    assert kind_enabled(AlertsConfig(), cause)
    assert not kind_enabled(AlertsConfig.model_validate({switch: False}), cause)
    assert kind_enabled(AlertsConfig.model_validate({switch: False}), Cause.TAG_NOT_FOUND)
