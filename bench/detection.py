"""Verdict time: a rollout starts → Deckhand's verdict, vs `kubectl rollout status`.

Three rollouts of the seeded team in `honeydue-staging`, each run by Deckhand's engine
(`check` then `execute`, on the sandbox's scaled clock) while the real `kubectl rollout
status` watches the same Deployment, started the moment Deckhand's patch lands:

- success: a good tag on `api` (3 replicas);
- bad tag: a tag that passes the check and is deleted (tag and manifest) before the
  patch, so the pods get ErrImagePull / ImagePullBackOff (`admin`, 2 replicas);
- CrashLoopBackOff: `api`'s pod template carries the sandbox crash knob, then a good
  tag is deployed; its pods start and crash.

kubectl has no notion of a failure before the Deployment's progress deadline (600 s
scaled): on a failing rollout it waits for that. Both clocks start at the patch (the
generation bump seen in the store). Figures are wall seconds and the same in the
cluster's scaled seconds (wall × speed); Deckhand's own processing is not sped up, so
its scaled figure over-states it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from bench.report import Figure
from bench.world import BenchEnv, KubectlRun, kubectl, wait_for
from bot.app import open_core
from bot.rollout.engine import RolloutEngine
from bot.settings import Settings
from commands.config import DeckhandConfig
from commands.plan import DeployPlan
from commands.requests import Deploy
from commands.validate import ValidatedDeploy, validate
from sandbox.cluster.controllers.knobs import CRASH
from sandbox.cluster.resources import DEPLOYMENTS
from sandbox.env import AMD64, REQUESTER, SERVICES
from sandbox.registry.images import build_image

SECTION = "1-2 detection"
NAMESPACE = "honeydue-staging"
BAD_TAG = "badc0de"


async def _rollout(
    env: BenchEnv,
    engine: RolloutEngine,
    service: str,
    tag: str,
    *,
    before_execute: Callable[[], None] | None = None,
) -> tuple[str, float, float, int]:
    """Deploy `tag` of `service`; returns (Deckhand's phase, Deckhand wall s, kubectl wall s,
    kubectl exit code), both measured from the patch."""
    valid = validate(Deploy((service,), tag, "staging"), engine.config)
    assert isinstance(valid, ValidatedDeploy), valid
    plan = await engine.check(valid, user=REQUESTER)
    if not isinstance(plan, DeployPlan):
        raise RuntimeError(f"deploy {service} {tag} refused: {plan}")
    if before_execute is not None:
        before_execute()
    store = env.cluster.store

    def generation() -> int:
        return int(store.get(DEPLOYMENTS, NAMESPACE, service)["metadata"]["generation"])

    start_generation = generation()
    execute = asyncio.create_task(engine.execute(plan), name=f"bench-deploy-{service}")
    peer: asyncio.Task[KubectlRun] | None = None
    try:
        if not await wait_for(lambda: generation() > start_generation, within_s=30):
            raise RuntimeError(f"Deckhand did not patch {service} within 30 s")
        patched = time.monotonic()
        deadline_wall = env.cluster.clock.wall(600) * 3 + 30
        peer = asyncio.create_task(
            kubectl(
                env.kubeconfig,
                "rollout",
                "status",
                f"deployment/{service}",
                "-n",
                NAMESPACE,
                "--timeout=0",
                deadline_s=deadline_wall,
            ),
            name=f"bench-kubectl-{service}",
        )
        async with asyncio.timeout(deadline_wall):
            outcome = await execute
        deckhand_s = time.monotonic() - patched
        run = await peer
        kubectl_s = run.wall_s  # kubectl was started at `patched`
    finally:
        for task in (execute, peer):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return outcome.phase.value, deckhand_s, kubectl_s, run.returncode


def _forget_tag(env: BenchEnv, service: str, tag: str) -> None:
    """Delete the tag AND its manifest (a pinned digest would still pull otherwise)."""
    stored = env.registry.store.repo(f"admin/honeydue-{service}")
    assert stored is not None
    digest = stored.tags.pop(tag)
    stored.tag_created.pop(tag, None)
    stored.manifests.pop(digest, None)


def _stage_crash(env: BenchEnv, service: str) -> None:
    def annotate(obj: dict[str, object]) -> None:
        template = obj["spec"]["template"]  # type: ignore[index]
        notes = template.setdefault("metadata", {}).setdefault("annotations", {})
        notes[CRASH] = "exit-code=1,after=1,message=panic: bench crash"

    env.cluster.store.mutate(DEPLOYMENTS, NAMESPACE, service, annotate)


async def run(directory: Path, *, speed: float = 20.0) -> list[Figure]:
    figures: list[Figure] = []
    async with BenchEnv(directory, speed=speed) as env:
        config = DeckhandConfig.model_validate(env.config())
        settings = Settings.model_validate(
            {
                "kubeconfig": env.kubeconfig,
                "registry_username": "admin",
                "registry_token": env.token,
            }
        )
        async with AsyncExitStack() as stack:
            core = await open_core(settings, stack=stack, clock=env.cluster.clock, config=config)
            engine = core.engine
            api, admin = SERVICES[0], SERVICES[2]
            image = build_image(platforms=[AMD64], labels={}, salt="bench-bad")
            env.registry.seed(f"admin/honeydue-{admin.name}", BAD_TAG, image)
            cases = [
                ("success", api.name, api.good[1]),
                ("bad tag (ErrImagePull)", admin.name, BAD_TAG),
                ("CrashLoopBackOff", api.name, api.good[2]),
            ]
            for name, service, tag in cases:
                hook = None
                if name.startswith("bad tag"):
                    hook = functools.partial(_forget_tag, env, service, tag)
                if name == "CrashLoopBackOff":
                    _stage_crash(env, service)
                phase, deckhand_s, kubectl_s, code = await _rollout(
                    env, engine, service, tag, before_execute=hook
                )
                note = f"Deckhand: {phase}; kubectl exit {code}; speed {speed:g}"
                figures.append(
                    Figure(
                        SECTION,
                        f"{name}: rollout → verdict",
                        deckhand_s,
                        "s wall",
                        kubectl_s,
                        "kubectl rollout status",
                        note,
                    )
                )
                figures.append(
                    Figure(
                        SECTION,
                        f"{name}: rollout → verdict",
                        deckhand_s * speed,
                        "s scaled",
                        kubectl_s * speed,
                        "kubectl rollout status",
                    )
                )
    return figures
