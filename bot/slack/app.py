"""`build_app`: the slack-bolt `AsyncApp`, configured from settings, listeners registered.

Request verification (signature + 5-minute timestamp window) stays ON. Listeners run
with `process_before_response=True`: Bolt then awaits the listener inline instead of
starting an untracked task of its own; our listeners only ack and spawn through the
supervisor, so the HTTP response still goes out at once.

Bolt's single-workspace authorization calls `auth.test` once, on the first request,
and caches it; start-up verifies the token with its own `auth.test` beforehand.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import Supervisor
from bot.settings import Settings
from bot.slack.contexts import DeployBackend
from bot.slack.handlers import SlackHandlers


def uses_socket_mode(settings: Settings) -> bool:
    """Socket Mode iff an app-level token (xapp-…) is configured. Pure."""
    token = settings.slack_app_token
    return token is not None and token.get_secret_value().startswith("xapp-")


def require_signing_secret(settings: Settings) -> SecretStr | None:
    """The signing secret; `ValueError` in HTTP mode without one (Socket Mode needs none)."""
    secret = settings.slack_signing_secret
    if secret is None and not uses_socket_mode(settings):
        raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode (no xapp- app token)")
    return secret


def build_app(
    settings: Settings,
    *,
    backend: DeployBackend,
    supervisor: Supervisor,
    client: AsyncWebClient,
    command: str = "/deploy",
) -> AsyncApp:
    """The Bolt app answering `command` and `deckhand:*` actions through `backend`.

    `client` is the long-lived Web API client (`bot.slack.client.open_web_client`).
    HTTP mode needs `SLACK_SIGNING_SECRET`; Socket Mode (an app token) does not.
    """
    secret = require_signing_secret(settings)
    app = AsyncApp(
        name="deckhand",
        client=client,
        # "" (not None): Bolt would otherwise read the environment itself.
        signing_secret=secret.get_secret_value() if secret is not None else "",
        request_verification_enabled=True,
        process_before_response=True,
        logger=logging.getLogger("bot.slack.bolt"),
    )
    SlackHandlers(settings, backend=backend, supervisor=supervisor, client=client).register(
        app, command=command
    )
    return app
