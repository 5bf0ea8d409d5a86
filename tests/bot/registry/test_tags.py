"""Listing tags: pagination over Link headers, Gitea's quirks, newest first, pull secrets.

Covers: Gitea's `Link: rel="next"` on the last page (stop on an empty page), a registry
that repeats its `last` (stop), newest-first order from Gitea's packages API, the real
registry's (unpaginated) listing, NAME_UNKNOWN, and a dockerconfigjson as credentials.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.registry import Credentials, RegistryClient, RepositoryNotFound
from bot.settings import RegistrySettings
from commands.images import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image, push_image
from tests.bot.registry.conftest import fast_settings
from tests.fixtures.registry import ADMIN_TOKEN, DistributionRegistry

ADMIN = Credentials("admin", SecretStr(ADMIN_TOKEN))


async def test_gitea_pages_and_newest_first(gitea_registry: GiteaRegistry) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = iter(start + timedelta(hours=h) for h in range(10))
    gitea_registry.store.clock = lambda: next(clock)
    for tag in ("bbb", "aaa", "ddd", "ccc", "eee"):  # pushed in this order
        gitea_registry.seed("admin/app", tag, build_image(salt=tag))
    async with RegistryClient(fast_settings(), credentials=ADMIN, tags_page_size=2) as client:
        tags = await client.list_tags(f"{gitea_registry.host}/admin/app")
    assert tags == ["eee", "ccc", "ddd", "aaa", "bbb"]
    pages = [
        r.query
        for r in gitea_registry.requests
        if r.path.endswith("/tags/list") and r.status == 200
    ]
    assert pages == ["n=2", "n=2&last=bbb", "n=2&last=ddd", "n=2&last=eee"]  # the last is empty


async def test_unknown_repository(gitea_registry: GiteaRegistry) -> None:
    async with RegistryClient(fast_settings(), credentials=ADMIN) as client:
        with pytest.raises(RepositoryNotFound):
            await client.list_tags(f"{gitea_registry.host}/admin/ghost")


async def test_registry_repeating_its_last_page() -> None:
    async def tags(request: web.Request) -> web.Response:
        return web.json_response(
            {"name": "a/b", "tags": ["x", "y"]},
            headers={"Link": '</v2/a/b/tags/list?n=2&last=y>; rel="next"'},
        )

    app = web.Application()
    app.router.add_get("/v2/a/b/tags/list", tags)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with RegistryClient(fast_settings(), credentials=ADMIN) as client:
            assert await client.list_tags(f"127.0.0.1:{port}/a/b") == ["x", "y"]
    finally:
        await runner.cleanup()


@pytest.mark.registry
async def test_real_registry_pagination(
    distribution_registry_htpasswd: DistributionRegistry,
) -> None:
    """The real registry's tag listing (2.8.2 does not paginate it, see below)."""
    reg = distribution_registry_htpasswd
    repo = f"admin/paged-{uuid.uuid4().hex[:8]}"
    for tag in ("v3", "v1", "v2"):
        await push_image(
            reg.url, build_image(salt=tag), repo, tag, username="admin", token=ADMIN_TOKEN
        )
    async with RegistryClient(fast_settings(), credentials=ADMIN, tags_page_size=2) as client:
        assert await client.list_tags(f"{reg.host}/{repo}") == ["v1", "v2", "v3"]
    answered = await reg.requests_until_now()
    pages = [p for _, p, status in answered if f"/v2/{repo}/tags/" in p and status == 200]
    # Measured: distribution 2.8.2 ignores `n` on tags/list (all tags, no Link header).
    assert pages == [f"/v2/{repo}/tags/list?n=2"]


async def test_pull_secret_as_credentials(gitea_registry: GiteaRegistry, tmp_path: Path) -> None:
    auth = base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode()
    config = tmp_path / "dockerconfig.json"
    config.write_text(json.dumps({"auths": {gitea_registry.host: {"auth": auth}}}))
    settings = RegistrySettings(docker_config=config, timeout_s=2, retry_backoff_s=[])
    async with RegistryClient(settings) as client:
        verdict = await client.inspect(
            f"{gitea_registry.host}/admin/honeydue-api:237c6b9",
            platform=Platform.parse("linux/amd64"),
        )
    assert verdict.revision is not None
