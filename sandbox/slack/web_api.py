"""`LocalSlack`: a Slack Web API on loopback, for tests and the demo.

Serves `POST|GET {api_url}{method}` the way slack.com does for the methods Deckhand
uses, validates the bearer token, records every call (`.calls`), and keeps the
workspace state (`.workspace`: channels, messages as currently edited, thread replies,
ephemerals) so a test asserts what the user would see. It also serves the
`response_url`s that slash commands and button clicks carry, and a Socket Mode
websocket (`apps.connections.open` with the app token; see `sandbox.slack.socket_mode`).

Strict as slack.com: the token's scopes are those `manifest.yaml` asks for (a method
without its scope answers `missing_scope` with `needed` / `provided`; every answer
carries `x-oauth-scopes`); the bot is a member of no channel until `invite_bot`;
trigger_ids come from `new_trigger_id()` and expire 3 s later, response_urls after
30 minutes or 5 uses, both on `clock`.

Failure injection: `fail_next("chat.update", status=429, retry_after=1)` answers the
next call(s) with HTTP 429 + `Retry-After`; `status=500` a server error;
`error="channel_not_found"` an HTTP 200 `{"ok": false}` answer; `stop_failing(method)`
ends an injected outage early (how many failures were left unused).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml
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
RESPONSE_URL_TTL_S = 30 * 60
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"


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
    issued_at: float
    uses: int = 0


def manifest_scopes(path: Path = MANIFEST) -> tuple[str, ...]:
    """The bot scopes a workspace grants when the app is installed from `manifest.yaml`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(str(s) for s in data["oauth_config"]["scopes"]["bot"])


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
        scopes: tuple[str, ...] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        # Granted as the manifest asks; sent as `x-oauth-scopes` on every answer.
        self.scopes = manifest_scopes() if scopes is None else scopes
        self.workspace = Workspace(clock=clock)
        self.calls: list[RecordedCall] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []
        self.acks: list[dict[str, Any]] = []
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
        app.router.add_post("/response/{key}", self._respond)
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

    def add_channel(self, channel_id: str, name: str, *, private: bool | None = None) -> None:
        """A channel (kind from its id, or `private`), WITHOUT the bot: see `invite_bot`."""
        channel = self.workspace.channel(channel_id)
        channel.name = name
        if private is not None:
            channel.kind = "private" if private else "public"

    def invite_bot(self, *channel_ids: str) -> None:
        """`/invite @deckhand` in each channel: the bot becomes a member and may post there."""
        for channel_id in channel_ids:
            self.workspace.channel(channel_id).bot_member = True

    def remove_bot(self, channel_id: str) -> None:
        """The bot is removed from (or leaves) the channel."""
        self.workspace.channel(channel_id).bot_member = False

    def new_trigger_id(self) -> str:
        """A trigger_id as an interaction carries it; `views.open` takes it for 3 s."""
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(8)}"
        self.workspace.triggers[trigger_id] = self.workspace.clock()
        return trigger_id

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

    def stop_failing(self, method: str) -> int:
        """Drop the failures still queued for `method` (Slack answers again); returns how
        many were left unused, so a test can derive how many calls were refused."""
        queue = self._failures.pop(method, deque())
        return len(queue)

    def response_url(self, *, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        """A fresh response_url; posts to it are recorded in `.responses` and applied.

        `message_ts` binds it to a message (as for a button click): `replace_original`
        then edits that message and `delete_original` deletes it.
        """
        key = f"R{len(self._targets) + 1:04d}"
        self._targets[key] = _ResponseTarget(
            channel_id, user_id, message_ts, issued_at=self.workspace.clock()
        )
        return f"{self._base}/response/{key}"

    def show_ack(self, *, channel_id: str, user_id: str, body: str) -> None:
        """Show a slash command's HTTP ack body to its requester, as Slack does (an
        ephemeral, any conversation); recorded in `.acks`. An empty body shows nothing."""
        if not body.strip():
            return
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            payload = {"text": body}
        if not isinstance(payload, dict):
            payload = {"text": str(payload)}
        self.acks.append(payload)
        methods.apply_response(
            self.workspace,
            {**payload, "replace_original": False},
            channel=channel_id,
            user=user_id,
            message_ts=None,
        )

    def seed_message(
        self, channel_id: str, text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """Put a bot message in a channel without a Web API call; returns its ts."""
        channel = self.workspace.channel(channel_id)
        message = methods.store_message(self.workspace, channel, text=text, blocks=blocks or [])
        assert message is not None  # not a thread reply: always stored
        return message.ts

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

    async def wait_until(self, predicate: Callable[[], bool], *, within_s: float = 3.0) -> None:
        """Until `predicate()` holds, re-checked after every Web API call or response_url
        post answered. Raises `TimeoutError` after `within_s` seconds."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_ephemeral(
        self, *, user_id: str, count: int = 1, within_s: float = 3.0
    ) -> EphemeralMessage:
        """The `count`-th message only `user_id` saw (chat.postEphemeral, a response_url
        or an ack body), once it exists."""
        await self.wait_until(
            lambda: len(self.ephemerals(user_id=user_id)) >= count, within_s=within_s
        )
        return self.ephemerals(user_id=user_id)[count - 1]

    async def wait_for_responses(
        self, *, count: int = 1, within_s: float = 3.0
    ) -> list[tuple[str, dict[str, Any]]]:
        """Wait until response_urls took `count` posts in all; (key, payload) of each.

        Raises `TimeoutError` after `within_s` seconds.
        """
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: len(self.responses) >= count)
        return list(self.responses)

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
        needed = methods.needed_scope(self.workspace, method, params)
        headers = {
            "x-oauth-scopes": ",".join(self.scopes),
            "x-accepted-oauth-scopes": needed or "",
        }
        if method == "apps.connections.open":
            body: dict[str, Any] = {"ok": True, "url": self.socket.url(self._base)}
        elif needed is not None and needed not in self.scopes:
            body = {
                "ok": False,
                "error": "missing_scope",
                "needed": needed,
                "provided": ",".join(self.scopes),
            }
        else:
            body = handler(self.workspace, params, self._base)
        return web.json_response(body, headers=headers)

    async def _respond(self, request: web.Request) -> web.Response:
        try:
            return await self._response(request)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        target = self._targets.get(key)
        if target is None:
            return web.Response(status=404, text="invalid_url")
        if self.workspace.clock() - target.issued_at > RESPONSE_URL_TTL_S:
            return web.Response(status=404, text="expired_url")
        if target.uses >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        target.uses += 1
        try:
            payload = json.loads(await request.text())
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="invalid_payload")
        refused = methods.apply_response(
            self.workspace,
            payload,
            channel=target.channel,
            user=target.user,
            message_ts=target.message_ts,
        )
        if refused is not None:
            return web.Response(status=400, text=refused)
        self.responses.append((key, payload))
        return web.Response(text="ok")

    def responses_to(self, url: str) -> list[dict[str, Any]]:
        """What Slack took from this response_url, in order (what the user was shown)."""
        key = url.rsplit("/", 1)[-1]
        return [payload for k, payload in self.responses if k == key]


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
