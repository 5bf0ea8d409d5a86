"""A group deploy whose second patch is rejected: the report says which Deployments were
patched and which was not, the patched one still rolls out and is followed, and the
deploy counts as failed (so the Slack card offers its Roll back button)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.app import open_core
from bot.rollout.engine import RolloutEngine
from bot.settings import Settings
from commands.images import Platform
from commands.plan import DeployPlan
from commands.progress import Phase
from commands.requests import Deploy
from sandbox.cluster.resources import DEPLOYMENTS
from sandbox.env import SandboxEnv
from sandbox.registry.images import build_image
from tests.fixtures.rollout import ask

TAG = "abcdef1"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        for service in ("api", "worker"):  # one commit, built for both services
            image = build_image(platforms=[Platform("linux", "amd64")], salt=service + TAG)
            env.registry.seed(f"admin/honeydue-{service}", TAG, image)
        yield env


@pytest.fixture
async def engine(env: SandboxEnv) -> AsyncIterator[RolloutEngine]:
    settings = Settings.model_validate(
        {
            "config": env.config_path,
            "kubeconfig": env.kubeconfig,
            "registry_username": "admin",
            "registry_token": env.token,
        }
    )
    async with AsyncExitStack() as stack:
        yield (await open_core(settings, stack=stack)).engine


async def test_one_failed_patch_names_what_was_patched(
    env: SandboxEnv, engine: RolloutEngine
) -> None:
    plan = await ask(engine, "check", Deploy(("api", "worker"), TAG, "staging"), user="U0ALICE001")
    assert isinstance(plan, DeployPlan), plan

    # Since the check, Deckhand lost the right to patch worker (its Role was narrowed).
    env.cluster.deny("patch", "deployments", "honeydue-staging", name="worker")

    outcome = await engine.execute(plan)

    assert outcome.phase is Phase.FAILED, outcome.summary
    assert "patched api" in outcome.summary
    assert "patching worker failed" in outcome.summary
    by_service = {s.service: s for s in outcome.services}
    assert by_service["api"].phase is Phase.SUCCEEDED
    assert by_service["worker"].failure is not None
    api = env.cluster.store.get(DEPLOYMENTS, "honeydue-staging", "api")
    assert f":{TAG}@sha256:" in api["spec"]["template"]["spec"]["containers"][0]["image"]
