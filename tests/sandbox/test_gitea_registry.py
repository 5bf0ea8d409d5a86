"""The sandbox GiteaRegistry speaks Gitea's dialect; built images push anywhere.

Covers: the /v2/ challenge (two headers), /v2/token (user, ghost, wrong creds), Basic on
every route, manifests without Accept negotiation, MANIFEST_UNKNOWN / NAME_UNKNOWN,
private-by-default (Gitea's 401 `Basic realm="Gitea Package API"`), revoked tokens,
tags/list pagination with the Link-on-last-page quirk, the packages API, push over
HTTP (Gitea and the real docker-registry) and an OCI layout pushed by skopeo.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from commands.images import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import (
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    build_image,
    push_image,
    write_oci_layout,
)
from tests.fixtures.registry import ADMIN_TOKEN, DistributionRegistry

REPO = "admin/honeydue-api"


def basic(user: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


ADMIN = basic("admin", ADMIN_TOKEN)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_v2_challenges_with_bearer_and_basic(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gitea_registry.url}/v2/") as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]
        }
        challenges = resp.headers.getall("WWW-Authenticate")
    assert challenges == [
        f'Bearer realm="{gitea_registry.url}/v2/token",service="container_registry",scope="*"',
        "Basic",
    ]
    async with http.get(f"{gitea_registry.url}/v2/", headers=ADMIN) as resp:
        assert resp.status == 200


async def test_token_endpoint(gitea_registry: GiteaRegistry, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{gitea_registry.url}/v2/token?scope=x", headers=ADMIN) as resp:
        body = await resp.json()
    assert list(body) == ["token"]
    bearer = {"Authorization": f"Bearer {body['token']}"}
    async with http.head(f"{gitea_registry.url}/v2/{REPO}/manifests/237c6b9", headers=bearer) as r:
        assert r.status == 200
    async with http.get(f"{gitea_registry.url}/v2/token", headers=basic("admin", "nope")) as resp:
        assert resp.status == 401
    async with http.get(f"{gitea_registry.url}/v2/token") as resp:  # anonymous: ghost token
        ghost = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    async with http.head(f"{gitea_registry.url}/v2/{REPO}/manifests/237c6b9", headers=ghost) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"] == 'Basic realm="Gitea Package API"'
    gitea_registry.make_public("admin")
    async with http.head(f"{gitea_registry.url}/v2/{REPO}/manifests/237c6b9", headers=ghost) as r:
        assert r.status == 200


async def test_manifest_by_tag_and_digest_without_accept(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    url = f"{gitea_registry.url}/v2/{REPO}/manifests"
    async with http.head(f"{url}/237C6B9", headers=ADMIN) as resp:  # tags are case-insensitive
        assert resp.status == 200
        digest = resp.headers["Docker-Content-Digest"]
        assert resp.headers["Content-Type"] == OCI_MANIFEST
        assert resp.headers["ETag"] == f'"{digest}"'
        assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        length = int(resp.headers["Content-Length"])
    async with http.get(f"{url}/{digest}", headers={**ADMIN, "Accept": "text/plain"}) as resp:
        assert resp.status == 200
        assert len(await resp.read()) == length
    for missing in (f"{url}/nope", f"{gitea_registry.url}/v2/admin/ghost/manifests/x"):
        async with http.get(missing, headers=ADMIN) as resp:
            assert resp.status == 404
            assert (await resp.json())["errors"][0]["code"] == "MANIFEST_UNKNOWN"


async def test_private_and_scopes(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    gitea_registry.add_user("bob", "bob-token")
    gitea_registry.add_user("carol", "carol-token", can_read=False)
    head = f"{gitea_registry.url}/v2/{REPO}/manifests/237c6b9"
    for creds in (basic("bob", "bob-token"), basic("carol", "carol-token")):
        async with http.head(head, headers=creds) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == 'Basic realm="Gitea Package API"'
    gitea_registry.revoke_token(ADMIN_TOKEN)
    async with http.head(head, headers=ADMIN) as resp:
        assert resp.status == 401
        assert len(resp.headers.getall("WWW-Authenticate")) == 2


async def test_tags_pagination_and_name_unknown(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    for tag in ("aaa1111", "BBB2222", "ccc3333"):
        gitea_registry.seed(REPO, tag, build_image(salt=tag))
    base = f"{gitea_registry.url}/v2/{REPO}/tags/list"
    async with http.get(f"{base}?n=2", headers=ADMIN) as resp:
        assert (await resp.json())["tags"] == ["237c6b9", "aaa1111"]
        assert resp.headers["Link"] == f'</v2/{REPO}/tags/list?n=2&last=aaa1111>; rel="next"'
    async with http.get(f"{base}?n=2&last=aaa1111", headers=ADMIN) as resp:
        assert (await resp.json())["tags"] == ["bbb2222", "ccc3333"]
        assert "Link" in resp.headers  # even on the last page
    async with http.get(f"{base}?n=2&last=ccc3333", headers=ADMIN) as resp:
        assert (await resp.json())["tags"] == []
        assert "Link" not in resp.headers
    async with http.get(f"{gitea_registry.url}/v2/admin/ghost/tags/list", headers=ADMIN) as resp:
        assert resp.status == 404
        assert (await resp.json())["errors"][0]["code"] == "NAME_UNKNOWN"


async def test_packages_api_newest_first(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    times = iter([datetime(2030, 3, 1, tzinfo=UTC), datetime(2030, 2, 1, tzinfo=UTC)])
    gitea_registry.store.clock = lambda: next(times)
    gitea_registry.seed(REPO, "newer01", build_image(salt="n"))
    gitea_registry.seed("admin/other", "older01", build_image(salt="o"))
    url = f"{gitea_registry.url}/api/v1/packages/admin?type=container&q=honeydue&limit=50"
    async with http.get(url, headers={"Authorization": f"token {ADMIN_TOKEN}"}) as resp:
        rows = await resp.json()
        assert resp.headers["X-Total-Count"] == "2"
    assert [r["version"] for r in rows] == ["newer01", "237c6b9"]
    assert rows[0]["created_at"] == "2030-03-01T00:00:00Z"
    assert {"id", "owner", "name", "type", "creator", "html_url"} <= set(rows[0])
    async with http.get(url) as resp:
        assert resp.status == 403


async def test_push_multi_arch_over_http(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    image = build_image(platforms=[Platform("linux", "amd64"), Platform("linux", "arm64", "v8")])
    digest = await push_image(
        gitea_registry.url, image, "admin/multi", "v1", username="admin", token=ADMIN_TOKEN
    )
    assert digest == image.digest
    async with http.get(f"{gitea_registry.url}/v2/admin/multi/manifests/v1", headers=ADMIN) as r:
        assert r.headers["Content-Type"] == OCI_INDEX
        index = json.loads(await r.read())
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    # a second push of the same image only HEADs the blobs
    before = gitea_registry.count("POST")
    await push_image(
        gitea_registry.url, image, "admin/multi", "v2", username="admin", token=ADMIN_TOKEN
    )
    assert gitea_registry.count("POST") == before


async def test_fault_injection(gitea_registry: GiteaRegistry, http: aiohttp.ClientSession) -> None:
    gitea_registry.fail_next(1, 429, retry_after=2, match="/manifests/")
    url = f"{gitea_registry.url}/v2/{REPO}/manifests/237c6b9"
    async with http.head(url, headers=ADMIN) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (429, "2")
    async with http.head(url, headers=ADMIN) as resp:
        assert resp.status == 200
    assert [r.status for r in gitea_registry.requests[-2:]] == [429, 200]
    assert gitea_registry.requests[-1].auth == "Basic"


@pytest.mark.registry
async def test_push_to_real_registry(
    distribution_registry_htpasswd: DistributionRegistry, http: aiohttp.ClientSession
) -> None:
    reg = distribution_registry_htpasswd
    image = build_image(platforms=[Platform("linux", "amd64"), Platform("linux", "arm64")])
    await push_image(reg.url, image, "admin/pushed", "v1", username="admin", token=ADMIN_TOKEN)
    headers = {**ADMIN, "Accept": ", ".join(MANIFEST_TYPES)}
    async with http.head(f"{reg.url}/v2/admin/pushed/manifests/v1", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Docker-Content-Digest"] == image.digest
    # distribution negotiates: an OCI index asked for without its type is "unknown"
    async with http.get(f"{reg.url}/v2/admin/pushed/manifests/v1", headers=ADMIN) as resp:
        assert resp.status == 404
        assert (await resp.json())["errors"][0]["code"] == "MANIFEST_UNKNOWN"


@pytest.mark.registry
async def test_push_to_token_registry(
    distribution_registry_token: DistributionRegistry,
) -> None:
    reg = distribution_registry_token
    image = build_image()
    digest = await push_image(
        reg.url, image, "admin/pushed", "v1", username="admin", token=ADMIN_TOKEN
    )
    assert digest == image.digest
    assert ("PUT", "/v2/admin/pushed/manifests/v1", 201) in reg.requests()


@pytest.mark.registry
@pytest.mark.skipif(shutil.which("skopeo") is None, reason="!!! skopeo is not installed !!!")
def test_oci_layout_copied_by_skopeo(
    tmp_path: Path, distribution_registry_htpasswd: DistributionRegistry
) -> None:
    reg = distribution_registry_htpasswd
    image = build_image(platforms=[Platform("linux", "amd64"), Platform("linux", "arm64", "v8")])
    layout = write_oci_layout(tmp_path / "layout", image, "v1")
    result = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"admin:{ADMIN_TOKEN}",
            "--all",
            "--preserve-digests",
            f"oci:{layout}:v1",
            f"docker://{reg.host}/admin/skopeo:v1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert ("PUT", "/v2/admin/skopeo/manifests/v1", 201) in reg.requests()


async def test_set_down_refuses_connections(
    gitea_registry: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    await gitea_registry.set_down(True)
    with pytest.raises(aiohttp.ClientConnectorError):
        async with http.get(f"{gitea_registry.url}/v2/", headers=ADMIN):
            pass
    await gitea_registry.set_down(False)
    async with http.get(f"{gitea_registry.url}/v2/", headers=ADMIN) as resp:
        assert resp.status == 200
