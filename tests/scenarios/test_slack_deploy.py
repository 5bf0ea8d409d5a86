"""`/deploy` end to end: signed slash commands → real Bolt → the deploy backend → the
sandbox cluster and registry; what Slack received is asserted through `LocalSlack`.

Covers: a good deploy (acked before the rollout ends, ONE message edited to success,
details in its thread, the Deployment pinned to `repo:tag@sha256:…`, the Slack call
budget: two posts, and chat.update only for a changed state, paced); a
missing tag (named, existing tags suggested, cluster untouched); an arm64-only image
refused before any patch; a tag deleted after the check (pull failure: cause and a
Roll back button: refused to an outsider, rolls back for a deployer); `api,worker` in
one message; 429 on chat.update still delivers the final state.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import AMD64, CHANNEL, OUTSIDER, REQUESTER, SERVICES
from sandbox.registry.images import BuiltImage, build_image
from tests.bot.deploys.harness import DeployStack, block_text, buttons, deploy_stack, is_final

API = SERVICES[0]
SERVICE_NAMES = tuple(s.name for s in SERVICES)


def _shown(blocks: list[dict[str, object]]) -> str:
    """What a state of the message says, its running elapsed time aside."""
    return re.sub(r"\(\d+ s\)", "", block_text(blocks))


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


def _deploy_calls(stack: DeployStack) -> list[str]:
    counted = ("chat.postMessage", "chat.update", "chat.postEphemeral", "usergroups.users.list")
    return [c.method for c in stack.slack.calls if c.method in counted]


async def test_good_tag_is_one_message_edited_to_success(tmp_path: Path) -> None:
    # A slower sandbox (speed 8: the rollout takes seconds of real time) so the message
    # shows the intermediate states a person would see, and the budget counts them.
    async with deploy_stack(tmp_path / "env", speed=8) as stack:
        tag = API.good[2]
        status = await stack.command(f"api {tag}")
        assert status == 200
        # Acked before the work, by event order: the rollout (seconds long at this
        # speed) had not ended when the ack came back.
        assert not any(is_final(m) for m in stack.deploy_messages())

        message = await stack.wait_message()
        text = await stack.wait_final(message)

        assert "Succeeded" in text, text
        assert len(stack.deploy_messages()) == 1
        assert [t.split(": ")[-1] for t, _ in message.history][:1] == ["Requested"]
        image = stack.image_of("api")
        assert image.startswith(f"{stack.env.repository('api')}:{tag}@sha256:"), image
        assert "sha256:" in text
        assert "linux/amd64" in text
        await stack.until(lambda: bool(message.replies), within_s=5)  # details: the thread
        assert tag in message.replies[0].text
        assert not buttons(message)
        # The Slack call budget, derived from what the deploy did rather than counted on
        # the clock: one message and one thread reply posted, nothing else; chat.update
        # only for a state that differs from the one shown (not for the elapsed time),
        # and at most one per interval from the post to the verdict.
        calls = _deploy_calls(stack)
        assert calls.count("chat.postMessage") == 2, calls
        assert set(calls) == {"chat.postMessage", "chat.update"}, calls
        (post,) = [
            c for c in stack.slack.calls_to("chat.postMessage") if "thread_ts" not in c.params
        ]
        updates = stack.slack.calls_to("chat.update")
        shown = [_shown(post.params["blocks"]), *(_shown(c.params["blocks"]) for c in updates)]
        assert all(a != b for a, b in itertools.pairwise(shown)), shown
        span_s = updates[-1].at - post.at
        interval = stack.settings.slack_update_interval_s
        assert len(updates) <= span_s / (interval * 0.9), (len(updates), span_s)


async def test_missing_tag_is_named_with_suggestions_and_changes_nothing(
    stack: DeployStack,
) -> None:
    before = stack.image_of("api")
    await stack.command("api 0000000")
    message = await stack.wait_message()
    text = await stack.wait_final(message)
    assert "Refused" in text
    assert "0000000" in text
    assert any(tag in text for tag in API.good), text  # existing tags suggested
    assert stack.image_of("api") == before
    assert not buttons(message)


async def test_arm64_only_image_is_refused_before_any_patch(stack: DeployStack) -> None:
    before = stack.image_of("api")
    await stack.command(f"api {API.arm64_only}")
    text = await stack.wait_final(await stack.wait_message())
    assert "Refused" in text
    assert "amd64" in text, text
    assert stack.image_of("api") == before


@pytest.mark.parametrize(
    ("targets", "services"), [("api,worker", ("api", "worker")), ("all", SERVICE_NAMES)]
)
async def test_several_services_share_one_message(
    stack: DeployStack, targets: str, services: tuple[str, ...]
) -> None:
    # The seed tags each service differently: push one tag to all, as a monorepo CI would.
    tag = "abcdef1"
    for name in SERVICE_NAMES:
        repo = f"admin/honeydue-{name}"
        stack.env.registry.seed(repo, tag, _image(repo + tag))
    await stack.command(f"{targets} {tag}")
    message = await stack.wait_message()
    text = await stack.wait_final(message)
    assert "Succeeded" in text, text
    assert len(stack.deploy_messages()) == 1
    for name in SERVICE_NAMES:
        assert (f"`{name}`" in text) is (name in services), text
        assert (tag in stack.image_of(name)) is (name in services)


async def test_rate_limited_updates_still_deliver_the_final_state(stack: DeployStack) -> None:
    stack.slack.fail_next("chat.update", status=429, retry_after=1, times=2)
    await stack.command(f"api {API.good[1]}")
    message = await stack.wait_message()
    text = await stack.wait_final(message)
    assert "Succeeded" in text
    assert API.good[1] in stack.image_of("api")


async def test_tag_deleted_after_the_check_fails_with_cause_and_rollback(
    stack: DeployStack,
) -> None:
    tag = "badc0de"
    repo = "admin/honeydue-api"
    stack.env.registry.seed(repo, tag, _image(repo + tag))
    before = stack.image_of("api")
    await stack.command(f"api {tag}")
    # patched: the check is behind us
    await stack.env.cluster.store.wait_until(lambda: tag in stack.image_of("api"), within_s=20)
    _forget_tag(stack, repo, tag)

    message = await stack.wait_message()
    text = await stack.wait_final(message)
    assert "Failed" in text, text
    assert "What to do" in text
    (button,) = buttons(message)
    assert button["action_id"] == "deckhand:rollback"
    await stack.until(lambda: bool(message.replies), within_s=5)

    deploy_id = button["value"]
    await stack.sender.block_action(  # an outsider's click: refused, nothing happens
        user_id=OUTSIDER,
        channel_id=CHANNEL,
        message_ts=message.ts,
        action_id="deckhand:rollback",
        value=deploy_id,
    )
    assert "can't roll back" in await stack.wait_ephemeral(OUTSIDER)
    assert len(stack.deploy_messages()) == 1
    await stack.sender.block_action(
        user_id=REQUESTER,
        channel_id=CHANNEL,
        message_ts=message.ts,
        action_id="deckhand:rollback",
        value=deploy_id,
    )
    rollback = await stack.wait_message(count=2)
    rolled = await stack.wait_final(rollback)
    assert "Succeeded" in rolled, rolled
    assert stack.image_of("api") == before


def _image(salt: str) -> BuiltImage:
    return build_image(platforms=[AMD64], labels={}, salt=salt)


def _forget_tag(stack: DeployStack, repo: str, tag: str) -> None:
    """Delete the tag AND its manifest (a pinned digest would still pull otherwise)."""
    stored = stack.env.registry.store.repo(repo)
    assert stored is not None
    digest = stored.tags.pop(tag)
    stored.tag_created.pop(tag, None)
    stored.manifests.pop(digest, None)
