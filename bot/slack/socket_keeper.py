"""Socket Mode that stays alive: one connection, watched, rebuilt when it goes stale.

    keeper = SocketModeKeeper(app, app_token=…, web_client=client, stale_after_s=30,
                              connect_timeout_s=30, on_rebuild=metrics.socket_rebuilt)
    await keeper.connect()                       # start-up: the first connection
    supervisor.spawn(keeper.watch(), name="socket-mode-watchdog")
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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


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
        self.rebuilds = 0

    @property
    def handler(self) -> AsyncSocketModeHandler | None:
        return self._handler

    def is_open(self) -> bool:
        """A websocket session is open now."""
        session = self._session()
        return session is not None and not session.closed

    async def connect(self) -> None:
        """Open a new handler and its connection (`TimeoutError` past the deadline)."""
        handler = AsyncSocketModeHandler(
            self._app, app_token=self._token, web_client=self._web_client
        )
        self._handler = handler
        handler.client.on_message_listeners.append(self._heard)
        self._connected_at = time.time()
        self._last_message = None
        async with asyncio.timeout(self._connect_timeout_s):
            await handler.connect_async()  # type: ignore[no-untyped-call]
        self._connected_at = time.time()

    async def close(self) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]

    async def watch(self) -> None:
        """Check every third of `stale_after_s`; rebuild a stale or closed connection."""
        while True:
            await asyncio.sleep(self.stale_after_s / 3)
            if self._handler is None:
                return  # closed: shutting down
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
        except (TimeoutError, OSError) as e:
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
