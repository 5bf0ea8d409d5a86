"""Socket Mode that stays alive: one connection, watched, rebuilt when it goes stale.

    keeper = SocketModeKeeper(app, app_token=…, web_client=client, stale_after_s=30,
                              connect_timeout_s=30, on_rebuild=metrics.socket_rebuilt)
    await keeper.connect()                       # start-up: the first connection
    supervisor.keep(keeper.watch, name="socket-mode-watchdog")
    keeper.is_open()                             # /readyz: red while False
    await keeper.close()                         # shutdown

slack_sdk's aiohttp client reconnects by itself when its own monitor notices a dead
session, but that monitor and the message receiver are tasks of their own: when they
hang or die (a connection that stays open but deaf after an idle reconnect,
python-slack-sdk#1110, bolt-python#1529), nothing notices. The watchdog is a separate
supervised task: every `stale_after_s / 3` it pings the current session itself (the
client's receiver records the pong in `last_ping_pong_time`) and measures the time
since the last sign of life: that pong, any message received, or the connection's
start. Past `stale_after_s`, or with no open session, it throws the whole handler away
and builds a new one (a fresh `apps.connections.open`), with a WARNING line and
`on_rebuild(reason)` (the `deckhand_socket_mode_rebuilds_total` metric).

The watchdog is a kept task (`bot.lifecycle.Supervisor.keep`): killed or failed, it is
restarted with back-off, and its next run picks up whatever state the connection is in
(none open, even half-rebuilt: rebuilt). A reconnect that fails for a passing reason (a
timeout, a refused connection, Slack's 5xx) is retried at the next check, /readyz red
meanwhile. One that Slack refuses for good (`refused_for_good`: the app token revoked,
rotated, of the wrong kind) raises `AppTokenRefused`, a `CannotRestart`: no restart of
the task can succeed, so the process fails (exit 1) and the new pod reads the token
afresh; at start-up the same refusal stops `deckhand run` with one line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import CannotRestart
from bot.slack.client import SlackCallFailed

log = logging.getLogger(__name__)

TOKEN_REFUSALS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "access_denied",
    }
)
"""`apps.connections.open` errors no retry with the same app token gets past."""


def refused_for_good(error: str) -> bool:
    """Slack's `error` code says the app token will never open a connection (pure)."""
    return error in TOKEN_REFUSALS


class AppTokenRefused(SlackCallFailed, CannotRestart):
    """Slack refuses the app token for Socket Mode (see the module docstring)."""


def silent_for_s(
    now: float, *, pong: float | None, message: float | None, connected: float
) -> float:
    """Seconds since the last sign of life of a connection (pure; wall seconds)."""
    return now - max(pong or 0.0, message or 0.0, connected)


class SocketModeKeeper:
    """The Socket Mode connection and its watchdog (see the module docstring)."""

    def __init__(
        self,
        app: AsyncApp,
        *,
        app_token: str,
        web_client: AsyncWebClient,
        stale_after_s: float,
        connect_timeout_s: float,
        on_rebuild: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._app = app
        self._token = app_token
        self._web_client = web_client
        self.stale_after_s = stale_after_s
        self._connect_timeout_s = connect_timeout_s
        self._on_rebuild = on_rebuild
        self._handler: AsyncSocketModeHandler | None = None
        self._connected_at = 0.0
        self._last_message: float | None = None
        self._closed = False
        self.rebuilds = 0

    @property
    def handler(self) -> AsyncSocketModeHandler | None:
        return self._handler

    def is_open(self) -> bool:
        """A websocket session is open now."""
        session = self._session()
        return session is not None and not session.closed

    async def connect(self) -> None:
        """Open a new handler and its connection (`TimeoutError` past the deadline;
        `AppTokenRefused` when Slack refuses the app token for good, `SlackApiError` for
        its other refusals)."""
        handler = AsyncSocketModeHandler(
            self._app, app_token=self._token, web_client=self._web_client
        )
        self._handler = handler
        handler.client.on_message_listeners.append(self._heard)
        self._connected_at = time.time()
        self._last_message = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                # The URL first, asked here: the SDK's connect() would retry a refusal
                # for ever, logging it, and never tell.
                handler.client.wss_uri = await handler.client.issue_new_wss_url()
                await handler.connect_async()  # type: ignore[no-untyped-call]
        except SlackApiError as e:
            error = str(e.response.get("error") or "")
            if refused_for_good(error):
                raise AppTokenRefused("apps.connections.open", error=error) from None
            raise
        self._connected_at = time.time()

    async def close(self) -> None:
        """Close the connection for good (shutdown): the watchdog stops rebuilding."""
        self._closed = True
        handler, self._handler = self._handler, None
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def watch(self) -> None:
        """Check every third of `stale_after_s`; rebuild a stale or closed connection, or
        none (a watchdog killed mid-rebuild). After `close`: park until cancelled (a kept
        task that returned would be restarted)."""
        while True:
            await asyncio.sleep(self.stale_after_s / 3)
            if self._closed:
                await asyncio.Event().wait()
            if self._handler is None:
                await self.rebuild("closed (no connection left)")
                continue
            await self._ping()
            reason = self._stale_reason()
            if reason is not None:
                await self.rebuild(reason)

    async def rebuild(self, reason: str) -> None:
        """Replace the handler and its connection; a failed attempt is retried next check."""
        self.rebuilds += 1
        log.warning("slack: socket mode connection %s; rebuilding it", reason)
        self._on_rebuild(reason.split(" ", 1)[0])
        old, self._handler = self._handler, None
        if old is not None:
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await old.close_async()  # type: ignore[no-untyped-call]
            except (TimeoutError, OSError) as e:
                log.info("slack: the old socket mode connection did not close: %r", e)
        try:
            await self.connect()
        except AppTokenRefused:
            log.error("slack: Slack refuses the app token (SLACK_APP_TOKEN) for Socket Mode")
            raise
        except SlackApiError as e:  # its text carries Slack's whole answer: the code only
            error = e.response.get("error")
            log.warning("slack: socket mode reconnect refused (%s); next check retries", error)
        except (TimeoutError, OSError, aiohttp.ClientError) as e:
            log.warning("slack: socket mode reconnect failed (%r); next check retries", e)
        else:
            log.info("slack: socket mode connection rebuilt")

    def _stale_reason(self) -> str | None:
        if not self.is_open():
            if time.time() - self._connected_at > self.stale_after_s:
                return "closed for too long"
            return None
        handler = self._handler
        pong = handler.client.last_ping_pong_time if handler is not None else None
        silent = silent_for_s(
            time.time(), pong=pong, message=self._last_message, connected=self._connected_at
        )
        if silent > self.stale_after_s:
            return f"stale (no pong or message for {silent:.0f} s)"
        return None

    async def _ping(self) -> None:
        session = self._session()
        if session is None or session.closed:
            return
        try:
            await session.ping(f"sdk-ping-pong:{time.time()}".encode())
        except (ConnectionError, RuntimeError, OSError) as e:
            log.info("slack: socket mode ping failed: %r", e)

    def _session(self) -> Any:
        handler = self._handler
        return None if handler is None else handler.client.current_session

    async def _heard(self, message: Any) -> None:
        self._last_message = time.time()
