"""One registry request, done right: scheme, deadline, retries, Retry-After, auth, 401/403.

`Transport.call()` either returns a reply whose status is not 401/403/5xx/429, or
raises a `RegistryError`. It is the only place in `bot.registry` that touches aiohttp
for `/v2` requests, and it translates every aiohttp failure at this boundary.

Retries follow `RegistrySettings.retry_backoff_s` (one more attempt than waits) for
connection failures, timeouts and 5xx; a 429 (or 503) with `Retry-After` waits that
long when it is at most `max_retry_after_s`. Every attempt has its own deadline
(`timeout_s`) and every retry is logged with its attempt number.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp
from multidict import CIMultiDict

from bot.registry.auth import Authenticator, parse_challenges
from bot.registry.credentials import CredentialStore, normalize_host
from bot.registry.errors import AccessDenied, AuthenticationFailed, RateLimited, RegistryUnavailable
from bot.settings import RegistrySettings
from commands.images import ImageReference

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDict[str]
    challenges: tuple[str, ...]
    body: bytes
    url: str


def is_loopback(host: str) -> bool:
    """`127.0.0.1:5000`, `[::1]:5000`, `localhost` -> True."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").split("]:")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent/unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Transport:
    """Requests to registries with one `Authenticator` and one `CredentialStore`."""

    def __init__(
        self,
        settings: RegistrySettings,
        session: aiohttp.ClientSession,
        credentials: CredentialStore,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.session = session
        self.credentials = credentials
        self.auth = Authenticator(clock=clock)
        self._sleep = sleep
        self._insecure = {normalize_host(h) for h in settings.insecure_registries}

    def base_url(self, registry: str) -> str:
        """HTTPS, except loopback and `insecure_registries`. Docker Hub's API host."""
        host = "registry-1.docker.io" if registry == "docker.io" else registry
        plain = is_loopback(host) or normalize_host(registry) in self._insecure
        return f"{'http' if plain else 'https'}://{host}"

    def username(self, registry: str) -> str | None:
        creds = self.credentials.for_registry(registry)
        return creds.username if creds else None

    async def call(
        self, method: str, ref: ImageReference, path: str, *, accept: str | None = None
    ) -> Reply:
        """`method path` for `ref`'s repository, authenticated; 401/403 become errors."""
        registry = ref.registry
        url = urljoin(self.base_url(registry) + "/", path)
        creds = self.credentials.for_registry(registry)
        scope = f"repository:{ref.repository}:pull"
        sent = self.auth.header(registry, scope, creds)
        reply = await self.send(method, url, registry, auth=sent, accept=accept)
        if reply.status == 401:
            challenges = parse_challenges(reply.challenges)
            fresh = await self.auth.answer(
                self.session,
                registry,
                scope,
                challenges,
                creds,
                timeout_s=self.settings.timeout_s,
            )
            if fresh is None:  # nothing to answer with: no credentials, or no known scheme
                raise AuthenticationFailed(registry, creds.username if creds else None)
            if fresh != sent:  # re-challenge once (an expired token, or the first request)
                reply = await self.send(method, url, registry, auth=fresh, accept=accept)
            if reply.status == 401:
                raise await self._explain_401(ref, fresh)
        if reply.status == 403:
            raise AccessDenied(ref, creds.username if creds else None)
        return reply

    async def _explain_401(
        self, ref: ImageReference, sent: str
    ) -> AuthenticationFailed | AccessDenied:
        """Credentials were presented and still 401: wrong credentials, or no access?"""
        creds = self.credentials.for_registry(ref.registry)
        if creds is None:
            return AuthenticationFailed(ref.registry, None)
        if sent.startswith("Bearer "):
            # The token endpoint accepted the credentials (it raises otherwise), so the
            # user exists but may not read this repository (Gitea: 401 `Gitea Package
            # API`; distribution: `error="insufficient_scope"`).
            return AccessDenied(ref, creds.username)
        # Basic: ask the registry's root whether these credentials are valid at all.
        probe = await self.send(
            "GET", self.base_url(ref.registry) + "/v2/", ref.registry, auth=sent
        )
        if probe.status == 200:
            return AccessDenied(ref, creds.username)
        return AuthenticationFailed(ref.registry, creds.username)

    async def send(
        self,
        method: str,
        url: str,
        registry: str,
        *,
        auth: str | None = None,
        accept: str | None = None,
        retries: bool = True,
    ) -> Reply:
        """One request with retries (`retries=False`: exactly one attempt, for pollers that
        keep their own pace); raises `RegistryUnavailable` when none succeeds, `RateLimited`
        when the last attempt was throttled."""
        headers = {"User-Agent": "deckhand"}
        if auth:
            headers["Authorization"] = auth
        if accept:
            headers["Accept"] = accept
        waits = list(self.settings.retry_backoff_s) if retries else []
        attempts = len(waits) + 1
        path = url.split("://", 1)[-1].partition("/")[2]
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    async with self.session.request(method, url, headers=headers) as resp:
                        body = await resp.read()
                        reply = Reply(
                            resp.status,
                            CIMultiDict(resp.headers),
                            tuple(resp.headers.getall("WWW-Authenticate", ())),
                            body,
                            str(resp.url),
                        )
            except TimeoutError:
                problem = f"no answer within {self.settings.timeout_s:g} s"
            except aiohttp.ClientConnectorCertificateError as exc:
                raise RegistryUnavailable(registry, "its TLS certificate is not trusted") from exc
            except aiohttp.ClientSSLError as exc:
                raise RegistryUnavailable(registry, "the TLS handshake failed") from exc
            except aiohttp.ClientConnectorDNSError as exc:
                raise RegistryUnavailable(registry, "its host name does not resolve") from exc
            except aiohttp.ClientConnectorError as exc:
                problem = f"connection failed ({exc.os_error.strerror or 'refused'})"
            except aiohttp.ClientError as exc:
                problem = f"the connection broke ({type(exc).__name__})"
            else:
                after = retry_after_s(reply.headers.get("Retry-After"))
                if reply.status == 429 or (reply.status == 503 and after is not None):
                    problem = f"rate limited (HTTP {reply.status})"
                    if after is not None and after > self.settings.max_retry_after_s:
                        raise RateLimited(
                            registry, f"rate limited: asked to wait {after:.0f} s", after
                        )
                    delay = after
                elif reply.status >= 500:
                    problem = f"HTTP {reply.status}"
                else:
                    return reply
            if attempt == attempts:
                said = f"{problem} after {attempts} attempts"
                if problem.startswith("rate limited"):
                    raise RateLimited(registry, said, delay)
                raise RegistryUnavailable(registry, said)
            wait = waits[attempt - 1] if delay is None else delay
            log.warning(
                "registry %s: %s /%s attempt %d/%d failed: %s; retrying in %.2f s",
                registry,
                method,
                path.split("?")[0],
                attempt,
                attempts,
                problem,
                wait,
            )
            await self._sleep(wait)
        raise AssertionError("unreachable")
