"""Deckhand's HTTP server: Slack requests (HTTP mode) and the health endpoints.

Routes:
- `POST /slack/events`: slash commands, interactivity, events, through Bolt
  (`slack_bolt.adapter.aiohttp`); only when a Bolt app is given (HTTP mode). The door
  is total: the body is read as bytes (at most `MAX_BODY_BYTES`: 413), its signature
  checked first (401), then it must be UTF-8 and parse the way Bolt parses it (a JSON
  object, a form, or a form whose `payload` is a JSON object): else 400. Each refusal
  is one WARNING line naming why, never a traceback; Bolt sees only bodies it can read.
- `POST /hooks/gitea` (and any other `hooks` given): Gitea's package webhook, a door of
  its own (`bot.delivery.webhook`), served in HTTP and Socket Mode alike.
- `GET /healthz`: 200 while the process runs (liveness).
- `GET /readyz`: 200 once start-up finished (Slack and cluster clients open), 503 while
  starting or shutting down, or while a required condition fails (Socket Mode: no
  open connection); the body names the state and what is missing.
- `GET /metrics`: the Prometheus text format of `bot.metrics.Metrics`, when given.
The server runs in Socket Mode too, for the health endpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

from bot.lifecycle import ReadinessState
from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 256 * 1024
"""Slack's own payloads stay far below this (a view of 100 blocks is ~50 KB)."""
SIGNATURE_MAX_AGE_S = 300
"""Slack's replay window: a request signed longer ago than this is refused."""


class Refused(Exception):
    """A request the door turns away: `status` and the one-line reason for the log."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def readable_body(raw: bytes, content_type: str | None) -> str:
    """`raw` as the text Bolt will parse, or `Refused(400)`: not UTF-8, or not a body
    Bolt's parser reads into a JSON object. Pure."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    try:
        parsed = parse_body(text, content_type)
    except ValueError:  # json.JSONDecodeError is one
        raise Refused(400, "body is not JSON or form-encoded Slack data") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "body is not a JSON object")
    return text


def signed(request: web.Request, raw: bytes, signing_secret: str) -> bool:
    """`X-Slack-Signature` is Slack's v0 HMAC of the raw bytes and
    `X-Slack-Request-Timestamp` within `SIGNATURE_MAX_AGE_S` of now (slack_sdk's
    `SignatureVerifier` decodes the body first, which a non-UTF-8 body breaks)."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_MAX_AGE_S:
        return False
    base = b"v0:" + stamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.headers.get("X-Slack-Signature", ""))


async def bolt_request(request: web.Request, *, signing_secret: str | None) -> AsyncBoltRequest:
    """The Bolt request for an aiohttp one, or `Refused` (see the module docstring)."""
    try:
        raw = await request.read()  # the application's client_max_size bounds it
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"body over {MAX_BODY_BYTES} bytes") from None
    except (OSError, ValueError, aiohttp.ClientPayloadError) as e:  # truncated mid-body
        raise Refused(400, f"body unreadable ({type(e).__name__})") from None
    if signing_secret is not None and not signed(request, raw, signing_secret):
        raise Refused(401, "signature or timestamp invalid")
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip() or None
    text = readable_body(raw, content_type)
    try:
        return AsyncBoltRequest(
            body=text, query=request.query_string, headers=dict(request.headers)
        )
    except (AttributeError, TypeError, KeyError, ValueError) as e:  # fields of the wrong type
        raise Refused(400, f"body's fields unreadable ({type(e).__name__})") from None


def parse_listen(listen: str) -> tuple[str, int]:
    """`"0.0.0.0:3000"` → `("0.0.0.0", 3000)`; `"[::1]:80"` works too. Pure."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_http_app(
    *,
    readiness: ReadinessState,
    bolt_app: AsyncApp | None,
    metrics: Metrics | None = None,
    signing_secret: str | None = None,
    hooks: Mapping[str, Callable[[web.Request], Awaitable[web.Response]]] | None = None,
) -> web.Application:
    """The aiohttp application (see the module docstring for its routes). With
    `signing_secret`, a request's signature is checked before its body is parsed (Bolt
    checks it again)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        failing = readiness.failing
        text = readiness.state.value + "".join(f"; no {name}" for name in failing)
        return web.Response(status=200 if readiness.ready else 503, text=text)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:

        async def serve_metrics(request: web.Request) -> web.Response:
            return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

        app.router.add_get("/metrics", serve_metrics)
    if bolt_app is not None:

        async def slack_events(request: web.Request) -> web.Response:
            try:
                incoming = await bolt_request(request, signing_secret=signing_secret)
            except Refused as e:
                log.warning("slack: request refused with %d: %s", e.status, e)
                return web.Response(status=e.status)
            bolt_response = await bolt_app.async_dispatch(incoming)
            return await to_aiohttp_response(bolt_response)

        app.router.add_post(EVENTS_PATH, slack_events)
    for path, handler in (hooks or {}).items():
        app.router.add_post(path, handler)
    return app


@asynccontextmanager
async def serve_http(
    app: web.Application, *, host: str, port: int, shutdown_timeout_s: float = 5.0
) -> AsyncIterator[str]:
    """Serve `app` on host:port (port 0: any free port); yields the base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        await runner.cleanup()
