"""The registry check's contract, run against every registry kind Deckhand meets.

Kinds (see conftest): the sandbox GiteaRegistry, the real CNCF `docker-registry` with
htpasswd auth, and with token auth. Images are pushed over HTTP, no Docker. Covers:
tag present (digest, platforms, size, created, labels), tag missing with suggestions,
repository missing, wrong password, revoked token, credentials without access,
anonymous access, arm64-only vs amd64 nodes, a multi-arch index, and the number of
requests a warm check costs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.registry import (
    AccessDenied,
    AuthenticationFailed,
    Credentials,
    CredentialStore,
    PlatformNotAvailable,
    RegistryClient,
    RepositoryNotFound,
    TagNotFound,
)
from commands.images import Platform
from sandbox.registry.images import build_image
from tests.bot.registry.conftest import Target, fast_settings

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
REVISION = "237c6b9f00d1e2f3a4b5c6d7e8f90a1b2c3d4e5f"


def client(creds: Credentials | None = Target.admin) -> RegistryClient:
    return RegistryClient(fast_settings(), credentials=creds or CredentialStore())


async def test_tag_present(target: Target) -> None:
    created = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    image = build_image(labels={"org.opencontainers.image.revision": REVISION}, created=created)
    digest = await target.push(image, "237c6b9")
    async with client() as registry:
        assert await registry.resolve(target.ref("237c6b9")) == digest
        verdict = await registry.inspect(target.ref("237c6b9"), platform=AMD64)
    assert verdict.digest == digest == verdict.platform_digest
    assert verdict.platforms == (AMD64,)
    assert verdict.created == created
    assert verdict.revision == REVISION
    assert not verdict.revision_mismatch()
    assert verdict.revision_mismatch("aaaaaaa")
    assert verdict.compressed_size == sum(len(b) for b in image.blobs.values())
    assert verdict.pinned == f"{target.ref('237c6b9')}@{digest}"


async def test_tag_missing_suggests_close_tags(target: Target) -> None:
    for tag in ("237c6b9", "237c6b8", "ffff000"):
        await target.push(build_image(salt=tag), tag)
    async with client() as registry:
        with pytest.raises(TagNotFound) as info:
            await registry.inspect(target.ref("237c6ba"), platform=AMD64)
    assert set(info.value.suggestions) == {"237c6b9", "237c6b8"}
    assert "did you mean" in info.value.sentence()
    assert "`237c6ba`" in info.value.sentence()


async def test_repository_missing(target: Target) -> None:
    await target.push(build_image(), "v1")  # the owner exists, the repository does not
    async with client() as registry:
        with pytest.raises(RepositoryNotFound) as info:
            await registry.inspect(target.ref("v1", repo="admin/no-such-app"), platform=AMD64)
    assert "admin/no-such-app" in info.value.sentence()


async def test_wrong_password(target: Target) -> None:
    await target.push(build_image(), "v1")
    async with client(Credentials("admin", SecretStr("wrong-token"))) as registry:
        with pytest.raises(AuthenticationFailed) as info:
            await registry.inspect(target.ref("v1"), platform=AMD64)
    assert info.value.username == "admin"
    assert "rejected the token of `admin`" in info.value.sentence()


async def test_revoked_token(target: Target) -> None:
    if target.revoke is None:
        pytest.skip(f"{target.kind}: htpasswd is read at start-up; nothing to revoke live")
    await target.push(build_image(), "v1")
    target.revoke()
    async with client() as registry:
        with pytest.raises(AuthenticationFailed, match="wrong, expired or revoked"):
            await registry.inspect(target.ref("v1"), platform=AMD64)


async def test_credentials_without_access(target: Target) -> None:
    if target.outsider is None:
        pytest.skip(f"{target.kind}: htpasswd has no per-repository access control")
    await target.push(build_image(), "v1")
    async with client(target.outsider) as registry:
        with pytest.raises(AccessDenied) as info:
            await registry.inspect(target.ref("v1"), platform=AMD64)
    assert info.value.sentence().startswith(f"`{target.outsider.username}` may not read")


async def test_anonymous_is_an_auth_problem(target: Target) -> None:
    await target.push(build_image(), "v1")
    async with client(None) as registry:
        for tag in ("v1", "missing"):
            with pytest.raises(AuthenticationFailed) as info:
                await registry.inspect(target.ref(tag), platform=AMD64)
            assert "none are configured" in info.value.sentence()


async def test_arm64_only_image_on_amd64_nodes(target: Target) -> None:
    await target.push(build_image(platforms=[ARM64]), "arm-only")
    async with client() as registry:
        with pytest.raises(PlatformNotAvailable) as info:
            await registry.inspect(target.ref("arm-only"), platform=AMD64)
        verdict = await registry.inspect(
            target.ref("arm-only"), platform=Platform("linux", "arm64")
        )
    assert info.value.available == (ARM64,)
    assert "linux/arm64" in info.value.sentence()
    assert "--platform linux/amd64" in info.value.sentence()
    assert verdict.platform == ARM64


async def test_multi_arch_index(target: Target) -> None:
    image = build_image(platforms=[ARM64, AMD64])
    digest = await target.push(image, "multi")
    async with client() as registry:
        verdict = await registry.inspect(target.ref("multi"), platform=AMD64)
    assert verdict.digest == digest  # the index: what a Deployment pins
    assert verdict.platform_digest == image.children[1].digest
    assert verdict.platforms == (ARM64, AMD64)
    assert verdict.platform == AMD64


@pytest.mark.parametrize(("platforms", "expected"), [([AMD64], 3), ([ARM64, AMD64], 4)])
async def test_warm_check_request_count(
    target: Target, platforms: list[Platform], expected: int
) -> None:
    await target.push(build_image(platforms=platforms), "v1")
    async with client() as registry:
        await registry.inspect(target.ref("v1"), platform=AMD64)  # cold: challenges, tokens
        before = len(await target.settled_requests())
        await registry.inspect(target.ref("v1"), platform=AMD64)
        warm = (await target.settled_requests())[before:]
    methods = [method for method, _ in warm]
    assert len(warm) == expected, warm
    assert methods[0] == "HEAD"
    assert all(m == "GET" for m in methods[1:])
    assert "/blobs/" in warm[-1][1]
