"""`RegistryClient`: will the nodes be able to pull this image?

    async with RegistryClient(settings.registry()) as registry:
        verdict = await registry.inspect(ref, platform=Platform("linux", "amd64"))

`inspect()` answers with an `ImageVerdict` (digest to pin, platforms, size, created,
labels) or raises one `RegistryError` whose `sentence()` says what to do. A warm check
of a present tag costs 1 HEAD + (1 GET index) + 1 GET manifest + 1 GET config blob.

A tag that is not there gets up to 3 close tags (`suggest_tags`) from the repository's
tag list; a repository that is not there says so. Without credentials a "not found" is
reported as missing credentials: private images look missing to anonymous users.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp

from bot.registry.credentials import Credentials, CredentialStore
from bot.registry.errors import (
    AuthenticationFailed,
    InvalidReference,
    MalformedManifest,
    PlatformNotAvailable,
    RegistryError,
    RegistryUnavailable,
    RepositoryNotFound,
    TagNotFound,
)
from bot.registry.manifests import (
    ACCEPT,
    ImageVerdict,
    Index,
    digest_of,
    parse_config,
    parse_manifest,
)
from bot.registry.transport import Reply, Transport
from bot.settings import RegistrySettings
from commands import images
from commands.images import ImageReference, Platform, suggest_tags

log = logging.getLogger(__name__)

TAGS_PAGE_SIZE = 100
MAX_TAG_PAGES = 50  # 5000 tags: past that, a listing is not worth the wait


def as_reference(ref: ImageReference | str) -> ImageReference:
    if isinstance(ref, ImageReference):
        return ref
    try:
        return images.parse(ref)
    except images.InvalidReference as exc:
        raise InvalidReference(str(exc)) from None


def _error_codes(body: bytes) -> set[str]:
    try:
        data = json.loads(body)
        return {str(e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)}
    except (ValueError, AttributeError, TypeError):
        return set()


def _next_link(reply: Reply) -> str | None:
    for value in reply.headers.getall("Link", ()):
        for part in value.split(","):
            target, _, params = part.partition(";")
            if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
                return target.strip().strip("<>")
    return None


class RegistryClient:
    """Registry checks over one HTTP session, opened and closed by `async with`."""

    def __init__(
        self,
        settings: RegistrySettings,
        *,
        credentials: CredentialStore | Credentials | None = None,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        tags_page_size: int = TAGS_PAGE_SIZE,
    ) -> None:
        if credentials is None:
            credentials = CredentialStore.from_settings(settings)
        elif isinstance(credentials, Credentials):
            credentials = CredentialStore(default=credentials)
        self._settings = settings
        self._credentials = credentials
        self._given_session = session
        self._sleep, self._clock = sleep, clock
        self._transport: Transport | None = None
        self._owned: aiohttp.ClientSession | None = None
        self._no_packages_api: set[str] = set()
        self._page_size = tags_page_size

    async def __aenter__(self) -> Self:
        session = self._given_session
        if session is None:
            session = self._owned = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._transport = Transport(
            self._settings, session, self._credentials, sleep=self._sleep, clock=self._clock
        )
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owned is not None:
            await self._owned.close()
            self._owned = None
        self._transport = None

    @property
    def settings(self) -> RegistrySettings:
        return self._settings

    @asynccontextmanager
    async def with_credentials(
        self, credentials: CredentialStore | Credentials
    ) -> AsyncIterator[RegistryClient]:
        """The same registry asked with other credentials (a namespace's pull secret),
        over this client's HTTP session: no second session, nothing to close."""
        other = RegistryClient(
            self._settings,
            credentials=credentials,
            session=self._t.session,
            sleep=self._sleep,
            clock=self._clock,
            tags_page_size=self._page_size,
        )
        async with other:
            yield other

    @property
    def _t(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("use `async with RegistryClient(...)` before calling it")
        return self._transport

    # public -----------------------------------------------------------------------------

    async def resolve(self, ref: ImageReference | str) -> str:
        """The digest `ref`'s tag points to (one HEAD with all four manifest types)."""
        reference = as_reference(ref)
        digest, _ = await self._head(reference)
        return digest

    async def inspect(self, ref: ImageReference | str, *, platform: Platform) -> ImageVerdict:
        """Check that `ref` exists, is readable and runs on `platform`; describe it."""
        reference = as_reference(ref)
        digest, _ = await self._head(reference)
        top = parse_manifest(reference, *await self._manifest(reference, digest))
        if isinstance(top, Index):
            available = tuple(child.platform for child in top.children)
            child = next((c for c in top.children if platform.matches(c.platform)), None)
            if child is None:
                raise PlatformNotAvailable(reference, platform, available)
            manifest = parse_manifest(reference, *await self._manifest(reference, child.digest))
            if isinstance(manifest, Index):
                raise MalformedManifest(reference, "an index nested in an index")
            platform_digest = child.digest
        else:
            manifest, platform_digest, available = top, digest, ()
        config = parse_config(reference, await self._blob(reference, manifest.config_digest))
        if not available:
            available = (config.platform,)
            if not platform.matches(config.platform):
                raise PlatformNotAvailable(reference, platform, available)
        return ImageVerdict(
            reference=reference,
            digest=digest,
            platform_digest=platform_digest,
            platform=config.platform,
            platforms=available,
            media_type=top.media_type,
            created=config.created,
            compressed_size=manifest.compressed_size,
            labels=config.labels,
        )

    async def list_tags(self, ref: ImageReference | str) -> list[str]:
        """The repository's tags: newest first when Gitea's packages API answers,
        otherwise in the registry's order. Raises `RepositoryNotFound`."""
        reference = as_reference(ref)
        tags = await self._all_tags(reference)
        return await self._newest_first(reference, tags)

    async def package_versions(
        self, registry: str, owner: str, *, query: str = "", limit: int = 50
    ) -> list[dict[str, object]]:
        """One page of Gitea's packages API for `owner` (`GET /api/v1/packages/{owner}?
        type=container&q=…`), newest first, as the JSON rows: ONE request, no retries (a
        poller keeps its own pace; `RateLimited` carries `Retry-After`). Raises
        `RegistryUnavailable` (no answer, 5xx, 403, not JSON) or `AuthenticationFailed` (401)."""
        creds = self._t.credentials.for_registry(registry)
        url = (
            f"{self._t.base_url(registry)}/api/v1/packages/{quote(owner)}"
            f"?type=container&q={quote(query)}&limit={limit}"
        )
        reply = await self._t.send(
            "GET", url, registry, auth=creds.basic() if creds else None, retries=False
        )
        if reply.status == 401:
            raise AuthenticationFailed(registry, creds.username if creds else None)
        if reply.status == 403:
            raise RegistryUnavailable(
                registry, "the packages API refused the token (HTTP 403; it needs read:package)"
            )
        if reply.status != 200:
            raise RegistryUnavailable(registry, f"packages API answered HTTP {reply.status}")
        try:
            rows = json.loads(reply.body)
        except ValueError:
            raise RegistryUnavailable(registry, "its packages API answer is not JSON") from None
        if not isinstance(rows, list):
            raise RegistryUnavailable(registry, "its packages API answer is not a list")
        return [r for r in rows if isinstance(r, dict)]

    # steps ------------------------------------------------------------------------------

    async def _head(self, ref: ImageReference) -> tuple[str, str | None]:
        path = f"/v2/{ref.repository}/manifests/{quote(ref.reference)}"
        reply = await self._t.call("HEAD", ref, path, accept=ACCEPT)
        if reply.status == 404:
            raise await self._not_found(ref)
        if reply.status != 200:
            raise RegistryUnavailable(ref.registry, f"unexpected HTTP {reply.status}")
        digest = reply.headers.get("Docker-Content-Digest")
        if not digest:  # some registries omit it on HEAD: the body's hash is the digest
            reply = await self._t.call("GET", ref, path, accept=ACCEPT)
            digest = digest_of(reply.body)
        return digest, reply.headers.get("Content-Type")

    async def _manifest(self, ref: ImageReference, digest: str) -> tuple[bytes, str | None]:
        reply = await self._t.call(
            "GET", ref, f"/v2/{ref.repository}/manifests/{digest}", accept=ACCEPT
        )
        if reply.status == 404:
            raise MalformedManifest(ref, f"it refers to {digest[:19]}…, which is missing")
        if reply.status != 200:
            raise RegistryUnavailable(ref.registry, f"unexpected HTTP {reply.status}")
        if digest_of(reply.body) != digest:
            raise MalformedManifest(ref, "its content does not match its digest")
        return reply.body, reply.headers.get("Content-Type")

    async def _blob(self, ref: ImageReference, digest: str) -> bytes:
        reply = await self._t.call("GET", ref, f"/v2/{ref.repository}/blobs/{digest}")
        if reply.status == 404:
            raise MalformedManifest(ref, "its config blob is missing")
        if reply.status != 200:
            raise RegistryUnavailable(ref.registry, f"unexpected HTTP {reply.status}")
        if digest_of(reply.body) != digest:
            raise MalformedManifest(ref, "its config blob does not match its digest")
        return reply.body

    async def _not_found(self, ref: ImageReference) -> RegistryError:
        """What a 404 on a manifest means: tag missing (with hints) or repository missing."""
        if self._t.username(ref.registry) is None:
            # Anonymous: a private image is indistinguishable from a missing one.
            return AuthenticationFailed(ref.registry, None)
        if ref.digest is not None:
            return TagNotFound(ref)
        try:
            tags = await self.list_tags(ref)
        except RepositoryNotFound as exc:
            return exc
        except RegistryError as exc:  # the hint is a bonus: report the missing tag anyway
            log.info("could not list tags of %s: %s", ref.name, exc.sentence())
            return TagNotFound(ref)
        return TagNotFound(ref, suggest_tags(ref.tag or "latest", tags))

    async def _all_tags(self, ref: ImageReference) -> list[str]:
        url = f"/v2/{ref.repository}/tags/list?n={self._page_size}"
        tags: dict[str, None] = {}
        seen_last: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            reply = await self._t.call("GET", ref, url)
            if reply.status == 404:
                raise RepositoryNotFound(ref)
            if reply.status != 200:
                raise RegistryUnavailable(ref.registry, f"unexpected HTTP {reply.status}")
            try:
                page = json.loads(reply.body).get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryUnavailable(ref.registry, "its tag list is not JSON") from None
            if not page:
                break
            tags.update(dict.fromkeys(str(t) for t in page))
            link = _next_link(reply)
            if link is None:
                break
            last = parse_qs(urlsplit(link).query).get("last", [""])[0]
            if last in seen_last:  # a registry looping on its last page
                break
            seen_last.add(last)
            url = link
        return list(tags)

    async def _newest_first(self, ref: ImageReference, tags: list[str]) -> list[str]:
        owner, _, image = ref.repository.partition("/")
        if not image or ref.registry in self._no_packages_api:
            return tags
        creds = self._t.credentials.for_registry(ref.registry)
        url = (
            f"{self._t.base_url(ref.registry)}/api/v1/packages/{quote(owner)}"
            f"?type=container&q={quote(image)}&limit=50"
        )
        try:
            reply = await self._t.send(
                "GET", url, ref.registry, auth=creds.basic() if creds else None
            )
            rows = json.loads(reply.body) if reply.status == 200 else None
        except (RegistryError, ValueError):
            rows = None
        if not isinstance(rows, list):
            self._no_packages_api.add(ref.registry)
            return tags
        created = {
            str(row.get("version")): str(row.get("created_at", ""))
            for row in rows
            if isinstance(row, dict) and row.get("name") == image
        }
        known = sorted((t for t in tags if t in created), key=lambda t: created[t], reverse=True)
        return known + [t for t in tags if t not in created]
