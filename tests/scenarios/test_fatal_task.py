"""`deckhand run` as a real process (Socket Mode, `bot.app.main`) whose front door can't
come back: the task that can't be restarted fails the process.

Covers: the app token is rotated under a running Deckhand (LocalSlack answers the old
one `invalid_auth`, as Slack answers a token it doesn't know) and Slack refreshes the
connection; the reconnect is refused for good, so the `socket-mode-watchdog` task raises
`CannotRestart`: `/readyz` turns red (503), the process exits 1 (Kubernetes restarts
the pod, which reads the new token from its Secret), its log names the task and why,
and holds no token.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from sandbox.env import ALERT_CHANNEL, CHANNEL, SandboxEnv
from sandbox.process import DeckhandProcess
from sandbox.slack import LocalSlack

pytestmark = pytest.mark.slow

STALE_S = 1.0
"""`DECKHAND_SLACK_SOCKET_STALE_S`: how long the watchdog lets no connection be open."""


async def readyz(session: aiohttp.ClientSession, url: str) -> int | None:
    """/readyz's status, None when nothing answers (the process is gone)."""
    try:
        async with session.get(url + "/readyz") as response:
            return response.status
    except aiohttp.ClientError:
        return None


async def test_a_refused_app_token_turns_readyz_red_and_exits_1(tmp_path: Path) -> None:
    async with SandboxEnv(tmp_path / "env") as env, LocalSlack() as slack:
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(ALERT_CHANNEL, "alerts")
        slack.invite_bot(CHANNEL, ALERT_CHANNEL)
        old_token = slack.app_token
        run = DeckhandProcess(
            env,
            slack,
            tmp_path / "deckhand.log",
            signing_secret="fatal-test-signing-secret",
            overrides={
                "SLACK_APP_TOKEN": old_token,
                "DECKHAND_SLACK_SOCKET_STALE_S": str(STALE_S),
                "DECKHAND_TASK_RESTART_BACKOFF_S": "[0.2]",
            },
        )
        try:
            await run.start(within_s=60)
            await slack.socket.wait_connected(within_s=10)
            assert run.process is not None
            slack.app_token = "xapp-1-A0ROTATED-0000-rotated"
            assert await slack.socket.disconnect("refresh_requested", every=True) >= 1
            statuses: list[int | None] = []
            async with asyncio.timeout(30), aiohttp.ClientSession() as session:
                while run.process.returncode is None:
                    statuses.append(await readyz(session, run.url))
                    await asyncio.sleep(0.05)
            assert run.process.returncode == 1
        finally:
            await run.close()
        assert 503 in statuses  # red before the process went
        assert 200 not in statuses[statuses.index(503) :]  # and never green again
        log = run.log_path.read_text()
        assert "socket-mode-watchdog" in log
        assert "can't be restarted" in log
        assert "invalid_auth" in log
        for secret in (old_token, slack.app_token, slack.bot_token):
            assert secret not in log
