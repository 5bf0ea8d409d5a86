"""`POST /hooks/gitea`: Gitea's package webhook, on Deckhand's HTTP port (Socket Mode too).

The door is its own (not the Slack route's): the body is read as bytes (at most
`MAX_BODY_BYTES`, 413), then `commands.delivery.webhook_verdict` decides: unsigned or
badly signed 401, unreadable or stale 400 (each one WARNING line naming why, never the
body or a signature), another event or an untagged manifest 202 (ignored). A created
tag is answered 202 at once and announced in a supervised task: Gitea's delivery
timeout (5 s by default) never waits for the registry check or Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from bot.delivery.announcer import Delivery
from bot.lifecycle import Supervisor
from commands.delivery import WebhookRefusal, webhook_verdict

log = logging.getLogger(__name__)

HOOK_PATH = "/hooks/gitea"
MAX_BODY_BYTES = 256 * 1024
Handler = Callable[[web.Request], Awaitable[web.Response]]


def gitea_hook(
    delivery: Delivery,
    *,
    supervisor: Supervisor,
    secret: str,
    max_age_s: float,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Handler:
    """The aiohttp handler of `POST /hooks/gitea` (see the module docstring)."""

    async def handle(request: web.Request) -> web.Response:
        delivery_id = request.headers.get("X-Gitea-Delivery", "-")[:64]
        if (request.content_length or 0) > MAX_BODY_BYTES:
            log.warning(
                "gitea hook %s refused with 413: body over %d bytes", delivery_id, MAX_BODY_BYTES
            )
            return web.Response(status=413)
        try:
            body = await request.content.read(MAX_BODY_BYTES + 1)
        except (OSError, ValueError, aiohttp.ClientPayloadError) as e:
            log.warning(
                "gitea hook %s refused with 400: body unreadable (%s)",
                delivery_id,
                type(e).__name__,
            )
            return web.Response(status=400)
        if len(body) > MAX_BODY_BYTES:
            log.warning(
                "gitea hook %s refused with 413: body over %d bytes", delivery_id, MAX_BODY_BYTES
            )
            return web.Response(status=413)
        verdict = webhook_verdict(
            body=body,
            secret=secret,
            signature=request.headers.get("X-Gitea-Signature"),
            hub_signature=request.headers.get("X-Hub-Signature-256"),
            event=request.headers.get("X-Gitea-Event"),
            now=now(),
            max_age_s=max_age_s,
        )
        if isinstance(verdict, WebhookRefusal):
            if verdict.ignored:
                log.info("gitea hook %s ignored: %s", delivery_id, verdict.reason)
            else:
                log.warning(
                    "gitea hook %s refused with %d: %s", delivery_id, verdict.status, verdict.reason
                )
            return web.Response(status=verdict.status, text=verdict.reason)
        supervisor.spawn(
            delivery.on_version(verdict, via="webhook"), name=f"gitea-hook:{delivery_id}"
        )
        return web.Response(status=202, text="accepted")

    return handle
