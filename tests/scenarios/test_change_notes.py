"""Change notes end to end: signed slash commands → real Bolt → Deckhand → the sandbox
cluster, registry and Gitea; what Slack received is asserted through `LocalSlack`.

Covers: a staging deploy 3 commits ahead shows the 3 titles, authors and the compare
link, with the full list in its thread (also through the old-Gitea fallback walk); a
prod approval request shows them before anyone clicks; a downgrade is flagged in the
approval request; without a Gitea token, and with a Gitea slower than the deadline, the
deploy still succeeds with one line saying why there are no notes, and it did not wait
for Gitea's answer; a rollback names the commits it takes back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.env import SERVICES
from tests.bot.approvals.harness import ApprovalStack, approval_stack
from tests.bot.deploys.harness import block_text, buttons, deploy_stack

API = SERVICES[0]
AHEAD = API.good[1]  # 3 commits after API.current
TITLES = (
    "• Log request ids in access logs — Chen Wei",
    "• Fix N+1 query in the household list — Bob Ng",
    "• Add rate limiting to the login endpoint — Alice Martin",
)


@pytest.mark.parametrize("old_gitea", [False, True])
async def test_a_deploy_three_commits_ahead_shows_them(tmp_path: Path, old_gitea: bool) -> None:
    async with deploy_stack(tmp_path / "env", gitea=True) as stack:
        stack.env.registry.repos_api.old_compare = old_gitea
        assert await stack.command(f"api {AHEAD}") == 200
        message = await stack.wait_message()
        text = await stack.wait_final(message)
        assert "Succeeded" in text, text
        assert f"*3 commits* in `api` (`{API.current}` → `{AHEAD}`)" in text
        for line in TITLES:
            assert line in text
        compare = f"{stack.env.source_url('api')}/compare/{API.current}..."
        assert f"<{compare}" in text
        assert "|compare>" in text
        await stack.until(lambda: bool(message.replies), within_s=10)
        thread = message.replies[0].text
        assert thread.startswith("Commits this deploy brings to `api` (3 commits):")
        assert "Chen Wei, 2026-11-03" in thread
        if old_gitea:
            assert stack.env.registry.count("GET", "/commits") >= 1


@pytest.fixture
async def approvals(tmp_path: Path) -> AsyncIterator[ApprovalStack]:
    async with approval_stack(tmp_path / "env", gitea=True) as running:
        yield running


async def test_the_approval_request_shows_the_commits_before_anyone_clicks(
    approvals: ApprovalStack,
) -> None:
    message = await approvals.request(f"api {AHEAD} to prod")
    text = approvals.text(message)
    assert [b["text"]["text"] for b in buttons(message)] == ["Approve", "Reject"]
    assert "*3 commits* in `api`" in text
    for line in TITLES:
        assert line in text
    assert "|compare>" in text
    assert "Downgrade" not in text


async def test_a_downgrade_is_flagged_in_the_approval_request(approvals: ApprovalStack) -> None:
    message = await approvals.request(f"api {API.previous} to prod")
    text = approvals.text(message)
    assert (
        f":rotating_light: *Downgrade*: `{API.previous}` is older than the running"
        f" `{API.current}` of `api`: this deploy takes back 2 commits · <" in text
    )
    assert f"/compare/{API.previous}" in text  # new...running: what it takes back
    assert f"...{API.current}|compare>" in text
    assert "• Release api 2026.11.1 — Alice Martin" in text
    assert buttons(message)


async def test_without_a_token_the_deploy_goes_on_and_says_why_once(tmp_path: Path) -> None:
    async with deploy_stack(tmp_path / "env") as stack:
        assert await stack.command(f"api {AHEAD}") == 200
        message = await stack.wait_message()
        text = await stack.wait_final(message)
        assert "Succeeded" in text, text
        assert text.count("No change notes") == 1
        assert "no Gitea token (set `DECKHAND_GITEA_TOKEN`" in text
        assert stack.env.registry.count(contains="/api/v1/repos") == 0


async def test_a_slow_gitea_is_not_waited_for(tmp_path: Path) -> None:
    async with deploy_stack(tmp_path / "env", gitea=True, gitea_deadline_s=0.5) as stack:
        stack.env.registry.repos_api.delay_s = 3600.0
        assert await stack.command(f"api {AHEAD}") == 200
        message = await stack.wait_message()
        text = await stack.wait_final(message)
        assert "Succeeded" in text, text
        assert "No change notes: Gitea did not answer within 0.5 s." in text
        # Gitea has answered nothing yet: the deploy never waited for it
        assert stack.env.registry.count(contains="/api/v1/repos") == 0
        assert block_text(message.blocks).count("No change notes") == 1


async def test_a_rollback_says_which_commits_it_takes_back(tmp_path: Path) -> None:
    async with deploy_stack(tmp_path / "env", gitea=True) as stack:
        assert await stack.command(f"api {AHEAD}") == 200
        first = await stack.wait_message()
        assert "Succeeded" in await stack.wait_final(first)
        assert await stack.command("rollback api staging") == 200
        message = await stack.wait_message(count=2)
        text = await stack.wait_final(message)
        link = f"{stack.env.source_url('api')}/compare/{API.current}...{AHEAD}"
        assert f"This rollback takes back *3 commits* from `api` · <{link}|compare>:" in text
        for line in TITLES:
            assert line in text
        assert API.current in stack.image_of("api")
