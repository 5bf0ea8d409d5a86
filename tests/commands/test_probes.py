"""Probes, their budgets and a failing probe named (`commands.probes`, `commands.budgets`,
the probe findings of `commands.diagnosis`), all pure and table-driven.

Covers: probe specs with the API's defaults and their handler names (`GET
http://:3000/admin/`, `tcp :5432`, `exec …`); the kubelet's `Unhealthy` and `Killing`
texts parsed, and what the kubelet saw (status code, timeout, refused, exec output);
the budget a new pod is in (a startup probe's `delay + period × threshold + timeout`
from the start; readiness from the end of the startup phase plus its initial delay
plus `readiness_timeout_s`; unschedulable); diagnosis of probe failures (a wrong path's
404 is fatal once the threshold is crossed, a liveness kill is a liveness failure and
not a crash loop, a startup kill names the startup probe, refused connections wait for
the budget); the sentences and fix lines, fitted to the evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.budgets import budget_of
from commands.diagnosis import Cause, EventObservation, PodObservation, diagnose, explain
from commands.probes import Probe, Seen, parse_kill, parse_unhealthy, probes_of

T0 = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)
IP = "10.42.0.7"
ADMIN_404 = "HTTP probe failed with statuscode: 404"
REFUSED = f'Get "http://{IP}:8080/healthz": dial tcp {IP}:8080: connect: connection refused'
HTTP_ADMIN = {"httpGet": {"path": "/admin/", "port": 3000}}
STARTUP_48 = {
    "httpGet": {"path": "/healthz", "port": 8080},
    "periodSeconds": 5,
    "failureThreshold": 48,
}


def stamp(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("raw", "handler", "budget"),
    [
        (HTTP_ADMIN, "GET http://:3000/admin/", 0 + 10 * 3 + 1),
        (STARTUP_48, "GET http://:8080/healthz", 48 * 5 + 1),
        ({"tcpSocket": {"port": 5432}, "initialDelaySeconds": 10}, "tcp :5432", 10 + 30 + 1),
        (
            {"exec": {"command": ["pg_isready", "-q"]}, "timeoutSeconds": 3},
            "exec pg_isready -q",
            33,
        ),
        ({"httpGet": {"port": "http"}}, "GET http://:http/", 31),
    ],
)
def test_probe_specs_and_budgets(raw: dict[str, Any], handler: str, budget: int) -> None:
    probe = Probe.from_dict("startup", raw)
    assert probe is not None
    assert (probe.handler, probe.budget_s) == (handler, budget)


def test_probes_of_a_container_skip_handlerless_ones() -> None:
    found = probes_of({"readinessProbe": HTTP_ADMIN, "livenessProbe": {"periodSeconds": 3}})
    assert list(found) == ["readiness"]


@pytest.mark.parametrize(
    ("message", "parsed"),
    [
        (f"Readiness probe failed: {ADMIN_404}", ("readiness", ADMIN_404)),
        (f"Startup probe failed: {REFUSED}", ("startup", REFUSED)),
        (
            "Liveness probe failed: pg_isready: no response\n",
            ("liveness", "pg_isready: no response"),
        ),
        (
            "Liveness probe errored and resulted in unknown state: rpc error",
            ("liveness", "rpc error"),
        ),
        ("Back-off restarting failed container", None),
    ],
)
def test_parse_unhealthy(message: str, parsed: tuple[str, str] | None) -> None:
    assert parse_unhealthy(message) == parsed


@pytest.mark.parametrize(
    ("message", "parsed"),
    [
        ("Container admin failed liveness probe, will be restarted", ("admin", "liveness")),
        ("Container api failed startup probe, will be restarted", ("api", "startup")),
        ("Stopping container api", None),
    ],
)
def test_parse_kill(message: str, parsed: tuple[str, str] | None) -> None:
    assert parse_kill(message) == parsed


@pytest.mark.parametrize(
    ("output", "what", "status", "definitive"),
    [
        (ADMIN_404, "status", 404, True),
        ("HTTP probe failed with statuscode: 503", "status", 503, False),
        ("HTTP probe failed with statuscode: 429", "status", 429, False),
        (REFUSED, "refused", None, False),
        (
            f'Get "http://{IP}:3000/": context deadline exceeded (Client.Timeout exceeded while '
            "awaiting headers)",
            "timeout",
            None,
            False,
        ),
        ("pg_isready: no response", "exec", None, False),
        ("", "other", None, False),
    ],
)
def test_what_the_kubelet_saw(output: str, what: str, status: int | None, definitive: bool) -> None:
    seen = Seen.of(output)
    assert (seen.what, seen.status, seen.is_definitive) == (what, status, definitive)


# ---- pods and events ----


def pod(
    *,
    probes: dict[str, Any],
    running_since: float | None = 0.0,
    started: bool | None = None,
    ready: bool = False,
    restarts: int = 0,
    last_exit: int | None = None,
    waiting: str | None = None,
    unschedulable_since: float | None = None,
    container: str = "api",
) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if running_since is not None:
        state = {"running": {"startedAt": stamp(running_since)}}
    if waiting:
        state = {"waiting": {"reason": waiting}}
    status: dict[str, Any] = {
        "name": container,
        "ready": ready,
        "restartCount": restarts,
        "state": state,
        "lastState": {"terminated": {"exitCode": last_exit, "reason": "Error"}}
        if last_exit
        else {},
    }
    if started is not None:
        status["started"] = started
    conditions = []
    if unschedulable_since is not None:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "lastTransitionTime": stamp(unschedulable_since),
            }
        )
    return {
        "metadata": {"name": "api-x"},
        "spec": {"containers": [{"name": container, **probes}]},
        "status": {"conditions": conditions, "containerStatuses": [status] if state else []},
    }


def event(reason: str, message: str, *, at: float = 0.0, count: int = 1, c: str = "api") -> Any:
    return EventObservation.from_dict(
        {
            "reason": reason,
            "message": message,
            "type": "Warning" if reason == "Unhealthy" else "Normal",
            "involvedObject": {
                "kind": "Pod",
                "name": "api-x",
                "fieldPath": f"spec.containers{{{c}}}",
            },
            "count": count,
            "lastTimestamp": stamp(at),
        }
    )


@pytest.mark.parametrize(
    ("spec", "events", "kind", "ends_at"),
    [
        # a startup probe not yet passed: 48 × 5 s + 1 s from the start
        (pod(probes={"startupProbe": STARTUP_48}, started=False), [], "startup", 241),
        # started: readiness counts from a period after the last failed startup probe
        (
            pod(probes={"startupProbe": STARTUP_48}, started=True),
            [event("Unhealthy", f"Startup probe failed: {REFUSED}", at=150, count=30)],
            "readiness",
            150 + 5 + 20,
        ),
        # started without failures: from a period after the start (+ the readiness delay)
        (
            pod(
                probes={
                    "startupProbe": STARTUP_48,
                    "readinessProbe": {**HTTP_ADMIN, "initialDelaySeconds": 5},
                },
                started=True,
            ),
            [],
            "readiness",
            5 + 5 + 20,
        ),
        (pod(probes={}), [], "readiness", 20),
        (pod(probes={}, running_since=None, unschedulable_since=3), [], "unschedulable", 23),
        (pod(probes={}, ready=True), [], None, None),
        (pod(probes={}, running_since=None, waiting="ContainerCreating"), [], None, None),
    ],
)
def test_budget_of_a_new_pod(
    spec: dict[str, Any], events: list[Any], kind: str | None, ends_at: float | None
) -> None:
    budget = budget_of(spec, events, readiness_timeout_s=20)
    assert (budget.kind if budget else None) == kind
    if budget is not None:
        assert budget.ends == T0 + timedelta(seconds=ends_at or 0)


@pytest.mark.parametrize(
    ("spec", "events", "cause", "fatal", "kind"),
    [
        # readiness on a path the app doesn't serve: fatal once the threshold is crossed
        (
            pod(probes={"readinessProbe": HTTP_ADMIN}),
            [event("Unhealthy", f"Readiness probe failed: {ADMIN_404}", count=2)],
            Cause.READINESS_PROBE,
            False,
            "readiness",
        ),
        (
            pod(probes={"readinessProbe": HTTP_ADMIN}),
            [event("Unhealthy", f"Readiness probe failed: {ADMIN_404}", count=3)],
            Cause.READINESS_PROBE,
            True,
            "readiness",
        ),
        # refused while booting: named, but the budget decides
        (
            pod(probes={"readinessProbe": HTTP_ADMIN}),
            [event("Unhealthy", f"Readiness probe failed: {REFUSED}", count=9)],
            Cause.READINESS_PROBE,
            False,
            "readiness",
        ),
        # a liveness kill on a 404: a liveness failure (not a crash loop), fatal
        (
            pod(
                probes={"livenessProbe": HTTP_ADMIN, "readinessProbe": HTTP_ADMIN},
                restarts=1,
                last_exit=137,
                running_since=None,
                waiting="CrashLoopBackOff",
            ),
            [
                event("Unhealthy", f"Liveness probe failed: {ADMIN_404}", count=3),
                event("Killing", "Container api failed liveness probe, will be restarted"),
            ],
            Cause.LIVENESS_PROBE,
            True,
            "liveness",
        ),
        # a liveness kill while the app was slow to answer: counts like a crash
        (
            pod(probes={"livenessProbe": HTTP_ADMIN}, restarts=1, last_exit=137),
            [
                event("Unhealthy", f"Liveness probe failed: {REFUSED}", count=3),
                event("Killing", "Container api failed liveness probe, will be restarted"),
            ],
            Cause.LIVENESS_PROBE,
            False,
            "liveness",
        ),
        # the startup budget ran out and the kubelet restarted it
        (
            pod(probes={"startupProbe": STARTUP_48}, restarts=1, last_exit=137, started=False),
            [
                event("Unhealthy", f"Startup probe failed: {REFUSED}", count=48),
                event("Killing", "Container api failed startup probe, will be restarted"),
            ],
            Cause.STARTUP_PROBE,
            True,
            "startup",
        ),
        # still starting: named, not fatal
        (
            pod(probes={"startupProbe": STARTUP_48}, started=False),
            [event("Unhealthy", f"Startup probe failed: {REFUSED}", count=20)],
            Cause.STARTUP_PROBE,
            False,
            "startup",
        ),
        # another container's events don't count
        (
            pod(probes={"readinessProbe": HTTP_ADMIN}),
            [event("Unhealthy", f"Readiness probe failed: {ADMIN_404}", count=5, c="sidecar")],
            Cause.NOT_READY,
            False,
            None,
        ),
    ],
)
def test_probe_findings(
    spec: dict[str, Any], events: list[Any], cause: Cause, fatal: bool, kind: str | None
) -> None:
    found = diagnose(pods=[PodObservation.from_dict(spec)], events=events, crashloop_restarts=2)
    assert found is not None
    assert (found.cause, found.is_fatal) == (cause, fatal)
    assert (found.probe.kind if found.probe else None) == kind


def test_a_wrong_probe_path_is_named_with_its_evidence_and_fix() -> None:
    spec = pod(
        probes={
            "readinessProbe": HTTP_ADMIN,
            "livenessProbe": {"httpGet": {"path": "/", "port": 3000}},
        },
        container="admin",
    )
    events = [
        event("Unhealthy", f"Readiness probe failed: {ADMIN_404}", count=4, c="admin"),
    ]
    found = diagnose(pods=[PodObservation.from_dict(spec)], events=events)
    assert found is not None
    said = explain(found, image="img", namespace="honeydue")
    assert said.sentence == (
        "Container `admin` of pod `api-x` runs but its readiness probe "
        "`GET http://:3000/admin/` fails: the kubelet saw HTTP 404, 4 times."
    )
    assert said.next_step == (
        "Check the probe path: the app answers 404 at `/admin/`; its other probe on `/` "
        "passes. Point `readinessProbe.httpGet.path` at a path it serves, then deploy again."
    )


def test_a_liveness_kill_and_a_spent_startup_budget_say_so() -> None:
    killed = pod(
        probes={"livenessProbe": HTTP_ADMIN},
        restarts=1,
        last_exit=137,
        running_since=None,
        waiting="CrashLoopBackOff",
    )
    events = [
        event("Unhealthy", f"Liveness probe failed: {ADMIN_404}", count=3),
        event("Killing", "Container api failed liveness probe, will be restarted"),
    ]
    found = diagnose(pods=[PodObservation.from_dict(killed)], events=events)
    assert found is not None
    said = explain(found, image="img", namespace="honeydue")
    assert said.sentence == (
        "The kubelet killed container `api` of pod `api-x` (exit code 137) because its "
        "liveness probe `GET http://:3000/admin/` failed: the kubelet saw HTTP 404, 3 times; "
        "a liveness failure, not a crash."
    )
    assert said.next_step.startswith("Check the probe path: the app answers 404 at `/admin/`.")
