"""Deckhand's HTTP server: Slack requests (HTTP mode) and the health endpoints.

Routes:
- `POST /slack/events`: slash commands, interactivity, events, through Bolt
  (`slack_bolt.adapter.aiohttp`); only when a Bolt app is given (HTTP mode).
- `GET /healthz`: 200 while the process runs (liveness).
- `GET /readyz`: 200 once start-up finished (Slack and cluster clients open), 503 while
  starting or shutting down (readiness); the body names the state.
- `GET /metrics`: the Prometheus text format of `bot.metrics.Metrics`, when given.
The server runs in Socket Mode too, for the health endpoints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.lifecycle import ReadinessState
from bot.metrics import CONTENT_TYPE, Metrics

EVENTS_PATH = "/slack/events"


def parse_listen(listen: str) -> tuple[str, int]:
    """`"0.0.0.0:3000"` → `("0.0.0.0", 3000)`; `"[::1]:80"` works too. Pure."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_http_app(
    *, readiness: ReadinessState, bolt_app: AsyncApp | None, metrics: Metrics | None = None
) -> web.Application:
    """The aiohttp application (see the module docstring for its routes)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        return web.Response(status=200 if readiness.ready else 503, text=readiness.state.value)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if metrics is not None:

        async def serve_metrics(request: web.Request) -> web.Response:
            return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

        app.router.add_get("/metrics", serve_metrics)
    if bolt_app is not None:

        async def slack_events(request: web.Request) -> web.Response:
            bolt_request = await to_bolt_request(request)
            bolt_response = await bolt_app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        app.router.add_post(EVENTS_PATH, slack_events)
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
