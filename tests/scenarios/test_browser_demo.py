"""The demo page in headless Chromium: a visitor's whole session, clicking what they see.

Covers, through the page only (Playwright driving Debian's /usr/bin/chromium, nothing
downloaded): a staging deploy typed as the requester reaches "succeeded"; a prod deploy
typed as the requester, her own Approve refused, the approver's Approve taking it to
"succeeded"; then the registry token revoked and a pod restarted from the side panel,
the pod failing to pull and Deckhand's pull alert appearing in #deploy-alerts.
Screenshots of every step go to `artifacts/`.

Every step is required: a deploy backend, approval or alert that doesn't show fails
the test (with a screenshot of what the page showed instead).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Locator, Page, async_playwright, expect

from sandbox.demo.run import Demo, open_demo
from sandbox.env import APPROVER, REQUESTER

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APPROVE = re.compile(r"^\s*Approve\b")
SUCCEEDED = re.compile("succeeded", re.IGNORECASE)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium (never a downloaded one); also makes the screenshot folder."""
    if not CHROMIUM.exists():
        pytest.skip(
            "!!! BROWSER TESTS SKIPPED: /usr/bin/chromium is missing "
            "(apt-get install -y chromium; .ci/run installs it) !!!"
        )
    ARTIFACTS.mkdir(exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless Chromium with a fresh profile directory (`--user-data-dir`)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1440, "height": 900},
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with open_demo(tmp_path / "sandbox", speed=20) as running:
        yield running


@pytest.fixture
async def page(browser: BrowserContext, demo: Demo) -> AsyncIterator[Page]:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(demo.url)
    await expect(page.locator("#live")).to_have_text("● live")
    yield page
    await page.close()
    assert errors == [], errors


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def act_as(page: Page, user_id: str) -> None:
    await page.locator(f"li.user[data-user='{user_id}']").click()
    await expect(page.locator("li.user.active")).to_have_attribute("data-user", user_id)


async def type_command(page: Page, text: str) -> Locator:
    """Type a command and wait for Deckhand's first answer; returns that message."""
    before = await page.locator("#messages .msg").count()
    await page.locator("#composer-input").fill(text)
    await page.locator("#composer-input").press("Enter")
    answers = page.locator("#messages .msg:not(.command)")
    await expect(page.locator("#messages .msg")).not_to_have_count(before)
    await expect(answers.last).to_be_visible()
    answer = page.locator("#messages .msg:not(.command)", has=page.locator(".meta")).last
    await expect(answer).to_be_visible(timeout=15_000)
    return answer


def deploy_message(page: Page, tag: str) -> Locator:
    """The channel message (not ephemeral) about deploying `tag`."""
    return page.locator("#messages .msg:not(.command):not(.ephemeral)", has_text=tag).last


async def test_staging_deploy_typed_in_the_page_succeeds(page: Page, demo: Demo) -> None:
    tag = demo.env.seed()["services"]["api"]["good"][1]
    await act_as(page, REQUESTER)
    await type_command(page, f"/deploy api {tag}")
    await shot(page, "staging-01-requested")
    message = deploy_message(page, tag)
    await expect(message).to_contain_text(SUCCEEDED, timeout=60_000)
    await shot(page, "staging-02-succeeded")
    replies = message.locator(".replies-link")  # Deckhand threads its details under it
    await expect(replies).to_be_visible(timeout=15_000)
    await replies.click()
    await expect(page.locator("#thread")).to_be_visible()
    await expect(page.locator("#thread-messages .msg").nth(1)).to_be_visible()
    await shot(page, "staging-03-thread")
    api = page.locator(".deployment[data-namespace='honeydue-staging'][data-name='api']")
    await expect(api.locator(".tag")).to_have_text(re.compile(tag), timeout=15_000)


async def test_prod_deploy_approved_then_token_revoked_raises_a_pull_alert(
    page: Page, demo: Demo
) -> None:
    tag = demo.env.seed()["services"]["api"]["good"][2]

    # 1. Alice asks for prod: Deckhand checks the image, then asks for an approval.
    await act_as(page, REQUESTER)
    await type_command(page, f"/deploy api {tag} to prod")
    await shot(page, "prod-01-requested")
    message = deploy_message(page, tag)
    approve = message.locator(".bk-button", has_text=APPROVE)
    await expect(approve).to_be_visible(timeout=20_000)
    # 2. Alice approves her own deploy: refused, only she sees why.
    await click_confirming(page, approve)
    refusal = page.locator("#messages .msg.ephemeral").last
    await expect(refusal).to_contain_text(re.compile("someone else|approve", re.I))
    await shot(page, "prod-02-self-approval-refused")
    # 3. Bob approves: the same message goes on to succeeded.
    await act_as(page, APPROVER)
    await click_confirming(page, deploy_message(page, tag).locator(".bk-button", has_text=APPROVE))
    await expect(deploy_message(page, tag)).to_contain_text(SUCCEEDED, timeout=60_000)
    await shot(page, "prod-03-approved-succeeded")

    # 4. The pods' registry token is revoked from the side panel.
    await page.locator("#revoke-token").click()
    await expect(page.locator("#token-state")).to_have_text("revoked")
    await shot(page, "prod-04-token-revoked")

    # 5. A prod api pod is restarted: its replacement cannot pull.
    api = page.locator(".deployment[data-namespace='honeydue'][data-name='api']")
    first_pod = api.locator(".pod").first
    await first_pod.hover()
    await first_pod.locator(".restart-pod").click()
    failing = api.locator(".pod .pod-state", has_text=re.compile("ErrImagePull|ImagePullBackOff"))
    await expect(failing.first).to_be_visible(timeout=30_000)
    await shot(page, "prod-05-pod-cannot-pull")

    # 6. Deckhand's alert appears in #deploy-alerts.
    alerts = page.locator("li.channel[data-channel='C0ALERTS01']")
    await alerts.click()
    alert = page.locator("#messages .msg:not(.command)")
    try:
        await expect(alert.first).to_be_visible(timeout=60_000)
    finally:
        await shot(page, "prod-06-pull-alert")
    await expect(alert.first).to_contain_text(re.compile("pull|401|token|credential", re.I))


async def click_confirming(page: Page, button: Locator) -> None:
    """Click a Block Kit button; accept its confirm dialog when it has one."""
    await button.click()
    dialog = page.locator("#confirm")
    if await dialog.is_visible():
        await page.locator("#confirm-ok").click()
