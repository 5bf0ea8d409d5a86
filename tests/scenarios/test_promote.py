"""Promotion by digest end to end: signed slash commands and clicks → real Bolt →
Deckhand → the sandbox cluster, registry and Gitea; asserted through `LocalSlack` and
the Deployments.

Covers: `/deploy promote api` (prod takes `promote_from: staging`) deploys exactly the
digest staging runs (`@sha256:` equal), its approval request says how long it ran in
staging, its restarts and who deployed it there, with change notes against prod; a
direct prod deploy of a digest never run in staging gets only Force (a plain approval
is refused), and goes through with an approver's Force and reason; a service staging
runs unpinned has nothing to promote; `/deploy promote all to prod` promotes each service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import APPROVER, REQUESTER, SERVICES
from tests.bot.approvals.harness import ApprovalStack, approval_stack
from tests.bot.deploys.harness import buttons

API = SERVICES[0]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[ApprovalStack]:
    async with approval_stack(tmp_path / "env", gitea=True, promote_from="staging") as running:
        yield running


async def _to_staging(stack: ApprovalStack, service: str, tag: str) -> None:
    count = len(stack.deckhand.deploy_messages())
    assert await stack.deckhand.command(f"{service} {tag}") == 200
    message = await stack.deckhand.wait_message(count=count + 1)
    assert "Succeeded" in await stack.deckhand.wait_final(message)


def _digest(image: str) -> str:
    return image.split("@", 1)[1]


async def test_promote_deploys_exactly_the_staging_digest(stack: ApprovalStack) -> None:
    await _to_staging(stack, "api", API.good[1])
    staging = stack.deckhand.image_of("api")
    message = await stack.request("promote api")
    text = stack.text(message)
    assert "this digest has run in `staging` for" in text
    assert "no restarts since), deployed there by <@U0ALICE001>" in text
    assert f"*3 commits* in `api` (`{API.current}` → `{API.good[1]}`)" in text
    assert [b["text"]["text"] for b in buttons(message)] == ["Approve", "Reject"]
    await stack.click(message, "deckhand:approve", user=APPROVER)
    final = await stack.deckhand.wait_final(message)
    assert "Succeeded" in final, final
    assert "this digest has run in `staging`" in final  # re-checked as the same promotion
    prod = stack.prod_image()
    assert "@sha256:" in prod
    assert _digest(prod) == _digest(staging)


async def test_a_direct_prod_deploy_never_run_in_staging_needs_force(
    stack: ApprovalStack,
) -> None:
    tag = API.good[2]
    message = await stack.request(f"api {tag} to prod")
    text = stack.text(message)
    assert "never ran this digest successfully there" in text
    assert "`/deploy promote api from staging to prod`" in text
    assert [b["text"]["text"] for b in buttons(message)] == ["Force (not promoted)", "Reject"]
    before = stack.prod_image()
    await stack.click(message, "deckhand:approve", user=APPROVER)  # a plain approval
    said = await stack.deckhand.wait_ephemeral(APPROVER)
    assert "/deploy promote api from staging to prod" in said
    assert stack.prod_image() == before
    await stack.click(message, "deckhand:force", user=APPROVER)
    await stack.deckhand.until(lambda: bool(stack.slack.workspace.views), within_s=10)
    (view,) = stack.slack.workspace.views
    await stack.submit("deckhand:force", user=APPROVER, view=view, reason="hotfix INC-7")
    final = await stack.deckhand.wait_final(message)
    assert "Succeeded" in final, final
    assert "hotfix INC-7" in final
    assert f":{tag}@sha256:" in stack.prod_image()


async def test_nothing_to_promote_from_an_unpinned_image(stack: ApprovalStack) -> None:
    assert await stack.deckhand.command("promote api to prod") == 200
    said = await stack.deckhand.wait_ephemeral(REQUESTER)
    assert "runs no pinned image" in said
    assert not stack.deckhand.deploy_messages()


async def test_promote_a_group(stack: ApprovalStack) -> None:
    for service in SERVICES:
        await _to_staging(stack, service.name, service.good[1])
    before = len(stack.deckhand.deploy_messages())
    assert await stack.deckhand.command("promote all to prod") == 200
    await stack.deckhand.wait_message(count=before + len(SERVICES))
    requests = stack.deckhand.deploy_messages()[before:]
    for message in requests:
        await stack.deckhand.until(lambda m=message: bool(buttons(m)), within_s=20)  # type: ignore[misc]
        assert "has run in `staging`" in stack.text(message)
    for service, message in zip(SERVICES, requests, strict=True):
        await stack.click(message, "deckhand:approve", user=APPROVER)
        assert "Succeeded" in await stack.deckhand.wait_final(message)
        staging = stack.deckhand.image_of(service.name)
        assert _digest(stack.prod_image(service.name)) == _digest(staging)
