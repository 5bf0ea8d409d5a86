"""`deckhand sandbox`: the whole demo in one process, on loopback, until interrupted.

`open_demo(directory, listen=…)` enters, in order, on one `AsyncExitStack` (closed in
reverse):

1. the seeded sandbox (`SandboxEnv`: cluster + registry, files in `directory`);
2. the local Slack (`LocalSlack`) with the demo users, their user groups and channels;
3. Deckhand itself (`bot.app.run`, what `deckhand run` runs, in HTTP mode — nothing
   demo-specific: only its settings point at the stand-ins) in one named task, stopped
   through its `stop` event (bounded grace); it gets its own registry token, so revoking
   the pods' pull token breaks pulls only, and the registry's package webhook points at
   its `/hooks/gitea` (new images announced);
4. the `SlackSender` that signs requests to Deckhand's `/slack/events`;
5. the page's server (`DemoServer`) on `listen` (a loopback address; port 0 = any).

`Demo.url` is the page; `Demo.deckhand` finishes when Deckhand stops (it handles
SIGINT/SIGTERM itself, which is how Ctrl-C ends `serve_demo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot.app import run
from bot.http import serve_http
from bot.settings import Settings
from commands.config import DeckhandConfig
from sandbox.demo.server import DemoServer
from sandbox.demo.workspace_view import DEMO_CHANNELS, DEMO_USERS
from sandbox.env import APPROVER, APPROVERS_GROUP, DEVS_GROUP, OWNER, REQUESTER, SandboxEnv
from sandbox.slack.sender import SlackSender
from sandbox.slack.web_api import LocalSlack

logger = logging.getLogger(__name__)

DECKHAND_GRACE_S = 3.0
# What `deckhand run` runs (`bot.app.main`); a test keeps the two the same.
DECKHAND = run


class DemoError(RuntimeError):
    """The demo cannot start (bad `--listen`, Deckhand failed to start): one line."""


def parse_loopback(listen: str) -> tuple[str, int]:
    """`host:port` → (host, port); refuses a non-loopback host (the page acts as anyone)."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit():
        raise DemoError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise DemoError(f"--listen {listen!r}: the demo only listens on loopback (127.0.0.1)")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _seed_slack(slack: LocalSlack, config: DeckhandConfig) -> None:
    """The demo workspace: people, groups, channels, and the bot invited (`/invite
    @deckhand`) to every channel the config posts in, as a team's setup step 1 does."""
    for user in DEMO_USERS:
        slack.add_user(user.id, user.name, real_name=user.real_name)
    slack.add_usergroup(DEVS_GROUP, "honeydue-devs", [REQUESTER, APPROVER])
    slack.add_usergroup(APPROVERS_GROUP, "honeydue-leads", [APPROVER])
    for channel_id, name in DEMO_CHANNELS.items():
        slack.add_channel(channel_id, name)
    slack.invite_bot(*config.bot_channels())


def deckhand_settings(
    env: SandboxEnv,
    slack: LocalSlack,
    *,
    signing_secret: str,
    registry_token: str,
    listen: str,
    webhook_secret: str = "",
) -> Settings:
    """Deckhand's settings for the sandbox, independent of this process's environment."""
    values: dict[str, Any] = {
        "config": env.config_path,
        "registry_username": OWNER,
        "registry_token": registry_token,
        "insecure_registries": [env.registry.host],
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": signing_secret,
        "slack_app_token": None,
        "slack_api_url": slack.api_url,
        "slack_update_interval_s": 0.5,
        "http_listen": listen,
        "shutdown_grace_s": DECKHAND_GRACE_S,
        "kubeconfig": env.kubeconfig,
        "gitea_token": env.gitea_token,  # change notes from the sandbox Gitea
        "gitea_webhook_secret": webhook_secret,  # new images: Gitea's package webhook
    }
    # model_validate does not read environment variables: the demo is the same everywhere.
    return Settings.model_validate(values)


@dataclass
class Demo:
    """A running demo (see the module docstring)."""

    env: SandboxEnv
    slack: LocalSlack
    server: DemoServer
    url: str
    deckhand_url: str
    deckhand: asyncio.Task[str]


