"""The Gitea stand-in's package webhooks and packages API for new versions.

Covers: a pushed tag (HTTP push and in-process seed) POSTs Gitea's `PackagePayload`
(action `created`, package name/version/creator/created_at) to each configured hook with
Gitea's headers (`X-Gitea-Event: package`, `X-Gitea-Delivery`, `X-Gitea-Signature` and
`X-Hub-Signature-256` = HMAC-SHA256 of the raw body); a multi-arch push also announces
its untagged `sha256:` children, as Gitea does; a moved tag sends nothing; the packages
API lists the new version with `created_at` and `creator`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import Platform, build_image
from tests.fixtures.registry import ADMIN_TOKEN

SECRET = "hook-secret-1"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks/gitea", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hooks/gitea", got
    await runner.cleanup()


async def test_a_pushed_tag_is_posted_signed_as_gitea_signs(
    gitea_registry: GiteaRegistry, receiver: tuple[str, list[Any]]
) -> None:
    url, got = receiver
    gitea_registry.add_webhook(url, SECRET)
    gitea_registry.seed("admin/honeydue-api", "abc1234", build_image(salt="x"), creator="alice")
    (sent,) = await gitea_registry.webhooks.wait_sent(1)
    assert sent.status == 204
    headers, body = got[0]
    assert headers["X-Gitea-Event"] == "package"
    assert headers["X-Gitea-Delivery"] == sent.delivery
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Gitea-Signature"] == expected
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["action"] == "created"
    package = payload["package"]
    assert (package["name"], package["version"], package["type"]) == (
        "honeydue-api",
        "abc1234",
        "container",
    )
    assert package["creator"]["login"] == "alice"
    assert package["created_at"].endswith("Z")


async def test_multi_arch_children_are_versions_too_and_a_moved_tag_is_silent(
    gitea_registry: GiteaRegistry, receiver: tuple[str, list[Any]]
) -> None:
    url, _got = receiver
    gitea_registry.add_webhook(url, SECRET)
    both = (Platform("linux", "amd64"), Platform("linux", "arm64"))
    gitea_registry.seed("admin/honeydue-api", "def5678", build_image(platforms=both, salt="m"))
    sent = await gitea_registry.webhooks.wait_sent(3)
    versions = [s.version for s in sent]
    assert versions[-1] == "def5678"
    assert all(v.startswith("sha256:") for v in versions[:2])
    gitea_registry.seed("admin/honeydue-api", "def5678", build_image(salt="moved"))
    gitea_registry.seed("admin/honeydue-api", "0aa0aa0", build_image(salt="next"))
    sent = await gitea_registry.webhooks.wait_sent(4)
    assert [s.version for s in sent][3:] == ["0aa0aa0"]  # the moved tag sent nothing


async def test_the_packages_api_lists_the_new_version_with_creator(
    gitea_registry: GiteaRegistry,
) -> None:
    gitea_registry.seed("admin/honeydue-api", "abc1234", build_image(salt="y"), creator="alice")
    basic = base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{gitea_registry.url}/api/v1/packages/admin",
            params={"type": "container", "q": "honeydue-api"},
            headers={"Authorization": f"Basic {basic}"},
        ) as resp,
    ):
        rows = await resp.json()
    row = next(r for r in rows if r["version"] == "abc1234")
    assert row["creator"]["login"] == "alice"
    assert row["created_at"].endswith("Z")
