"""`/deploy restart` and rollbacks that stay rolled back, end to end through real Bolt.

Covers: `restart api staging` replaces every pod (same image, new ReplicaSet) and the
one message reports success; after `rollback api staging` by alice, the message says
the service stays locked, carol's deploy is refused naming the rollback lock, and
succeeds after `unlock`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.cluster.resources import PODS
from sandbox.env import REQUESTER, SERVICES
from tests.bot.deploys.harness import CAROL, DeployStack, deploy_stack

API = SERVICES[0]
NS = "honeydue-staging"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


def _api_pods(stack: DeployStack) -> set[str]:
    pods, _ = stack.env.cluster.store.list(PODS, NS, label_selector="app=api")
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


async def test_restart_replaces_every_pod_and_reports_success(stack: DeployStack) -> None:
    before_image = stack.image_of("api")
    before = _api_pods(stack)
    assert before
    await stack.command("restart api staging -- pull secret renewed")
    message = await stack.wait_message()
    text = await stack.wait_final(message, within_s=60)
    assert "Restart api" in text, text
    assert "Succeeded" in text, text
    assert stack.image_of("api") == before_image
    after = _api_pods(stack)
    assert len(after) == len(before)
    assert not after & before


async def test_after_a_rollback_another_users_deploy_waits_for_unlock(
    stack: DeployStack,
) -> None:
    await stack.command(f"api {API.good[1]}")
    assert "Succeeded" in await stack.wait_final(await stack.wait_message())
    await stack.command("rollback api staging -- bad release", user=REQUESTER)
    text = await stack.wait_final(await stack.wait_message(count=2))
    assert "Succeeded" in text, text
    assert f"rolled back from `{API.good[1]}`" in text
    assert "/deploy unlock api staging" in text

    await stack.command(f"api {API.good[1]}", user=CAROL)
    refused = await stack.wait_final(await stack.wait_message(count=3))
    assert "Refused" in refused, refused
    assert f"rolled back from `{API.good[1]}`" in refused, refused

    await stack.command("unlock api staging", user=CAROL)
    await stack.wait_message(count=4)
    await stack.command(f"api {API.good[1]}", user=CAROL)
    again = await stack.wait_final(await stack.wait_message(count=5))
    assert "Succeeded" in again, again
    assert API.good[1] in stack.image_of("api")
