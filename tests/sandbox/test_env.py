"""`deckhand sandbox env`: the example team comes up seeded, and what it writes works.

Covers: every seeded Deployment becomes available; the files (kubeconfig, config,
registry.env, seed.json) are written and consistent; the written config loads with
Deckhand's own loader; the registry holds each seeded tag with the platforms that
seed.json claims; kubectl can read the cluster through the written kubeconfig.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.registry.client import RegistryClient
from bot.settings import RegistrySettings
from commands.images import ImageReference, Platform
from sandbox.env import SERVICES, SandboxEnv


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        yield env


async def test_files_are_written_and_the_config_loads(env: SandboxEnv) -> None:
    config = load_config(env.config_path)
    assert set(config.services) == {"api", "worker", "admin"}
    assert config.environments["prod"].namespace == "honeydue"
    assert config.environments["prod"].approvals.required == 1
    seed = json.loads(env.seed_path.read_text())
    assert seed["services"]["api"]["current"] == SERVICES[0].current
    assert env.token in env.registry_env.read_text()
    assert env.registry_env.stat().st_mode & 0o077 == 0  # a credential: owner-only


async def test_registry_holds_every_seeded_tag_with_its_platforms(env: SandboxEnv) -> None:
    seed = json.loads(env.seed_path.read_text())
    settings = RegistrySettings(username="admin", token=env.token)  # type: ignore[arg-type]
    async with RegistryClient(settings) as client:
        api = seed["services"]["api"]
        for tag, platforms in api["tags"].items():
            ref = ImageReference.parse(f"{api['repository']}:{tag}")
            want = Platform.parse(platforms[0])
            verdict = await client.inspect(ref, platform=want)
            assert verdict.digest.startswith("sha256:")


@pytest.mark.kubectl
async def test_kubectl_sees_the_seeded_workloads(env: SandboxEnv) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (CI installs it): cannot check the kubeconfig")
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "kubectl",
            "--kubeconfig",
            str(env.kubeconfig),
            "get",
            "deploy",
            "-n",
            "honeydue",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.availableReplicas} {end}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == ["admin=2", "api=3", "worker=1"]
