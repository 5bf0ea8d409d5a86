"""The Socket Mode side of the local Slack: a websocket that delivers envelopes.

`apps.connections.open` (app token) answers `url()`; the client connects, receives
`{"type": "hello"}`, and then `deliver(...)` pushes an envelope (`slash_commands`,
`interactive`, `events_api`) and waits for the client's acknowledgement
(`{"envelope_id": ..., "payload": ...}`), exactly the exchange slack.com runs.

As slack.com does it, an envelope goes to ONE of the app's open connections, picked at
random (not always the newest: a stale connection left open gets its share), and
`disconnect(reason)` sends `{"type": "disconnect", "reason": ...}` (`refresh_requested`,
`warning`, `link_disabled`) before closing a connection, so reconnect paths run.

`answer_pings = False` makes every connection stop answering websocket pings (and
drop what the client sends) while staying open: the half-dead connection a client
must notice by itself.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any

from aiohttp import WSMsgType, web


class SocketModeServer:
    """Websocket endpoint plus delivery of envelopes to any one open connection.

    `rng` picks the connection (seed it for a reproducible order).
    """

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tickets = 0
        self.connections = 0
        self._connected = asyncio.Event()
        self._opened = asyncio.Condition()
        self.answer_pings = True

    def url(self, base_http_url: str) -> str:
        self._tickets += 1
        return f"ws{base_http_url.removeprefix('http')}/socket?ticket={self._tickets}"

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)  # pings answered below, unless told not to
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        self._connected.set()
        async with self._opened:
            self._opened.notify_all()
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "connection_info": {"app_id": "A0DECKHAND"},
                    "debug_info": {"host": "local-slack", "approximate_connection_time": 3600},
                }
            )
            async for msg in ws:
                if msg.type == WSMsgType.PING and self.answer_pings:
                    await ws.pong(msg.data)
                if msg.type != WSMsgType.TEXT or not self.answer_pings:
                    continue
                data = json.loads(msg.data)
                future = self._acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            self._sockets.remove(ws)
            if not self.connected:
                self._connected.clear()
        return ws

    async def wait_connected(self, *, within_s: float) -> None:
        """Wait (at most `within_s` seconds) until a client holds an open connection."""
        async with asyncio.timeout(within_s):
            await self._connected.wait()

    async def wait_connections(self, total: int, *, within_s: float) -> None:
        """Wait until `total` connections were opened since start (reconnects count)."""
        async with asyncio.timeout(within_s), self._opened:
            await self._opened.wait_for(lambda: self.connections >= total and self.connected)

    async def deliver(
        self, envelope_type: str, payload: dict[str, Any], *, within_s: float = 3.0
    ) -> dict[str, Any]:
        """Send one envelope to one open connection (any); return its acknowledgement.

        Raises `TimeoutError` when no ack arrives within `within_s` seconds (Slack's
        3-second rule), `ConnectionError` when no client is connected.
        """
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise ConnectionError("no Socket Mode client is connected")
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        await self._rng.choice(open_sockets).send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        try:
            async with asyncio.timeout(within_s):
                return await future
        finally:
            self._acks.pop(envelope_id, None)

    @property
    def open_connections(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    async def disconnect(self, reason: str = "refresh_requested", *, every: bool = False) -> int:
        """Tell one open connection (or `every` one) to go, as Slack does, then close it.

        Returns how many were told. The client is expected to open a new connection
        (`apps.connections.open`); `wait_connected` then sees it.
        """
        targets = [ws for ws in self._sockets if not ws.closed]
        if not every:
            targets = targets[:1]  # the oldest: Slack rotates connections by age
        for ws in targets:
            await ws.send_json({"type": "disconnect", "reason": reason})
            await ws.close()
        return len(targets)

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
