"""The demo page's HTTP server: the page, a live feed, and what the page may ask for.

| route | does |
|---|---|
| `GET /` , `GET /static/…` | the page (plain HTML/CSS/JS, no external resources) |
| `GET /api/state?user=U…` | one snapshot: `{"me", "users", "usergroups", "slack", "cluster"}` |
| `GET /events?user=U…` | server-sent events: `slack`, `cluster` (same shapes), on change |
| `POST /api/command` | `{"user", "text": "/deploy …", "channel"}` → a signed slash command |
| `POST /api/action` | `{"user", "channel", "ts", "action_id", "value", "block_id"}` → a click |
| `POST /api/home` | `{"user"}` → `app_home_opened`: Deckhand publishes that user's Home tab |
| `POST /api/break/<what>` | revoke/restore-token, delete-tag, crash, probe-path, restart-pod |

Requests to Deckhand go through `SlackSender` exactly as Slack sends them (signed, with a
`response_url` served by the local Slack); a slash command's immediate HTTP answer is
shown the way Slack shows it (ephemeral unless `in_channel`). Bad input gets a 400 with
`{"error": "…"}`. The server acts as any demo user, so it only listens on loopback,
answers only requests addressed to a loopback Host, and takes only JSON bodies (which
another web page cannot send it without a CORS preflight).

The feed polls the in-memory state every `poll_s` and sends a snapshot only when it
changed: the local Slack has no change notification for `response_url` posts, and a
snapshot of a few dozen messages costs microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.cluster.resources import DEPLOYMENTS, PODS
from sandbox.demo.breakers import BreakError, Breakers
from sandbox.demo.cluster_view import cluster_view
from sandbox.demo.workspace_view import (
    DEMO_CHANNELS,
    DEMO_USERS,
    DemoUser,
    SlackView,
    demo_user,
)
from sandbox.env import CHANNEL, ENVIRONMENTS, SERVICES, SandboxEnv
from sandbox.slack.methods import apply_response
from sandbox.slack.sender import SlackSender
from sandbox.slack.web_api import LocalSlack

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0
Json = dict[str, Any]


class BadRequest(ValueError):
    """The page sent something the server cannot act on (answered 400)."""


def _field(body: Json, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"missing field {name!r}")
    return value


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@web.middleware
async def _loopback_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse requests whose Host is not loopback (DNS rebinding from a web page)."""
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host not in LOOPBACK_HOSTS:
        return web.json_response({"error": "the demo answers on loopback only"}, status=403)
    return await handler(request)


def hints() -> dict[str, str]:
    """Commands the page offers to fill in: deploy a good tag of api that is not running,
    and the seeded downgrade (an older commit than the running one) to prod."""
    api = next(s for s in SERVICES if s.name == "api")
    return {
        "api": f"/deploy api {api.good[1]}",
        "api-prod": f"/deploy api {api.good[2]} to prod",
        "api-downgrade": f"/deploy api {api.previous} to prod",
    }


