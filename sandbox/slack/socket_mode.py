"""The Socket Mode side of the local Slack: a websocket that delivers envelopes.

`apps.connections.open` (app token) answers `url()`; the client connects, receives
`{"type": "hello"}`, and then `deliver(...)` pushes an envelope (`slash_commands`,
`interactive`, `events_api`) and waits for the client's acknowledgement
(`{"envelope_id": ..., "payload": ...}`), exactly the exchange slack.com runs.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web


class SocketModeServer:
    """Websocket endpoint plus delivery of envelopes to the newest connection."""

    def __init__(self) -> None:
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tickets = 0
        self.connections = 0
        self._connected = asyncio.Event()

    def url(self, base_http_url: str) -> str:
        self._tickets += 1
        return f"ws{base_http_url.removeprefix('http')}/socket?ticket={self._tickets}"

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers the client's pings (autoping)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        self._connected.set()
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
                if msg.type != WSMsgType.TEXT:
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

    async def deliver(
        self, envelope_type: str, payload: dict[str, Any], *, within_s: float = 3.0
    ) -> dict[str, Any]:
        """Send one envelope to the newest connection; return its acknowledgement.

        Raises `TimeoutError` when no ack arrives within `within_s` seconds (Slack's
        3-second rule), `ConnectionError` when no client is connected.
        """
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise ConnectionError("no Socket Mode client is connected")
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        await open_sockets[-1].send_json(
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

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
