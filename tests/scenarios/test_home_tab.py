"""The App Home tab, end to end through real Bolt and LocalSlack (which validates views):

- `app_home_opened` → `views.publish` of a valid `home` view listing every service in
  every environment with its tag and readiness (3/3), and a History button per row;
- the History button opens a modal with the service's history;
- after a deploy ends, a user who opened the tab recently gets it republished with the
  new tag.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from commands.home import HISTORY_ACTION
from sandbox.env import ENVIRONMENTS, REQUESTER, SERVICES
from tests.bot.deploys.harness import DeployStack, block_text, deploy_stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DeployStack]:
    async with deploy_stack(tmp_path / "env") as running:
        yield running


def home_of(stack: DeployStack, user: str) -> dict | None:
    return stack.slack.workspace.home_views.get(user)


async def test_home_lists_every_service_in_every_env_and_refreshes(stack: DeployStack) -> None:
    status, _ = await stack.sender.app_home_opened(user_id=REQUESTER)
    assert status == 200
    await stack.until(lambda: home_of(stack, REQUESTER) is not None, within_s=15)
    view = home_of(stack, REQUESTER)
    assert view is not None
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    text = block_text(view["blocks"])
    for env, namespace in ENVIRONMENTS.items():
        assert f"{env} ({namespace})" in text
    sections = [b for b in view["blocks"] if b["type"] == "section"]
    assert len(sections) == len(ENVIRONMENTS) * len(SERVICES)
    for service in SERVICES:
        assert f"*{service.name}* `{service.current}`" in text
    assert "1/1 ready" in text or "3/3 ready" in text
    buttons = [b["accessory"] for b in sections]
    assert all(b["action_id"].startswith(HISTORY_ACTION) for b in buttons)

    # History answers, in a modal.
    await stack.sender.block_action(
        user_id=REQUESTER, channel_id="", message_ts="", action_id=f"{HISTORY_ACTION}:staging:api",
        value="api staging", block_id="home-staging-api",
    )  # fmt: skip
    await stack.until(lambda: bool(stack.slack.workspace.views), within_s=15)
    modal = stack.slack.workspace.views[-1]
    assert modal["type"] == "modal"
    assert "api" in json.dumps(modal)

    # A deploy ends: the tab is republished with the new tag.
    new = SERVICES[0].good[1]
    await stack.command(f"api {new}")
    message = await stack.wait_message()
    await stack.wait_final(message)
    await stack.until(
        lambda: f"`{new}`" in block_text((home_of(stack, REQUESTER) or {}).get("blocks", [])),
        within_s=30,
    )
