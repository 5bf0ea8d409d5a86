"""`LocalSlack`: a Slack Web API on loopback, for tests and the demo.

Serves `POST|GET {api_url}{method}` the way slack.com does for the methods Deckhand
uses, validates the bearer token, records every call (`.calls`), and keeps the
workspace state (`.workspace`: channels, messages as currently edited, thread replies,
ephemerals) so a test asserts what the user would see. It also serves the
`response_url`s that slash commands and button clicks carry, and a Socket Mode
websocket (`apps.connections.open` with the app token; see `sandbox.slack.socket_mode`).

Failure injection: `fail_next("chat.update", status=429, retry_after=1)` answers the
next call(s) with HTTP 429 + `Retry-After`; `status=500` a server error;
`error="channel_not_found"` an HTTP 200 `{"ok": false}` answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from sandbox.slack import methods
from sandbox.slack.socket_mode import SocketModeServer
from sandbox.slack.store import (
    EphemeralMessage,
    RecordedCall,
    StoredMessage,
    User,
    Usergroup,
    Workspace,
)

BOT_TOKEN = "xoxb-local-slack-bot-token"
APP_TOKEN = "xapp-1-local-slack-app-token"
# A response_url accepts this many posts (Slack: 5 within 30 minutes).
RESPONSE_URL_USES = 5


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: int | None
    error: str | None


@dataclass
class _ResponseTarget:
    channel: str
    user: str
    message_ts: str | None
    uses: int = 0


# The bot scopes a workspace grants when the app is installed from manifest.yaml.
DEFAULT_SCOPES = ("commands", "chat:write", "usergroups:read", "users:read", "channels:read")


class LocalSlack:
    """The local Slack Web API server (async context manager; default 127.0.0.1, any port).

    Contract: `.api_url` ends with "/api/"; `.calls` lists every call, the token never
    included; `.workspace` is the state; `message(channel, ts)` / `ephemerals(...)` read it.
    """

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        # Sent as `x-oauth-scopes` on every bot-token answer, as Slack does.
        self.scopes = scopes
        self.workspace = Workspace()
        self.calls: list[RecordedCall] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.socket = SocketModeServer()
        self._failures: dict[str, deque[_Failure]] = {}
        self._changed = asyncio.Condition()
        self._targets: dict[str, _ResponseTarget] = {}
        self._runner: web.AppRunner | None = None
        self._base = ""
        self._host, self._port = host, port

    # -- life cycle ---------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/socket", self.socket.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base = f"http://{self._host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def api_url(self) -> str:
        return f"{self._base}/api/"

    # -- configuration ------------------------------------------------------------
    def add_user(self, user_id: str, name: str, *, real_name: str | None = None) -> None:
        self.workspace.users[user_id] = User(
            id=user_id, name=name, real_name=real_name or name.title()
        )

    def add_usergroup(self, usergroup_id: str, handle: str, members: list[str]) -> None:
        self.workspace.usergroups[usergroup_id] = Usergroup(
            id=usergroup_id, handle=handle, members=tuple(members)
        )

    def add_channel(self, channel_id: str, name: str) -> None:
        self.workspace.channel(channel_id).name = name

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with a failure (see module doc)."""
        queue = self._failures.setdefault(method, deque())
        for _ in range(times):
            queue.append(_Failure(status=status, retry_after=retry_after, error=error))

    def response_url(self, *, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A fresh response_url; posts to it are recorded in `.responses` and applied.

        `message_ts` binds it to a message (as for a button click): `replace_original`
        then edits that message and `delete_original` deletes it.
        """
        key = f"R{len(self._targets) + 1:04d}"
        self._targets[key] = _ResponseTarget(channel_id, user_id, message_ts)
        return f"{self._base}/response/{key}"

    def seed_message(
        self, channel_id: str, text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """Put a bot message in a channel without a Web API call; returns its ts."""
        body = methods.chat_post_message(
            self.workspace, {"channel": channel_id, "text": text, "blocks": blocks}, self._base
        )
        return str(body["ts"])

    # -- reading the state --------------------------------------------------------
    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for_call(
        self, method: str, *, count: int = 1, within_s: float = 3.0
    ) -> list[RecordedCall]:
        """Wait until `method` was answered `count` times (its effect applied); the calls.

        Raises `TimeoutError` after `within_s` seconds.
        """
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)
        return self.calls_to(method)

    def message(self, channel_id: str, ts: str) -> StoredMessage:
        found = self.workspace.find(channel_id, ts)
        if found is None:
            raise KeyError(f"no message {ts} in {channel_id}")
        return found

    def messages(self, channel_id: str) -> list[StoredMessage]:
        """Top-level messages of a channel, oldest first."""
        return list(self.workspace.channel(channel_id).messages.values())

    def ephemerals(
        self, *, channel_id: str | None = None, user_id: str | None = None
    ) -> list[EphemeralMessage]:
        found = []
        for channel in self.workspace.channels.values():
            for eph in channel.ephemerals:
                if channel_id not in (None, eph.channel) or user_id not in (None, eph.user):
                    continue
                found.append(eph)
        return found

    # -- HTTP handlers ------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        try:
            return await self._answer(request)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _answer(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _bearer(request) or params.pop("token", None)
        params.pop("token", None)
        self.calls.append(RecordedCall(method, params, time.monotonic()))
        queue = self._failures.get(method)
        if queue:
            failure = queue.popleft()
            if failure.error is not None:
                return web.json_response({"ok": False, "error": failure.error})
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            code = "ratelimited" if failure.status == 429 else "internal_error"
            return web.json_response(
                {"ok": False, "error": code}, status=failure.status, headers=headers
            )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token is None:
            return web.json_response({"ok": False, "error": "not_authed"})
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = methods.HANDLERS.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        if method == "apps.connections.open":
            body = {"ok": True, "url": self.socket.url(self._base)}
        else:
            body = handler(self.workspace, params, self._base)
        return web.json_response(body, headers={"x-oauth-scopes": ",".join(self.scopes)})

    async def _response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        target = self._targets.get(key)
        if target is None:
            return web.Response(status=404, text="invalid_url")
        if target.uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        target.uses += 1
        try:
            payload = json.loads(await request.text())
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        self.responses.append((key, payload))
        methods.apply_response(
            self.workspace,
            payload,
            channel=target.channel,
            user=target.user,
            message_ts=target.message_ts,
        )
        return web.Response(text="ok")


def _bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query, form and JSON body merged, like slack.com accepts them."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in ("blocks", "view", "attachments"):
        if isinstance(params.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    return params
