"""New images announced, end to end: a push to the sandbox Gitea → Deckhand on Slack.

Covers, webhook mode (Gitea's signed package webhook to `POST /hooks/gitea`, polling
off): one announcement with Deploy buttons; **Deploy to staging** by a deployer deploys
and reports; **Deploy to prod** opens the approval flow; a non-deployer's click is
refused privately; an arm64-only push is announced not deployable, with the buildx
fix and no buttons; a forged or unsigned webhook gets 401 and announces nothing.
Poll mode (no webhook): one announcement within one poll interval, one packages API
request per owner per poll. Two replicas (both polling, both receiving the webhook)
and a restart announce each tag exactly once. Auto-deploy to staging of a good push
succeeds; a push while staging is locked is not deployed, and goes out (named) when
the lock is lifted. Push → announcement latencies are printed (`-s`), not asserted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.app import start
from bot.delivery.webhook import HOOK_PATH
from bot.lifecycle import ReadinessState, Supervisor
from sandbox.cluster.resources import CONFIGMAPS
from sandbox.env import ARM64, CHANNEL, OUTSIDER, REQUESTER, SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from sandbox.slack.store import StoredMessage
from tests.bot.deploys.harness import DeployStack, block_text, buttons, deploy_stack

SECRET = "gitea-hook-secret-0123"
PACKAGES = "/api/v1/packages/"
API = "admin/honeydue-api"


def announcements(stack: DeployStack) -> list[StoredMessage]:
    return [
        m
        for m in stack.slack.messages(CHANNEL)
        if m.thread_ts is None and "New image" in block_text(m.blocks)
    ]


def deploys(stack: DeployStack) -> list[StoredMessage]:
    return [
        m
        for m in stack.slack.messages(CHANNEL)
        if m.thread_ts is None and "New image" not in block_text(m.blocks)
    ]


async def wait_announced(
    stack: DeployStack, count: int = 1, within_s: float = 10.0
) -> StoredMessage:
    await stack.until(lambda: len(announcements(stack)) >= count, within_s=within_s)
    return announcements(stack)[count - 1]


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[DeployStack]:
    """Webhook mode: Gitea posts to Deckhand; Deckhand does not poll."""
    async with deploy_stack(
        tmp_path / "env", packages_poll_interval_s=0, gitea_webhook_secret=SECRET
    ) as stack:
        stack.env.registry.add_webhook(stack.deckhand.http_url + HOOK_PATH, SECRET)
        yield stack


async def click(stack: DeployStack, message: StoredMessage, env: str, user: str) -> None:
    button = next(b for b in buttons(message) if b["text"]["text"] == f"Deploy to {env}")
    status, _ = await stack.sender.block_action(
        user_id=user,
        channel_id=CHANNEL,
        message_ts=message.ts,
        action_id=button["action_id"],
        value=button["value"],
        block_id="deploy-push-api",
    )
    assert status == 200


async def test_webhook_push_is_announced_and_the_buttons_run_the_deploy_flow(
    hooked: DeployStack,
) -> None:
    stack = hooked
    started = time.monotonic()
    stack.env.push("api", "abc1234", creator="alice")
    message = await wait_announced(stack)
    print(f"\nwebhook: push -> announcement {time.monotonic() - started:.3f} s")
    text = block_text(message.blocks)
    assert "`abc1234`" in text, text
    assert "*alice*" in text, text
    assert "linux/amd64" in text
    assert [b["text"]["text"] for b in buttons(message)] == ["Deploy to staging", "Deploy to prod"]

    await click(stack, message, "staging", OUTSIDER)
    refused = await stack.slack.wait_for_ephemeral(user_id=OUTSIDER)
    assert "can't deploy" in refused.text, refused.text
    assert deploys(stack) == []

    await click(stack, message, "staging", REQUESTER)
    await stack.until(lambda: len(deploys(stack)) >= 1, within_s=10)
    final = await stack.wait_final(deploys(stack)[0], within_s=60)
    assert "Succeeded" in final, final
    assert ":abc1234@sha256:" in stack.image_of("api")

    await click(stack, message, "prod", REQUESTER)
    await stack.until(lambda: len(deploys(stack)) >= 2, within_s=10)
    prod = deploys(stack)[1]
    await stack.until(
        lambda: any("Approve" in b["text"]["text"] for b in buttons(prod)), within_s=20
    )
    assert ":abc1234" not in stack.image_of("api", "honeydue")
    assert len(announcements(stack)) == 1


async def test_the_announcement_has_change_notes_against_each_environment(
    tmp_path: Path,
) -> None:
    async with deploy_stack(
        tmp_path / "env", gitea=True, packages_poll_interval_s=0, gitea_webhook_secret=SECRET
    ) as stack:
        stack.env.registry.add_webhook(stack.deckhand.http_url + HOOK_PATH, SECRET)
        newest = SERVICES[0].good[3]
        revision = stack.env.revision("api", newest)
        assert revision is not None
        stack.env.push("api", revision[:9], revision=revision)  # a new tag of that commit
        message = await wait_announced(stack)
        text = block_text(message.blocks)
        assert "Against `staging`" in text, text
        assert "Against `prod`" in text
        assert "commits* in `api`" in text, text
        # The full lists go to the announcement's thread, as on a deploy message.
        await stack.until(lambda: bool(message.replies), within_s=5)
        thread = message.replies[0].text
        assert "Against `staging`" in thread, thread
        assert "Commits this deploy brings to `api`" in thread, thread


async def test_arm64_only_push_is_not_deployable_and_has_no_buttons(hooked: DeployStack) -> None:
    hooked.env.push("api", "bad0001", platforms=[ARM64])
    message = await wait_announced(hooked)
    text = block_text(message.blocks)
    assert "Not deployable" in text, text
    assert "docker buildx build --platform linux/amd64" in text
    assert buttons(message) == []


async def post_hook(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        return r.status


async def test_a_forged_or_unsigned_webhook_gets_401_and_announces_nothing(
    hooked: DeployStack,
) -> None:
    url = hooked.deckhand.http_url + HOOK_PATH
    created = hooked.env.registry.store.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "action": "created",
        "package": {
            "id": 1,
            "owner": {"login": "admin"},
            "creator": {"login": "mallory"},
            "type": "container",
            "name": "honeydue-api",
            "version": "f0f0f0f",
            "created_at": created,
        },
    }
    body = json.dumps(payload).encode()
    forged = hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    base = {"X-Gitea-Event": "package", "Content-Type": "application/json"}
    assert await post_hook(url, body, {**base, "X-Gitea-Signature": forged}) == 401
    assert await post_hook(url, body, base) == 401
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    stale = json.dumps(
        {**payload, "package": {**payload["package"], "created_at": "2020-01-01T00:00:00Z"}}
    ).encode()
    stale_sig = hmac.new(SECRET.encode(), stale, hashlib.sha256).hexdigest()
    assert await post_hook(url, stale, {**base, "X-Gitea-Signature": stale_sig}) == 400
    # A genuine delivery afterwards still works: nothing was claimed by the refused ones.
    hooked.env.push("api", "abc1235")
    await wait_announced(hooked)
    assert len(announcements(hooked)) == 1
    assert good  # the forged body, correctly signed, would have been taken


async def test_poll_mode_announces_once_within_one_interval_one_request_per_owner(
    tmp_path: Path,
) -> None:
    interval = 1.0
    async with deploy_stack(tmp_path / "env", packages_poll_interval_s=interval) as stack:
        registry = stack.env.registry
        # The first poll sets the watermark (the seeded tags are not announced).
        await registry.wait_count(1, "GET", PACKAGES)
        started = time.monotonic()
        stack.env.push("worker", "abc2345", creator="bob")
        message = await wait_announced(stack, within_s=interval * 3 + 5)
        print(
            f"\npoll ({interval:g} s interval): push -> announcement "
            f"{time.monotonic() - started:.3f} s"
        )
        assert "`abc2345`" in block_text(message.blocks)
        before = registry.count("GET", PACKAGES)
        await registry.wait_count(before + 2, "GET", PACKAGES)
        after = registry.count("GET", PACKAGES)
        # One owner (admin) holds every service: one request per poll.
        print(f"poll: {after - before} packages API requests over {after - before} polls")
        assert len(announcements(stack)) == 1


async def test_two_replicas_and_a_restart_announce_each_tag_exactly_once(tmp_path: Path) -> None:
    async with deploy_stack(
        tmp_path / "env", packages_poll_interval_s=0.5, gitea_webhook_secret=SECRET
    ) as stack:
        second = await _replica(stack)
        for url in (stack.deckhand.http_url, second):
            stack.env.registry.add_webhook(url + HOOK_PATH, SECRET)
        registry = stack.env.registry
        await registry.wait_count(2, "GET", PACKAGES)
        stack.env.push("admin", "abc3456")
        await wait_announced(stack)
        await registry.webhooks.wait_sent(2)
        polls = registry.count("GET", PACKAGES)
        await registry.wait_count(polls + 4, "GET", PACKAGES)
        third = await _replica(stack)  # a restart: fresh process, state from the cluster
        stack.env.registry.add_webhook(third + HOOK_PATH, SECRET)
        stack.env.push("admin", "abc4567")
        await wait_announced(stack, count=2)
        polls = registry.count("GET", PACKAGES)
        await registry.wait_count(polls + 6, "GET", PACKAGES)
        tags = [block_text(m.blocks) for m in announcements(stack)]
        assert len(tags) == 2, tags
        assert "abc3456" in tags[0]
        assert "abc4567" in tags[1]


async def _replica(stack: DeployStack) -> str:
    """Another Deckhand (a replica of its own name) on the same cluster, registry and
    Slack; returns its HTTP URL."""
    supervisor = Supervisor(name="replica")
    assert stack.exits is not None
    replicas = sum(1 for t in asyncio.all_tasks() if t.get_name() == "leader-election")
    settings = stack.settings.model_copy(update={"pod_name": f"deckhand-replica-{replicas}"})
    replica = await start(
        settings,
        stack=stack.exits,
        supervisor=supervisor,
        readiness=ReadinessState(),
        clock=stack.env.cluster.clock,
    )
    stack.exits.push_async_callback(supervisor.close, grace_s=2.0)
    return replica.http_url


def queued(env: SandboxEnv, tag: str) -> bool:
    """The tag waits in an auto-deploy queue (a ConfigMap in Deckhand's namespace)."""
    maps, _ = env.cluster.store.list(
        CONFIGMAPS, "deckhand", label_selector="deckhand.dev/record=auto-deploy"
    )
    return any(tag in (m.get("data") or {}).get("pending", "") for m in maps)


def auto_staging(env: SandboxEnv, slack: LocalSlack) -> Any:
    config = yaml.safe_load(env.config_path.read_text())
    config["environments"]["staging"]["auto_deploy"] = True
    env.config_path.write_text(yaml.safe_dump(config))

    async def done() -> None:
        return None

    return done()


async def test_auto_deploy_to_staging_and_a_locked_push_waits_for_unlock(tmp_path: Path) -> None:
    async with deploy_stack(
        tmp_path / "env",
        prepare=auto_staging,
        packages_poll_interval_s=0,
        gitea_webhook_secret=SECRET,
        auto_deploy_interval_s=0.5,
    ) as stack:
        stack.env.registry.add_webhook(stack.deckhand.http_url + HOOK_PATH, SECRET)
        stack.env.push("api", "abc5678", creator="alice")
        message = await wait_announced(stack)
        assert "Auto-deploy to `staging`" in block_text(message.blocks)
        await stack.until(lambda: len(deploys(stack)) >= 1, within_s=15)
        final = await stack.wait_final(deploys(stack)[0], within_s=60)
        assert "Succeeded" in final, final
        assert "auto-deploy of a push by alice" in final
        assert ":abc5678@sha256:" in stack.image_of("api")

        await stack.command("lock api staging release freeze")
        await stack.until(lambda: len(deploys(stack)) >= 2, within_s=10)
        stack.env.push("api", "abc6789", creator="bob")
        await wait_announced(stack, count=2)
        assert queued(stack.env, "abc6789")  # queued before it was announced
        assert ":abc5678@sha256:" in stack.image_of("api")  # not deployed while locked
        assert len(deploys(stack)) == 2

        await stack.command("unlock api staging")
        await stack.until(lambda: len(deploys(stack)) >= 4, within_s=15)
        final = await stack.wait_final(deploys(stack)[3], within_s=60)
        assert "abc6789" in final, final
        assert "auto-deploy of a push by bob" in final, final
        assert "Succeeded" in final, final
        assert ":abc6789@sha256:" in stack.image_of("api")
