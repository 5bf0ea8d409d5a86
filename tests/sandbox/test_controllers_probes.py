"""The kubelet stand-in's probes, as the real kubelet's prober runs them.

Covers, pure (`sandbox.cluster.controllers.probes`): probe specs with the API's
defaults and named ports; what the app answers (connection refused before boot or on
another port, 404 off the healthy paths, a timeout on a hanging path, exec output);
a worker's ticks (phase from the pod, not the container), `initialDelaySeconds`,
startup-before-the-others, failure/success thresholds and the hold after a kill.
On a running cluster (speed 100): a slow boot inside a 48 × 5 s startup budget gets
Ready with `Startup probe failed` events counted and no restart; one past its budget
is killed (`failed startup probe, will be restarted`, exit 137, restartCount 1);
readiness and liveness on a wrong path (404) give the real `Unhealthy` texts, then the
liveness kill; a failing exec probe; an image whose config label carries its boot time.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cluster.controllers import knobs
from sandbox.cluster.controllers.knobs import Knobs
from sandbox.cluster.controllers.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    App,
    Handler,
    ProbeSpec,
    ProbeWorker,
    probes_of,
    run_probe,
)
from sandbox.registry.images import build_image
from tests.sandbox.controllers_harness import Harness, container_status, harness

Obj = dict[str, Any]
IP = "10.42.0.7"


def test_probe_specs_have_the_api_defaults_and_resolve_named_ports() -> None:
    container = {
        "name": "admin",
        "ports": [{"name": "http", "containerPort": 3000}],
        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
        "startupProbe": {"tcpSocket": {"port": 5432}, "failureThreshold": 48, "periodSeconds": 5},
        "readinessProbe": {"exec": {"command": ["pg_isready"]}, "initialDelaySeconds": 2},
    }
    startup, readiness, liveness = probes_of(container)
    assert startup == ProbeSpec(STARTUP, Handler("tcp", 5432), period=5, failure_threshold=48)
    assert readiness == ProbeSpec(
        READINESS, Handler("exec", command=("pg_isready",)), initial_delay=2
    )
    assert liveness == ProbeSpec(LIVENESS, Handler("http", 3000, path="/"))
    assert probes_of({"name": "x", "readinessProbe": {}}) == []


def app(boot_at: float = 0.0, **knobs: Any) -> App:
    container = {"ports": [{"containerPort": 3000}]}
    return App.of(container, ip=IP, boot_at=boot_at, knobs=Knobs(**knobs))


@pytest.mark.parametrize(
    ("handler", "now", "knobs", "expected"),
    [
        (Handler("http", 3000, path="/"), 5.0, {}, (True, "")),
        (
            Handler("http", 3000, path="/admin/"),
            0.0,
            {},
            (
                False,
                f'Get "http://{IP}:3000/admin/": dial tcp {IP}:3000: connect: connection refused',
            ),
        ),
        (
            Handler("http", 3000, path="/admin/"),
            5.0,
            {"healthy_paths": frozenset({"/"})},
            (False, "HTTP probe failed with statuscode: 404"),
        ),
        (
            Handler("http", 3000, path="/slow"),
            5.0,
            {"hang_paths": frozenset({"/slow"})},
            (
                False,
                f'Get "http://{IP}:3000/slow": context deadline exceeded '
                "(Client.Timeout exceeded while awaiting headers)",
            ),
        ),
        (
            Handler("tcp", 5432),
            5.0,
            {},
            (False, f"dial tcp {IP}:5432: connect: connection refused"),
        ),
        (Handler("tcp", 5432), 5.0, {"listen_ports": frozenset({5432})}, (True, "")),
        (Handler("exec", command=("true",)), 5.0, {}, (True, "")),
        (Handler("exec"), 5.0, {"exec_fails": "no response\n"}, (False, "no response\n")),
    ],
)
def test_what_the_app_answers(
    handler: Handler, now: float, knobs: dict[str, Any], expected: tuple[bool, str]
) -> None:
    assert app(boot_at=1.0, **knobs).answer(handler, now) == expected


def test_a_worker_ticks_from_the_pod_and_waits_for_the_initial_delay() -> None:
    spec = ProbeSpec(LIVENESS, Handler("http", 3000, path="/"), initial_delay=4, period=10)
    worker = ProbeWorker.start(spec, origin=0.0, now=3.0)  # container started at 3 s
    assert worker.next_at == 10.0
    assert run_probe(worker, now=3.5, running_for=0.5, started=False, app=app()) is None
    assert worker.next_at == 10.0
    assert run_probe(worker, now=10.0, running_for=7.0, started=True, app=app()) is not None
    assert worker.next_at == 20.0
    readiness = ProbeWorker.start(
        ProbeSpec(READINESS, spec.handler), origin=0.0, now=3.0
    )  # the manual trigger
    assert readiness.next_at == 3.0


@pytest.mark.parametrize(
    ("kind", "started", "runs"),
    [(STARTUP, True, False), (STARTUP, False, True), (READINESS, False, False)],
)
def test_startup_runs_before_the_others(kind: str, started: bool, runs: bool) -> None:
    worker = ProbeWorker(ProbeSpec(kind, Handler("http", 3000, path="/")), 0.0, 0.0)
    probed = run_probe(worker, now=5.0, running_for=5.0, started=started, app=app())
    assert (probed is not None) is runs


@pytest.mark.parametrize(
    ("kind", "threshold", "results", "verdicts", "held"),
    [
        (STARTUP, 3, [False, False, False], [None, None, False], True),
        (LIVENESS, 3, [False, True, False, False, False], [None, True, None, None, False], True),
        (READINESS, 3, [False, False, False, False], [None, None, False, False], False),
    ],
)
def test_thresholds_count_consecutive_results(
    kind: str, threshold: int, results: list[bool], verdicts: list[bool | None], held: bool
) -> None:
    spec = ProbeSpec(kind, Handler("tcp", 3000), failure_threshold=threshold, period=1)
    worker = ProbeWorker(spec, 0.0, 0.0)
    seen = []
    for n, ok in enumerate(results):
        probed = run_probe(
            worker,
            now=float(n),
            running_for=float(n),
            started=kind != STARTUP,
            app=app(boot_at=0.0 if ok else 1e9),
        )
        assert probed is not None
        seen.append(probed.verdict)
    assert seen == verdicts
    assert worker.on_hold is held


# ---- on a running cluster ----


def unhealthy(h: Harness) -> list[tuple[str, int]]:
    return [(e["message"], e["count"]) for e in h.events(reason="Unhealthy")]


def one(h: Harness) -> Obj | None:
    pods = h.pods()
    return pods[0] if len(pods) == 1 else None


STARTUP_48X5 = {
    "startupProbe": {
        "httpGet": {"path": "/healthz", "port": 8080},
        "periodSeconds": 5,
        "failureThreshold": 48,
    },
    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
}


async def test_a_slow_boot_inside_its_startup_budget_gets_ready_without_a_restart() -> None:
    async with harness(speed=100.0) as h:
        h.deploy(replicas=1, pod_annotations={knobs.BOOT: "150"}, container=STARTUP_48X5)

        def ready() -> Obj | None:
            pod = one(h)
            return pod if pod and container_status(pod).get("ready") else None

        pod = await h.until(ready, seconds=30)
        status = container_status(pod)
        assert status["restartCount"] == 0
        assert status["started"] is True
        ((message, count),) = unhealthy(h)
        ip = pod["status"]["podIP"]
        assert message == (
            f'Startup probe failed: Get "http://{ip}:8080/healthz": '
            f"dial tcp {ip}:8080: connect: connection refused"
        )
        assert 29 <= count <= 31  # every 5 s for the 150 s boot
        assert not h.events(reason="Killing")


async def test_a_startup_probe_past_its_budget_kills_and_restarts_the_container() -> None:
    async with harness(speed=100.0) as h:
        probes = {
            "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "failureThreshold": 4}
        }
        h.deploy(replicas=1, pod_annotations={knobs.BOOT: "260"}, container=probes)

        def restarted() -> Obj | None:
            pod = one(h)
            return pod if pod and container_status(pod).get("restartCount", 0) >= 1 else None

        pod = await h.until(restarted, seconds=30)
        last = container_status(pod)["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (137, "Error")
        (killing,) = h.events(reason="Killing")
        assert killing["message"] == "Container api failed startup probe, will be restarted"
        ip = pod["status"]["podIP"]
        assert (f"Startup probe failed: dial tcp {ip}:8080: connect: connection refused", 4) in (
            unhealthy(h)
        )


async def test_probes_on_a_wrong_path_fail_readiness_and_the_liveness_kill_follows() -> None:
    async with harness(speed=100.0) as h:
        admin = {"httpGet": {"path": "/admin/", "port": 3000}, "periodSeconds": 10}
        h.deploy(
            replicas=1,
            pod_annotations={knobs.HEALTHY_PATHS: "/"},
            container={
                "ports": [{"containerPort": 3000}],
                "readinessProbe": admin,
                "livenessProbe": admin,
            },
        )

        def killed() -> list[Obj]:
            return h.events(reason="Killing")

        (killing,) = await h.until(killed, seconds=30)
        assert killing["message"] == "Container api failed liveness probe, will be restarted"
        messages = dict(unhealthy(h))
        assert messages["Liveness probe failed: HTTP probe failed with statuscode: 404"] == 3
        assert messages["Readiness probe failed: HTTP probe failed with statuscode: 404"] >= 3
        pod = one(h)
        assert pod is not None
        assert not container_status(pod)["ready"]


async def test_exec_probe_output_is_the_event() -> None:
    async with harness(speed=100.0) as h:
        h.deploy(
            replicas=1,
            pod_annotations={knobs.EXEC_FAILS: "pg_isready: no response"},
            container={"readinessProbe": {"exec": {"command": ["pg_isready"]}, "periodSeconds": 2}},
        )

        def failing() -> bool:
            return any(c >= 2 for m, c in unhealthy(h) if m.endswith("no response"))

        await h.until(failing, seconds=30)
        assert "Readiness probe failed: pg_isready: no response" in dict(unhealthy(h))


async def test_an_image_can_carry_its_boot_time() -> None:
    async with harness(speed=100.0) as h:
        h.registry.seed(
            "admin/api", "slowboot", build_image(salt="slow", labels={knobs.BOOT: "30"})
        )
        probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "failureThreshold": 48}
        h.deploy(replicas=1, tag="slowboot", container={"startupProbe": probe})

        def ready() -> Obj | None:
            pod = one(h)
            return pod if pod and container_status(pod).get("ready") else None

        await h.until(ready, seconds=30)
        ((message, count),) = unhealthy(h)
        assert message.startswith("Startup probe failed: dial tcp")
        assert 5 <= count <= 7  # every 5 s for the 30 s the image takes to boot
