"""Verdicts that read the pods' own probes, end to end on the seeded team at speed 10.

Deckhand's engine runs as in production: no clock is pinned, so its time rules run on
the cluster's clock read off the sandbox API server's `Date` headers. Covers:

- api (startupProbe 48 × 5 s) on an image whose first start takes 150 s: succeeds,
  no failure, no rollback, and the live progress showed the startup-budget line;
- the same with a 260 s start: fails naming the startup probe and its 240 s budget;
- admin, probed on `/admin/`, deployed with a build that serves only `/`: fails within
  3 probe periods of the readiness threshold (scaled), naming the probe, the path and
  the 404, and in prod rolls back on its own;
- a time rule at the right scaled time: `readiness_timeout_s: 20` on a never-ready pod
  gives the verdict 20 (less 1 s of whole-second timestamps) to 40 scaled seconds
  after the container started, not at a deadline (900 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_core
from bot.rollout.outcome import Outcome
from bot.settings import Settings
from commands.config import DeckhandConfig
from commands.diagnosis import Cause
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Deploy
from sandbox.cluster.controllers.knobs import BOOT, HEALTHY_PATHS, NEVER_READY
from sandbox.cluster.resources import DEPLOYMENTS, EVENTS
from sandbox.env import AMD64, ENVIRONMENTS, REQUESTER, SandboxEnv
from sandbox.registry.images import build_image
from tests.fixtures.rollout import ask

SPEED = 10.0


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "env", speed=SPEED, ready_timeout_s=60) as env:
        yield env


@dataclass
class Run:
    outcome: Outcome
    progress: list[Progress]
    started_scaled: float
    """Cluster monotonic seconds when the deploy was executed."""
    verdict_scaled: float
    wall_s: float


def seed(env: SandboxEnv, service: str, tag: str, labels: dict[str, str]) -> None:
    """A new build of `service` at `tag` whose config labels carry the sandbox knobs."""
    image = build_image(platforms=[AMD64], labels=labels, salt=f"{service}-{tag}")
    env.registry.seed(f"admin/honeydue-{service}", tag, image)


def edit(env: SandboxEnv, namespace: str, name: str, change: Any) -> None:
    env.cluster.store.mutate(DEPLOYMENTS, namespace, name, change)


async def available(env: SandboxEnv, namespace: str, name: str, replicas: int) -> None:
    queue = env.cluster.store.subscribe()
    try:
        async with asyncio.timeout(60):
            while True:
                d = env.cluster.store.get(DEPLOYMENTS, namespace, name)
                s = d.get("status") or {}
                if (
                    s.get("observedGeneration") == d["metadata"]["generation"]
                    and s.get("updatedReplicas") == s.get("availableReplicas") == replicas
                    and s.get("replicas") == replicas
                ):
                    return
                await queue.get()
    finally:
        env.cluster.store.unsubscribe(queue)


async def deploy(env: SandboxEnv, service: str, tag: str, where: str, **rollout: Any) -> Run:
    config = env.config()
    config["rollout"].update({"max_duration_s": 900, **rollout})
    settings = Settings.model_validate(
        {"kubeconfig": env.kubeconfig, "registry_username": "admin", "registry_token": env.token}
    )
    async with AsyncExitStack() as stack:
        core = await open_core(settings, stack=stack, config=DeckhandConfig.model_validate(config))
        engine = core.engine
        plan = await ask(engine, "check", Deploy((service,), tag, where), user=REQUESTER)
        assert isinstance(plan, DeployPlan), plan
        progress: list[Progress] = []

        async def seen(p: Progress) -> None:
            progress.append(p)

        clock = env.cluster.clock
        began, wall = clock.monotonic(), time.monotonic()
        async with asyncio.timeout(120):
            outcome = await engine.execute(plan, on_progress=seen)
        return Run(outcome, progress, began, clock.monotonic(), time.monotonic() - wall)


def container_started(env: SandboxEnv, namespace: str, image_tag: str) -> float:
    """Cluster monotonic time the first container of `image_tag` started (its pods may be
    gone after a rollback; their events stay): the `Started` event of a pod that pulled it."""
    events, _ = env.cluster.store.list(EVENTS, namespace)
    pods = {
        e["involvedObject"]["name"]
        for e in events
        if e["reason"] == "Pulled" and f":{image_tag}" in e["message"]
    }
    first = min(
        e["firstTimestamp"]
        for e in events
        if e["reason"] == "Started" and e["involvedObject"]["name"] in pods
    )
    clock = env.cluster.clock
    at = datetime.fromisoformat(first.replace("Z", "+00:00"))
    return clock.monotonic() - (clock.now() - at).total_seconds()


def one_replica(obj: dict[str, Any]) -> None:
    obj["spec"]["replicas"] = 1


async def test_a_slow_first_start_inside_the_startup_budget_succeeds(team: SandboxEnv) -> None:
    namespace = ENVIRONMENTS["staging"]
    edit(team, namespace, "api", one_replica)  # one replica: one 150 s boot to wait for
    await available(team, namespace, "api", 1)
    seed(team, "api", "b007150", {BOOT: "150"})
    run = await deploy(team, "api", "b007150", "staging")
    assert run.outcome.phase is Phase.SUCCEEDED, run.outcome.summary
    assert all(s.failure is None and s.rolled_back_to is None for s in run.outcome.services)
    lines = [p.detail for p in run.progress if "startup budget" in p.detail]
    assert any("starting: " in line and " s of a 241 s startup budget" in line for line in lines)
    events, _ = team.cluster.store.list(EVENTS, namespace)
    assert not [e for e in events if e["reason"] == "Killing" and "probe" in e["message"]]
    took = run.verdict_scaled - run.started_scaled
    assert 150 <= took < 241, took
    print(f"\n150 s boot: verdict after {took:.0f} s scaled, {run.wall_s:.1f} s wall")


async def test_a_start_past_the_startup_budget_fails_naming_it(team: SandboxEnv) -> None:
    namespace = ENVIRONMENTS["staging"]
    edit(team, namespace, "api", one_replica)
    await available(team, namespace, "api", 1)
    seed(team, "api", "b007260", {BOOT: "260"})
    run = await deploy(team, "api", "b007260", "staging")
    assert run.outcome.phase is Phase.FAILED
    (service,) = run.outcome.services
    assert service.failure is not None
    assert service.failure.cause is Cause.STARTUP_PROBE
    sentence = service.failure.sentence
    assert "startup probe `GET http://:8080/healthz`" in sentence
    assert "48 × 5 s = 240 s passed without success" in sentence
    assert "connection refused" in sentence
    assert "failureThreshold" in service.failure.next_step
    took = run.verdict_scaled - run.started_scaled
    assert took < 260, took
    print(f"\n260 s boot: verdict after {took:.0f} s scaled, {run.wall_s:.1f} s wall")


async def test_a_probe_on_a_path_the_build_doesnt_serve_fails_and_rolls_back(
    team: SandboxEnv,
) -> None:
    namespace = ENVIRONMENTS["prod"]

    def probe_admin_path(obj: dict[str, Any]) -> None:
        template = obj["spec"]["template"]
        template["metadata"].get("annotations", {}).pop(HEALTHY_PATHS, None)  # serves all
        (container,) = template["spec"]["containers"]
        for kind in ("readinessProbe", "livenessProbe"):
            container[kind]["httpGet"]["path"] = "/admin/"

    edit(team, namespace, "admin", probe_admin_path)  # today's build serves /admin/ too
    await available(team, namespace, "admin", 2)
    seed(team, "admin", "0a5e404", {HEALTHY_PATHS: "/"})  # the new build: `/` only
    run = await deploy(team, "admin", "0a5e404", "prod")
    assert run.outcome.phase is Phase.ROLLED_BACK, run.outcome.summary
    (service,) = run.outcome.services
    assert service.failure is not None
    assert service.failure.cause in (Cause.READINESS_PROBE, Cause.LIVENESS_PROBE)
    sentence = service.failure.sentence
    assert "probe `GET http://:3000/admin/`" in sentence
    assert "HTTP 404" in sentence
    assert service.failure.next_step.startswith("Check the probe path")
    # the thread quotes the kubelet's own event; the CLI prints the same sentence
    assert "probe failed: HTTP probe failed with statuscode: 404" in service.failure.evidence
    assert sentence in run.outcome.summary
    assert service.rolled_back_to is not None
    # readiness: 5 s period, threshold 3, 3 s initial delay → crossed ~18 s after the start
    started = container_started(team, namespace, "0a5e404")
    after = run.verdict_scaled - started
    threshold_at = 3 + 5 * 3
    assert after <= threshold_at + 3 * 5, after
    print(
        f"\n/admin/ 404: verdict {after:.0f} s scaled after the container started, "
        f"{run.wall_s:.1f} s wall for the whole deploy incl. rollback"
    )


async def test_a_time_rule_fires_at_the_right_scaled_time(team: SandboxEnv) -> None:
    namespace = ENVIRONMENTS["staging"]
    seed(team, "worker", "dead4ea", {NEVER_READY: "true"})
    run = await deploy(team, "worker", "dead4ea", "staging", readiness_timeout_s=20)
    assert run.outcome.phase is Phase.FAILED
    (service,) = run.outcome.services
    assert service.failure is not None
    assert service.failure.cause is Cause.NOT_READY
    started = container_started(team, namespace, "dead4ea")
    after = run.verdict_scaled - started
    # The rule's own time, never before, give or take the API's whole seconds: the
    # container's startedAt and its Started event are each stored in whole seconds (and
    # may fall either side of one), so the rule may fire up to 1 s before 20 s after the
    # event's time (seen once in a few dozen runs).
    assert after >= 20 - 1, after
    # ...and from the rule, not a deadline: the next one (max_duration_s) is 900 s away.
    # The slack above 20 is the engine's wake-up on a clock read off 1-s Date headers,
    # plus scheduling under load (at speed 10, 20 s scaled = 2 s wall).
    assert after < 40, after
    print(
        f"\nreadiness_timeout_s 20: verdict {after:.1f} s scaled after the start, "
        f"{run.wall_s:.1f} s wall"
    )