class DemoServer:
    """The routes of the module docstring, over one sandbox, local Slack and sender."""

    def __init__(
        self,
        *,
        env: SandboxEnv,
        slack: LocalSlack,
        sender: SlackSender,
        poll_s: float = 0.15,
    ) -> None:
        self.env = env
        self.slack = slack
        self.sender = sender
        self.view = SlackView(slack.workspace)
        self.breakers = Breakers(env)
        self.poll_s = poll_s
        self.closing = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_loopback_only])
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/events", self._events)
        app.router.add_post("/api/command", self._json(self._command))
        app.router.add_post("/api/action", self._json(self._action))
        app.router.add_post("/api/home", self._json(self._home))
        app.router.add_post("/api/break/{what}", self._json(self._break))
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self.closing.set()  # ends every open event stream

    # snapshots ------------------------------------------------------------------------

    def cluster_snapshot(self) -> Json:
        store = self.env.cluster.store
        deployments, _ = store.list(DEPLOYMENTS)
        pods, _ = store.list(PODS)
        return {
            **cluster_view(deployments, pods, namespaces=ENVIRONMENTS),
            "registry": self.breakers.registry_view(),
        }

    def slack_snapshot(self, user_id: str) -> Json:
        return self.view.snapshot(user_id)

    @staticmethod
    def _user(raw: object) -> DemoUser:
        user = demo_user(raw) if isinstance(raw, str) else None
        if user is None:
            raise BadRequest(f"unknown demo user {raw!r}")
        return user

    # routes ---------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _state(self, request: web.Request) -> web.Response:
        try:
            user = self._user(request.query.get("user")).id
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(
            {
                "me": user,
                "users": [dataclasses.asdict(u) for u in DEMO_USERS],
                "channels": DEMO_CHANNELS,
                "hints": hints(),
                "usergroups": {g.id: g.handle for g in self.slack.workspace.usergroups.values()},
                "slack": self.slack_snapshot(user),
                "cluster": self.cluster_snapshot(),
            }
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        try:
            user = self._user(request.query.get("user")).id
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        sent: dict[str, str] = {}
        cluster_version: tuple[str, int] = ("", -1)
        idle = 0.0
        with contextlib.suppress(ConnectionResetError):
            while not self.closing.is_set():
                frames = []
                slack = json.dumps(self.slack_snapshot(user))
                if sent.get("slack") != slack:
                    frames.append(("slack", slack))
                version = (self.env.cluster.store.resource_version, self.breakers.changes)
                if version != cluster_version:
                    cluster_version = version
                    cluster = json.dumps(self.cluster_snapshot())
                    if sent.get("cluster") != cluster:
                        frames.append(("cluster", cluster))
                for event, data in frames:
                    sent[event] = data
                    await response.write(f"event: {event}\ndata: {data}\n\n".encode())
                idle = 0.0 if frames else idle + self.poll_s
                if idle >= KEEPALIVE_S:
                    await response.write(b": keep-alive\n\n")
                    idle = 0.0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await self.closing.wait()
        return response

    def _json(
        self, handler: Callable[[web.Request, Json], Awaitable[Json]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            if request.content_type != "application/json":
                # Other sites can post text/plain to loopback without a CORS preflight.
                return web.json_response({"error": "expected application/json"}, status=415)
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise BadRequest("expected a JSON object")
                return web.json_response(await handler(request, body))
            except json.JSONDecodeError:
                return web.json_response({"error": "expected a JSON object"}, status=400)
            except (BadRequest, BreakError) as e:
                return web.json_response({"error": str(e)}, status=400)

        return route

    async def _command(self, request: web.Request, body: Json) -> Json:
        person = self._user(body.get("user"))
        user = person.id
        channel = body.get("channel") or CHANNEL
        if channel not in DEMO_CHANNELS:
            raise BadRequest(f"unknown channel {channel!r}")
        text = _field(body, "text").strip()
        command, _, rest = text.partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise BadRequest("only slash commands here: try /deploy help")
        self.view.echo(channel=channel, user=user, text=text)
        status, answer = await self.sender.slash_command(
            rest.strip(), user_id=user, channel_id=channel, command=command, user_name=person.name
        )
        self._show_ack(status, answer, channel=channel, user=user, command=command)
        return {"status": status}

    def _show_ack(self, status: int, answer: str, *, channel: str, user: str, command: str) -> None:
        """Render a slash command's HTTP answer as Slack does."""
        if status != 200:
            payload: Json = {"text": f"`{command}` failed: the app answered HTTP {status}"}
        else:
            try:
                parsed = json.loads(answer) if answer.strip() else {}
            except json.JSONDecodeError:
                parsed = {"text": answer}
            payload = parsed if isinstance(parsed, dict) else {}
        if payload.get("text") or payload.get("blocks"):
            apply_response(
                self.slack.workspace, payload, channel=channel, user=user, message_ts=None
            )

    async def _action(self, request: web.Request, body: Json) -> Json:
        user = self._user(body.get("user")).id
        value = body.get("value")
        status, _ = await self.sender.block_action(
            user_id=user,
            channel_id=_field(body, "channel"),
            message_ts=_field(body, "ts"),
            action_id=_field(body, "action_id"),
            value=value if isinstance(value, str) else "",
            block_id=str(body.get("block_id") or "deckhand-actions"),
        )
        return {"status": status}

    async def _home(self, request: web.Request, body: Json) -> Json:
        """The visitor opened the Home tab: Slack sends `app_home_opened`."""
        user = self._user(body.get("user")).id
        status, _ = await self.sender.app_home_opened(user_id=user)
        return {"status": status}

    async def _break(self, request: web.Request, body: Json) -> Json:
        what = request.match_info["what"]
        breakers = self.breakers
        if what == "revoke-token":
            message = breakers.revoke_token()
        elif what == "restore-token":
            message = breakers.restore_token()
        elif what == "delete-tag":
            message = breakers.delete_tag(_field(body, "service"), _field(body, "tag"))
        elif what == "crash":
            message = breakers.stage_crash(
                _field(body, "namespace"), _field(body, "deployment"), crash=bool(body.get("on"))
            )
        elif what == "probe-path":
            message = breakers.probe_path(
                _field(body, "namespace"), _field(body, "deployment"), path=_field(body, "path")
            )
        elif what == "push-image":
            message = breakers.push_image(_field(body, "service"), _field(body, "kind"))
        elif what == "restart-pod":
            message = breakers.restart_pod(_field(body, "namespace"), _field(body, "pod"))
        else:
            raise BadRequest(f"no such break {what!r}")
        logger.info("demo: %s", message)
        return {"message": message}
