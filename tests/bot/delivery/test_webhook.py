"""`POST /hooks/gitea`, the door: served with no Bolt app (Socket Mode) beside /healthz,
refusing unsigned (401), forged (401), stale (400) and oversized (413) deliveries with
one WARNING line each, ignoring other events (202), and handing a created tag to the
delivery path in a supervised task (202 at once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.delivery.webhook import HOOK_PATH, MAX_BODY_BYTES, gitea_hook
from bot.http import build_http_app, serve_http
from bot.lifecycle import ReadinessState, Supervisor
from commands.delivery import PackageVersion

SECRET = "hook-secret"
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


class Seen:
    """Stands in for `Delivery` here: the door's contract is what it hands over."""

    def __init__(self) -> None:
        self.versions: list[tuple[PackageVersion, str]] = []

    async def on_version(self, version: PackageVersion, *, via: str) -> bool:
        self.versions.append((version, via))
        return True


@pytest.fixture
async def door() -> AsyncIterator[tuple[str, Seen, Supervisor]]:
    seen = Seen()
    supervisor = Supervisor(name="hook-test")
    hook = gitea_hook(
        seen,  # type: ignore[arg-type]
        supervisor=supervisor,
        secret=SECRET,
        max_age_s=300,
        now=lambda: NOW,
    )
    app = build_http_app(readiness=ReadinessState(), bolt_app=None, hooks={HOOK_PATH: hook})
    async with serve_http(app, host="127.0.0.1", port=0) as url:
        yield url + HOOK_PATH, seen, supervisor
    await supervisor.close(grace_s=1.0)


def payload(created: datetime = NOW, version: str = "237c6b8") -> bytes:
    package: dict[str, Any] = {
        "owner": {"login": "admin"},
        "creator": {"login": "alice"},
        "type": "container",
        "name": "honeydue-api",
        "version": version,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.dumps({"action": "created", "package": package}, indent=2).encode()


def signed(body: bytes, secret: str = SECRET, event: str = "package") -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Gitea-Event": event, "X-Gitea-Signature": sig, "X-Gitea-Delivery": "d-1"}


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (payload(), {"X-Gitea-Event": "package"}, 401),
        (payload(), signed(payload(), "forged"), 401),
        (payload(NOW - timedelta(hours=1)), signed(payload(NOW - timedelta(hours=1))), 400),
        (b"x" * (MAX_BODY_BYTES + 10), {"X-Gitea-Event": "package"}, 413),
        (payload(), signed(payload(), event="push"), 202),
        (payload(version="sha256:" + "a" * 64), signed(payload(version="sha256:" + "a" * 64)), 202),
    ],
)
async def test_refused_and_ignored_deliveries_hand_nothing_over(
    door: tuple[str, Seen, Supervisor],
    body: bytes,
    headers: dict[str, str],
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, seen, _ = door
    with caplog.at_level(logging.INFO, logger="bot.delivery.webhook"):
        assert await post(url, body, headers) == status
    assert seen.versions == []
    lines = [r for r in caplog.records if r.name == "bot.delivery.webhook"]
    assert len(lines) == 1
    assert (lines[0].levelno == logging.WARNING) is (status >= 400)
    assert SECRET not in lines[0].getMessage()


async def test_a_created_tag_is_accepted_and_handed_to_the_delivery_path(
    door: tuple[str, Seen, Supervisor],
) -> None:
    url, seen, supervisor = door
    body = payload()
    assert await post(url, body, signed(body)) == 202
    await supervisor.close(grace_s=1.0)  # the hand-over task has run
    ((version, via),) = seen.versions
    assert (version.version, version.creator, via) == ("237c6b8", "alice", "webhook")
