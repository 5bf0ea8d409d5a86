"""No secret ever reaches a log line: a full deploy through Slack and an auth failure,
logged at DEBUG through Deckhand's real logging configuration (`bot.logs`).

The stack is the `/deploy` scenarios' one (`tests.bot.deploys.harness.deploy_stack`:
`SandboxEnv` cluster + Gitea registry, `LocalSlack`, Deckhand in HTTP mode behind signed
requests). `configure_logging` runs before Deckhand starts, with the same secrets the
stack's settings carry, writing JSON lines into a buffer; `caplog` records everything
at DEBUG too (Deckhand's loggers and its libraries': slack_sdk as `bot.slack.web`, Bolt,
aiohttp, kubernetes_asyncio). Then a good `/deploy api <tag>` runs to Succeeded, the
registry token is revoked, and the next `/deploy` is refused. Neither the captured records nor
the JSON lines contain the bot token, the signing secret, the registry token, the Gitea
token (change notes were read), the
base64 of `user:token` or any Bearer token the registry issued; the lines written while
handling each command carry its correlation id.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.logs import configure_logging, unconfigure_logging
from sandbox.env import SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import DeployStack, deploy_stack
from tests.fixtures.slack import SIGNING_SECRET, make_slack_settings

API = SERVICES[0]
SANDBOX_LOGGERS = ("sandbox",)
"""The stand-ins run in this process and log too; they are not Deckhand."""


@pytest.fixture
def json_lines(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The buffer `configure_logging` writes to (configured in the stack's `prepare`)."""
    caplog.set_level(logging.DEBUG)
    level = logging.getLogger().level
    stream = io.StringIO()
    try:
        yield stream
    finally:
        unconfigure_logging()
        logging.getLogger().setLevel(level)


@pytest.fixture
async def stack(tmp_path: Path, json_lines: io.StringIO) -> AsyncIterator[DeployStack]:
    async def configure(env: SandboxEnv, slack: LocalSlack) -> None:
        settings = make_slack_settings(
            slack,
            registry_username="admin",
            registry_token=env.token,
            gitea_token=env.gitea_token,
            log_level="DEBUG",
        )
        configure_logging(settings, stream=json_lines)

    async with deploy_stack(tmp_path / "env", prepare=configure, gitea=True) as running:
        yield running


def secrets_of(stack: DeployStack) -> dict[str, str]:
    token = stack.env.token
    found = {
        "bot token": stack.slack.bot_token,
        "signing secret": SIGNING_SECRET,
        "registry token": token,
        "gitea token": stack.env.gitea_token,
        "base64 user:token": base64.b64encode(f"admin:{token}".encode()).decode(),
    }
    for n, issued in enumerate(stack.env.registry.issued_tokens()):
        found[f"issued Bearer token #{n}"] = issued
    return found


def deckhand_lines(json_lines: io.StringIO) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    return [line for line in lines if not line["logger"].startswith(SANDBOX_LOGGERS)]


async def test_full_deploy_and_auth_failure_log_no_secret(
    stack: DeployStack, caplog: pytest.LogCaptureFixture, json_lines: io.StringIO
) -> None:
    await stack.command(f"api {API.good[2]}")
    text = await stack.wait_final(await stack.wait_message())
    assert "Succeeded" in text, text
    assert stack.env.registry.count(contains="/api/v1/repos/") > 0  # the Gitea token was used

    stack.env.registry.revoke_token(stack.env.token)
    await stack.command(f"api {API.good[3]}")
    refused = await stack.wait_final(await stack.wait_message(count=2))
    assert "Refused" in refused, refused

    secrets = secrets_of(stack)
    assert any(name.startswith("issued") for name in secrets)  # Bearer tokens were in play
    records = [r for r in caplog.records if not r.name.startswith(SANDBOX_LOGGERS)]
    assert any(r.levelno == logging.DEBUG for r in records)
    assert any(r.name == "bot.slack.web" for r in records)  # slack_sdk, at DEBUG
    logged = "\n".join(
        [r.getMessage() for r in records]
        + [r.exc_text or "" for r in records]
        + [json.dumps(line) for line in deckhand_lines(json_lines)]
    )
    leaked = [name for name, value in secrets.items() if value in logged]
    assert not leaked, f"found in the logs: {leaked}"

    # Every line about each command carries its correlation id.
    commands = [
        r for r in records if r.name == "bot.slack.handlers" and "/deploy" in r.getMessage()
    ]
    ids = {str(getattr(r, "correlation_id", "")) for r in commands}
    assert len(ids) == 2, ids
    lines = deckhand_lines(json_lines)
    for cid in ids:
        with_id = [line for line in lines if line.get("correlation_id") == cid]
        assert any(line["logger"].startswith("bot.") for line in with_id)
        assert any(line["logger"] == "bot.slack.web" for line in with_id)
