"""`deckhand run`: start Deckhand on Slack and keep it running until SIGTERM/SIGINT.

Start-up, in order, each piece entered into one `AsyncExitStack` (closed in reverse):
1. the Slack Web API client (one HTTP session), token checked with `auth.test`;
2. the deploy backend (`open_backend`, given the Slack client; it opens its own
   cluster/registry clients on the same stack): `deckhand run` uses
   `bot.alerts.runtime.open_backend_with_leader` (leader election, leader-only image-pull
   alerts, then `bot.deploys.runtime.open_deploy_backend` gated on leadership);
   `run()`/`start()` default to the
   help-only stand-in (`open_help_only_backend`) so the plumbing runs without a cluster;
3. the Bolt app;
4. the HTTP server on `DECKHAND_HTTP_LISTEN` (`/healthz`, `/readyz`, `/metrics`, the
   backend's `http_hooks` such as `/hooks/gitea`, and in HTTP mode `/slack/events`);
5. Socket Mode, when `SLACK_APP_TOKEN` (xapp-…) is set: `bot.slack.socket_keeper`
   (a watchdog rebuilds a stale connection; /readyz is red while none is open).
Then readiness turns READY and `bot.lifecycle.run_until_signal` runs the shutdown path.

`main` configures logging (`bot.logs`: JSON lines, correlation ids, redaction) and
builds the one `bot.metrics.Metrics`, handed to the Slack client, the HTTP server and
(through `open_backend_with_leader`) the leader, watches and deploy outcomes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.runtime import open_backend_with_leader
from bot.http import build_http_app, parse_listen, serve_http
from bot.lifecycle import ReadinessState, Supervisor, run_until_signal
from bot.logs import configure_logging
from bot.metrics import Metrics, deckhand_version
from bot.settings import Settings
from bot.slack.app import build_app, uses_socket_mode
from bot.slack.client import SlackError, open_web_client, slack_call
from bot.slack.placeholder import HelpOnlyBackend
from bot.slack.seam import DeployBackend
from bot.slack.socket_keeper import SocketModeKeeper

logger = logging.getLogger(__name__)

BackendFactory = Callable[
    [Settings, AsyncExitStack, Supervisor, AsyncWebClient], Awaitable[DeployBackend]
]


async def open_help_only_backend(
    settings: Settings, stack: AsyncExitStack, supervisor: Supervisor, client: AsyncWebClient
) -> DeployBackend:
    return HelpOnlyBackend()


@dataclass
class Runtime:
    """What `start` opened: the pieces tests and the shutdown path need."""

    client: AsyncWebClient
    app: AsyncApp
    backend: DeployBackend
    http_url: str
    socket_mode: SocketModeKeeper | None

    async def stop_accepting(self) -> None:
        """Stop taking new requests: disconnect Socket Mode (HTTP mode: the supervisor
        refuses new work and handlers answer "restarting")."""
        if self.socket_mode is not None:
            keeper, self.socket_mode = self.socket_mode, None
            await keeper.close()


async def start(
    settings: Settings,
    *,
    stack: AsyncExitStack,
    supervisor: Supervisor,
    readiness: ReadinessState,
    open_backend: BackendFactory = open_help_only_backend,
    metrics: Metrics | None = None,
) -> Runtime:
    """Open everything (see the module docstring) on `stack`; readiness stays STARTING.
    With `metrics`, Slack failures are counted and `/metrics` serves them."""
    client = await stack.enter_async_context(open_web_client(settings, observer=metrics))
    identity = await slack_call("auth.test", client.auth_test())
    logger.info("slack: connected as %s in %s", identity.get("user"), identity.get("team"))
    backend = await open_backend(settings, stack, supervisor, client)
    app = build_app(settings, backend=backend, supervisor=supervisor, client=client)
    socket = uses_socket_mode(settings)
    secret = settings.slack_signing_secret
    http_app = build_http_app(
        readiness=readiness,
        bolt_app=None if socket else app,
        metrics=metrics,
        signing_secret=secret.get_secret_value() if secret is not None else None,
        # The backend's own routes (Gitea's package webhook), in Socket Mode too.
        hooks=getattr(backend, "http_hooks", None),
    )
    host, port = parse_listen(settings.http_listen)
    http_url = await stack.enter_async_context(serve_http(http_app, host=host, port=port))
    logger.info("http: listening on %s (%s mode)", http_url, "socket" if socket else "http")
    runtime = Runtime(client=client, app=app, backend=backend, http_url=http_url, socket_mode=None)
    if socket:
        assert settings.slack_app_token is not None
        keeper = SocketModeKeeper(
            app,
            app_token=settings.slack_app_token.get_secret_value(),
            web_client=client,
            stale_after_s=settings.slack_socket_stale_s,
            connect_timeout_s=settings.slack_timeout_s * 3,
            on_rebuild=metrics.socket_rebuilt if metrics is not None else lambda reason: None,
        )
        # Registered before connecting: a failed connect still closes the client's session.
        stack.push_async_callback(runtime.stop_accepting)
        runtime.socket_mode = keeper
        readiness.require("Slack connection", keeper.is_open)
        await keeper.connect()
        supervisor.spawn(keeper.watch(), name="socket-mode-watchdog")
        logger.info("slack: socket mode connected")
    return runtime


async def run(
    settings: Settings,
    *,
    open_backend: BackendFactory = open_help_only_backend,
    stop: asyncio.Event | None = None,
    metrics: Metrics | None = None,
) -> str:
    """Run until SIGTERM/SIGINT (or `stop`); returns what stopped it."""
    supervisor = Supervisor()
    readiness = ReadinessState()
    async with AsyncExitStack() as stack:
        try:
            runtime = await start(
                settings,
                stack=stack,
                supervisor=supervisor,
                readiness=readiness,
                open_backend=open_backend,
                metrics=metrics,
            )
            return await run_until_signal(
                supervisor=supervisor,
                readiness=readiness,
                grace_s=settings.shutdown_grace_s,
                stop_accepting=runtime.stop_accepting,
                stop=stop,
            )
        finally:
            # Before the stack closes the clients the tasks use (a no-op after a clean stop).
            await supervisor.close(grace_s=settings.shutdown_grace_s)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deckhand run", description="Run Deckhand on Slack.")
    parser.add_argument("--config", type=Path, help="the YAML config file (env DECKHAND_CONFIG)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    settings = Settings.from_env()
    if args.config is not None:
        settings = settings.model_copy(update={"config": args.config})
    configure_logging(settings)
    metrics = Metrics(version=deckhand_version())
    open_backend = partial(open_backend_with_leader, metrics=metrics)
    try:
        asyncio.run(run(settings, open_backend=open_backend, metrics=metrics))
    except (SlackError, ValueError) as e:
        # Start-up problems an operator fixes in the configuration: one line, no traceback.
        logger.error("deckhand cannot start: %s", e)
        return 1
    return 0
