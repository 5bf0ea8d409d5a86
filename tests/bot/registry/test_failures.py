"""When the registry misbehaves: every failure is one error class, within its deadline.

Covers: connection refused, a socket that accepts and never answers, 500 retried then
given up, 500 retried then recovered, 429 with Retry-After honoured (and refused when
too long), a malformed manifest, a manifest missing fields, an index pointing at a
missing child, a Bearer token expiring mid-session (re-challenge), and that no
credential ever reaches a log line or an error text.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from bot.registry import (
    AuthenticationFailed,
    Credentials,
    MalformedManifest,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    TagNotFound,
)
from commands.images import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import OCI_MANIFEST, build_image
from tests.bot.registry.conftest import fast_settings
from tests.fixtures.registry import ADMIN_TOKEN

AMD64 = Platform("linux", "amd64")
ADMIN = Credentials("admin", SecretStr(ADMIN_TOKEN))
REF_PATH = "admin/honeydue-api:237c6b9"


class Sleeps:
    """Records waits instead of sleeping: retries are tested without wall-clock time."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def checker(gitea_registry: GiteaRegistry, sleeps: Sleeps) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(fast_settings(), credentials=ADMIN, sleep=sleeps) as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that completes TCP handshakes (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


async def test_connection_refused(closed_port: int, sleeps: Sleeps) -> None:
    async with RegistryClient(fast_settings(), credentials=ADMIN, sleep=sleeps) as client:
        with pytest.raises(RegistryUnavailable) as info:
            await client.inspect(f"127.0.0.1:{closed_port}/admin/api:v1", platform=AMD64)
    assert "connection failed" in info.value.sentence()
    assert "after 3 attempts" in info.value.sentence()
    assert sleeps.waits == [0.01, 0.01]


async def test_hanging_registry_hits_the_deadline(silent_port: int) -> None:
    settings = fast_settings(timeout_s=0.2, retry_backoff_s=[0.01])
    # The silent registry never answers: only the client's deadline can end this call
    # (the outer timeout, 25 times longer than both attempts, only guards against a hang).
    async with RegistryClient(settings, credentials=ADMIN) as client, asyncio.timeout(10):
        with pytest.raises(RegistryUnavailable, match=r"no answer within 0\.2 s"):
            await client.resolve(f"127.0.0.1:{silent_port}/admin/api:v1")


async def test_500_retried_then_unavailable(
    gitea_registry: GiteaRegistry, checker: RegistryClient, caplog: pytest.LogCaptureFixture
) -> None:
    gitea_registry.fail_next(3, 500)
    with (
        caplog.at_level(logging.WARNING, logger="bot.registry"),
        pytest.raises(RegistryUnavailable, match="HTTP 500 after 3 attempts"),
    ):
        await checker.inspect(f"{gitea_registry.host}/{REF_PATH}", platform=AMD64)
    assert "attempt 1/3" in caplog.text
    assert "attempt 2/3" in caplog.text


async def test_500_retried_then_recovers(
    gitea_registry: GiteaRegistry, checker: RegistryClient, sleeps: Sleeps
) -> None:
    gitea_registry.fail_next(2, 502)
    verdict = await checker.inspect(f"{gitea_registry.host}/{REF_PATH}", platform=AMD64)
    assert verdict.platform == AMD64
    assert sleeps.waits == [0.01, 0.01]


async def test_429_retry_after_is_honoured(
    gitea_registry: GiteaRegistry, checker: RegistryClient, sleeps: Sleeps
) -> None:
    gitea_registry.fail_next(1, 429, retry_after=0.5, match="/manifests/")
    digest = await checker.resolve(f"{gitea_registry.host}/{REF_PATH}")
    assert digest.startswith("sha256:")
    assert sleeps.waits == [0.5]


