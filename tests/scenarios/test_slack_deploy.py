"""`/deploy` end to end: signed slash commands → real Bolt → the deploy backend → the
sandbox cluster and registry; what Slack received is asserted through `LocalSlack`.

Covers: a good deploy (ack within 3 s, ONE message edited to success, details in its
thread, the Deployment pinned to `repo:tag@sha256:…`, the Slack call budget); a
missing tag (named, existing tags suggested, cluster untouched); an arm64-only image
refused before any patch; a tag deleted after the check (pull failure: cause and a
Roll back button, which rolls back); `api,worker` in one message; 429 on chat.update.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import SERVICES
from tests.bot.deploys.harness import DeployStack, buttons, deploy_stack

API = SERVICES[0]
WORKER = SERVICES[1]
SLACK_CALL_BUDGET = 6
"""Web API calls one successful single-service deploy may cost (post, updates, final,
thread): the figure the benchmark reports."""


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


def _deploy_calls(stack: DeployStack) -> list[str]:
    counted = ("chat.postMessage", "chat.update", "chat.postEphemeral", "usergroups.users.list")
    return [c.method for c in stack.slack.calls if c.method in counted]


async def test_good_tag_is_one_message_edited_to_success(stack: DeployStack) -> None:
    tag = API.good[2]
    started = time.monotonic()
    status = await stack.command(f"api {tag}")
    assert status == 200
    assert time.monotonic() - started < 3.0

    message = await stack.wait_message()
    text = await stack.wait_final(message)

    assert "Succeeded" in text, text
    assert len(stack.deploy_messages()) == 1
    image = stack.image_of("api")
    assert image.startswith(f"{stack.env.repository('api')}:{tag}@sha256:"), image
    assert "sha256:" in text
    assert "linux/amd64" in text
    await stack.until(lambda: bool(message.replies), within_s=5)  # details: the thread
    assert tag in message.replies[0].text
    assert not buttons(message)
    calls = _deploy_calls(stack)
    assert len(calls) <= SLACK_CALL_BUDGET, calls