async def _wait_ready(url: str, deckhand: asyncio.Task[str], *, within_s: float) -> None:
    """Until Deckhand's `/readyz` answers 200; raises DemoError if it stops or times out."""
    async with aiohttp.ClientSession() as session:
        try:
            async with asyncio.timeout(within_s):
                while not deckhand.done():
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"{url}/readyz") as response:
                            if response.status == 200:
                                return
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise DemoError(f"Deckhand was not ready within {within_s:g} s") from None
    error = deckhand.exception()
    raise DemoError(f"Deckhand stopped during start-up: {error or deckhand.result()}") from error


async def _stop_deckhand(deckhand: asyncio.Task[str], stop: asyncio.Event) -> None:
    stop.set()
    try:
        async with asyncio.timeout(DECKHAND_GRACE_S * 3):
            await asyncio.wait({deckhand})
    except TimeoutError:
        logger.warning("demo: Deckhand did not stop within its grace period; cancelling")
        deckhand.cancel()
        await asyncio.wait({deckhand}, timeout=DECKHAND_GRACE_S)
        if not deckhand.done():
            logger.error("demo: Deckhand ignored its cancellation")
            return
    if not deckhand.cancelled() and deckhand.exception() is not None:
        logger.error("demo: Deckhand failed", exc_info=deckhand.exception())


@asynccontextmanager
async def open_demo(
    directory: Path,
    *,
    listen: str = "127.0.0.1:0",
    speed: float = 10.0,
    ready_timeout_s: float = 30.0,
) -> AsyncIterator[Demo]:
    """Start everything (see the module docstring); yields the running `Demo`."""
    host, port = parse_loopback(listen)
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(
            SandboxEnv(directory, speed=speed, auto_deploy=("staging",))
        )
        slack = await stack.enter_async_context(
            LocalSlack(bot_token="xoxb-" + secrets.token_hex(12))
        )
        _seed_slack(slack, DeckhandConfig.model_validate(env.config()))
        registry_token = "gta_" + secrets.token_hex(20)
        env.registry.add_user(OWNER, registry_token)  # Deckhand's own token
        signing_secret = secrets.token_hex(16)
        deckhand_host = "127.0.0.1"
        deckhand_port = _free_port(deckhand_host)
        webhook_secret = secrets.token_hex(16)
        settings = deckhand_settings(
            env,
            slack,
            signing_secret=signing_secret,
            registry_token=registry_token,
            listen=f"{deckhand_host}:{deckhand_port}",
            webhook_secret=webhook_secret,
        )
        stop = asyncio.Event()
        deckhand = asyncio.create_task(DECKHAND(settings, stop=stop), name="demo-deckhand")
        stack.push_async_callback(_stop_deckhand, deckhand, stop)
        deckhand_url = f"http://{deckhand_host}:{deckhand_port}"
        await _wait_ready(deckhand_url, deckhand, within_s=ready_timeout_s)
        env.registry.add_webhook(f"{deckhand_url}/hooks/gitea", webhook_secret)
        sender = await stack.enter_async_context(
            SlackSender(f"{deckhand_url}/slack/events", signing_secret, slack=slack)
        )
        server = DemoServer(env=env, slack=slack, sender=sender)
        url = await stack.enter_async_context(
            serve_http(server.app(), host=host, port=port, shutdown_timeout_s=2.0)
        )
        yield Demo(
            env=env,
            slack=slack,
            server=server,
            url=url + "/",
            deckhand_url=deckhand_url,
            deckhand=deckhand,
        )


async def serve_demo(directory: Path, *, listen: str, speed: float) -> int:
    """`deckhand sandbox`: print the page's URL, run until Deckhand stops (Ctrl-C)."""
    async with open_demo(directory, listen=listen, speed=speed) as demo:
        print(f"Deckhand sandbox: open {demo.url}   (Ctrl-C stops it)", flush=True)
        # No deadline: the demo runs until Deckhand stops (Ctrl-C, SIGTERM, or a crash).
        await asyncio.wait({demo.deckhand})
    # A crash was logged with its traceback by the shutdown path.
    return 1 if demo.deckhand.cancelled() or demo.deckhand.exception() else 0