async def test_429_retry_after_too_long(
    gitea_registry: GiteaRegistry, checker: RegistryClient, sleeps: Sleeps
) -> None:
    gitea_registry.fail_next(1, 429, retry_after=120)
    with pytest.raises(RegistryUnavailable, match="asked to wait 120 s"):
        await checker.resolve(f"{gitea_registry.host}/{REF_PATH}")
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schemaVersion": 2, "layers": []}', "missing or mistyped"),
        (b'{"schemaVersion": 1, "fsLayers": []}', "schema 1"),
    ],
)
async def test_malformed_manifest(
    gitea_registry: GiteaRegistry, checker: RegistryClient, body: bytes, detail: str
) -> None:
    gitea_registry.put_raw_manifest("admin/honeydue-api", "broken", body, OCI_MANIFEST)
    with pytest.raises(MalformedManifest) as info:
        await checker.inspect(f"{gitea_registry.host}/admin/honeydue-api:broken", platform=AMD64)
    assert detail in info.value.sentence()
    assert body.decode() not in info.value.sentence()


async def test_index_with_missing_child(
    gitea_registry: GiteaRegistry, checker: RegistryClient
) -> None:
    image = build_image(platforms=[AMD64, Platform("linux", "arm64")])
    gitea_registry.put_raw_manifest(
        "admin/honeydue-api", "orphan", image.top.body, image.top.media_type
    )
    with pytest.raises(MalformedManifest, match="which is missing"):
        await checker.inspect(f"{gitea_registry.host}/admin/honeydue-api:orphan", platform=AMD64)


async def test_digest_reference_missing(
    gitea_registry: GiteaRegistry, checker: RegistryClient
) -> None:
    with pytest.raises(TagNotFound):
        await checker.resolve(f"{gitea_registry.host}/admin/honeydue-api@sha256:{'0' * 64}")


async def test_token_expired_by_the_registry_is_rechallenged(
    gitea_registry: GiteaRegistry, checker: RegistryClient
) -> None:
    ref = f"{gitea_registry.host}/{REF_PATH}"
    await checker.resolve(ref)
    gitea_registry.expire_tokens()  # our cache still believes in the token
    await checker.resolve(ref)
    assert gitea_registry.count("GET", "/v2/token") == 2
    assert [r.status for r in gitea_registry.requests if r.method == "HEAD"] == [401, 200, 401, 200]


async def test_expired_bearer_token_recovers(gitea_registry: GiteaRegistry) -> None:
    now = [0.0]
    ref = f"{gitea_registry.host}/{REF_PATH}"
    async with RegistryClient(fast_settings(), credentials=ADMIN, clock=lambda: now[0]) as c:
        await c.resolve(ref)
        gitea_registry.revoke_token("nothing")  # no-op: the cached token stays valid
        now[0] += 3600  # our cache says expired: a fresh challenge and token
        await c.resolve(ref)
    assert gitea_registry.count("GET", "/v2/token") == 2


async def test_no_credential_in_logs_or_errors(
    gitea_registry: GiteaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-wrong-token-value"
    ref = f"{gitea_registry.host}/{REF_PATH}"
    errors: list[RegistryError] = []
    with caplog.at_level(logging.DEBUG):
        async with RegistryClient(fast_settings(), credentials=ADMIN) as client:
            await client.resolve(ref)  # obtains and caches a bearer token
            gitea_registry.revoke_token(ADMIN_TOKEN)
            with pytest.raises(AuthenticationFailed) as revoked:
                await client.resolve(ref)
            errors.append(revoked.value)
        wrong = Credentials("admin", SecretStr(secret))
        async with RegistryClient(fast_settings(), credentials=wrong) as client:
            with pytest.raises(AuthenticationFailed) as bad:
                await client.inspect(ref, platform=AMD64)
            errors.append(bad.value)
    bearer_tokens = gitea_registry.issued_tokens()
    assert bearer_tokens
    forbidden = [
        ADMIN_TOKEN,
        secret,
        base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode(),
        base64.b64encode(f"admin:{secret}".encode()).decode(),
        *bearer_tokens,
    ]
    texts = [caplog.text] + [f"{e} {e!r} {e.sentence()} {e.args}" for e in errors]
    texts += [repr(ADMIN), str(ADMIN), repr(wrong)]
    for text in texts:
        for value in forbidden:
            assert value not in text
    assert caplog.records  # the capture did see the client's debug lines
