"""RolloutEngine.check and the commands that don't roll anything out.

Covers: a deploy refused before any patch, the cluster unchanged (missing tag,
arm64-only image, `latest`, a tag outside the pattern, an unknown service); a manual
lock refusing deploys until unlocked; an unreachable API server named with its URL;
`bot.app.open_core` giving an env with a `kube_context` its own client.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from bot.app import open_core
from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import Unreachable
from bot.kube.kinds import CONFIGMAPS, DEPLOYMENTS
from bot.kube.transport import ApiTransport
from bot.rollout.engine import RolloutEngine
from bot.settings import Settings
from commands.images import Platform
from commands.plan import DeployPlan
from commands.requests import Deploy, Lock, Refusal, RefusalCode, Unlock
from tests.fixtures.rollout import Stage, ask, deck_config


@pytest.mark.parametrize(
    ("targets", "tag", "code", "words"),
    [
        (("api",), "1234567", RefusalCode.IMAGE_PROBLEM, "1234567"),
        (("api",), "abcdef1", RefusalCode.IMAGE_PROBLEM, "arm64"),
        (("api",), "latest", RefusalCode.TAG_POLICY, "latest"),
        (("api",), "release-1", RefusalCode.TAG_POLICY, "release-1"),
        (("apii",), "237c6b9", RefusalCode.UNKNOWN_SERVICE, "apii"),
    ],
)
async def test_refused_before_any_patch(
    stage: Stage, targets: tuple[str, ...], tag: str, code: RefusalCode, words: str
) -> None:
    old = stage.push("1111111")
    stage.push("abcdef1", platforms=(Platform("linux", "arm64"),))
    await stage.deployment(old, wait=False)
    before = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    answer = await ask(stage.engine, "check", Deploy(targets, tag, "prod"), user="U1")
    assert isinstance(answer, Refusal), answer
    assert answer.code is code
    assert words in answer.text
    after = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]
    assert not (await stage.kube.list(CONFIGMAPS, namespace="deckhand")).items


async def test_check_plans_the_pinned_digest(stage: Stage) -> None:
    old = stage.push("1111111")
    new = stage.push("2222222")
    await stage.deployment(old, wait=False)
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan
    (patch,) = plan.patches
    assert patch.image == new
    assert dict(patch.annotations)["kubernetes.io/change-cause"]


async def test_manual_lock_refuses_until_unlock(stage: Stage) -> None:
    old = stage.push("1111111")
    stage.push("2222222")
    await stage.deployment(old, wait=False)
    locked = await ask(stage.engine, "lock", Lock("api", "prod", "incident 42"), user="U2")
    assert isinstance(locked, str)
    assert "incident 42" in locked
    refused = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(refused, Refusal)
    assert refused.code is RefusalCode.LOCKED
    assert "incident 42" in refused.text
    status = await stage.engine.status("api", "prod")
    assert status.lock is not None
    assert status.lock.holder == "U2"
    unlocked = await ask(stage.engine, "unlock", Unlock("api", "prod"), user="U2")
    assert isinstance(unlocked, str)
    assert "unlocked" in unlocked
    assert isinstance(
        await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1"), DeployPlan
    )
    again = await ask(stage.engine, "unlock", Unlock("api", "prod"), user="U2")
    assert isinstance(again, str)
    assert "not locked" in again


async def test_unreachable_api_server_is_named(stage: Stage) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configuration = type.__call__(Configuration)
    configuration.host = f"http://127.0.0.1:{port}"
    async with ApiClient(configuration) as api:
        kube = KubeClient(ApiTransport(api), KubeOptions(request_timeout_s=2))
        config = deck_config(stage.registry.host)
        engine = RolloutEngine(config, kube, stage.registry_client, stage.cluster.clock)
        with pytest.raises(Unreachable) as caught:
            await ask(engine, "check", Deploy(("api",), "237c6b9", "prod"), user="U1")
    assert caught.value.sentence().startswith(
        f"can't reach the Kubernetes API at http://127.0.0.1:{port}: "
    )


async def test_open_core_uses_the_env_context(stage: Stage, tmp_path: Path) -> None:
    path = stage.cluster.write_kubeconfig(tmp_path / "kubeconfig", context="sandbox")
    await stage.deployment(stage.push("1111111"), wait=False)
    stage.push("2222222")
    config = deck_config(stage.registry.host, kube_context="sandbox")
    settings = Settings.model_validate(
        {
            "kubeconfig": path,
            "registry_username": stage.settings.username,
            "registry_token": stage.settings.token,
        }
    )
    async with AsyncExitStack() as stack:
        engine = (await open_core(settings, stack=stack, config=config)).engine
        assert set(engine.clusters) == {"sandbox"}
        assert engine.cluster("prod") is engine.clusters["sandbox"]
        plan = await ask(engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
        assert isinstance(plan, DeployPlan), plan
