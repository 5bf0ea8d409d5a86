"""Answering a registry's `WWW-Authenticate` challenges: Bearer, Basic or anonymous.

`parse_challenges()` is pure: it reads every `WWW-Authenticate` header (a response may
carry several, and one header may hold several challenges) with quoted parameters that
contain commas. `Authenticator` keeps what was learnt per registry: Bearer tokens
cached per (registry, scope) until `expires_in` (default 60 s) runs out, or the fact
that a registry takes Basic credentials directly.

Anonymous access is only what happens when no credentials are configured: Deckhand
never falls back to it when credentials exist (a ghost token on Gitea reads public
images only, and older versions leaked private ones).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp

from bot.registry.credentials import Credentials
from bot.registry.errors import AuthenticationFailed, RegistryUnavailable

log = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL_S = 60.0
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


@dataclass(frozen=True)
class Challenge:
    """One challenge: `scheme` lowercased, parameter names lowercased."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(headers: Sequence[str]) -> list[Challenge]:
    """Every challenge in every `WWW-Authenticate` header value, in order (pure).

    `Bearer realm="a,b",service="s", Basic realm="x"` is two challenges. Malformed
    trailing text is ignored rather than raised: a challenge is a hint, not a contract.
    """
    result: list[Challenge] = []
    for header in headers:
        result.extend(_parse_one_header(header))
    return result


def _parse_one_header(text: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    i, n = 0, len(text)
    current: Challenge | None = None
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        start = i
        while i < n and text[i] in _TOKEN_CHARS:
            i += 1
        token = text[start:i]
        if not token:
            i += 1  # skip a stray character
            continue
        j = i
        while j < n and text[j] in " \t":
            j += 1
        if j < n and text[j] == "=" and current is not None:
            i = j + 1
            while i < n and text[i] in " \t":
                i += 1
            value, i = _read_value(text, i)
            current.params[token.lower()] = value
        elif j < n and text[j] == "=" and current is None:
            i = j + 1  # a parameter before any scheme: skip its value
            _, i = _read_value(text, i)
        else:
            current = Challenge(token.lower())
            challenges.append(current)
            i = j
    return challenges


def _read_value(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    if i < n and text[i] == '"':
        i += 1
        chars: list[str] = []
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n:
                i += 1
            chars.append(text[i])
            i += 1
        return "".join(chars), i + 1
    start = i
    while i < n and text[i] not in ", \t":
        i += 1
    return text[start:i], i


@dataclass
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """What to send as `Authorization` to each registry, and how to get it.

    Bearer is preferred when offered (Docker's choice); Basic is used when it is the
    only challenge. Tokens are fetched with Basic credentials (none when anonymous).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._basic_registries: set[str] = set()

    def header(self, registry: str, scope: str, credentials: Credentials | None) -> str | None:
        """The cached `Authorization` value for a request, or None (send none)."""
        token = self._tokens.get((registry, scope))
        if token is not None and self._clock() < token.expires_at:
            return f"Bearer {token.value}"
        if registry in self._basic_registries and credentials is not None:
            return credentials.basic()
        return None

    def forget(self, registry: str, scope: str) -> None:
        self._tokens.pop((registry, scope), None)

    async def answer(
        self,
        session: aiohttp.ClientSession,
        registry: str,
        scope: str,
        challenges: Sequence[Challenge],
        credentials: Credentials | None,
        *,
        timeout_s: float,
    ) -> str | None:
        """A fresh `Authorization` value answering `challenges`, or None if we have none.

        Raises `AuthenticationFailed` when a token endpoint refuses the credentials and
        `RegistryUnavailable` when it cannot be reached or answers nonsense.
        """
        self.forget(registry, scope)
        bearer = next((c for c in challenges if c.scheme == "bearer" and "realm" in c.params), None)
        if bearer is not None:
            return await self._fetch_token(
                session, registry, scope, bearer, credentials, timeout_s=timeout_s
            )
        if any(c.scheme == "basic" for c in challenges) and credentials is not None:
            self._basic_registries.add(registry)
            return credentials.basic()
        return None

    async def _fetch_token(
        self,
        session: aiohttp.ClientSession,
        registry: str,
        scope: str,
        challenge: Challenge,
        credentials: Credentials | None,
        *,
        timeout_s: float,
    ) -> str:
        query = {"scope": scope}
        if "service" in challenge.params:
            query["service"] = challenge.params["service"]
        realm = challenge.params["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        headers = {"Authorization": credentials.basic()} if credentials else {}
        username = credentials.username if credentials else None
        try:
            async with asyncio.timeout(timeout_s):
                async with session.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in (401, 403):
                        log.info(
                            "token endpoint of %s refused %s (%d)", registry, username, resp.status
                        )
                        raise AuthenticationFailed(registry, username)
                    if resp.status != 200:
                        raise RegistryUnavailable(
                            registry, f"its token endpoint answered HTTP {resp.status}"
                        )
                    body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RegistryUnavailable(
                registry, f"its token endpoint failed ({type(exc).__name__})"
            ) from exc
        if not isinstance(body, dict):
            raise RegistryUnavailable(registry, "its token endpoint answered without a token")
        value = body.get("token") or body.get("access_token")
        if not isinstance(value, str) or not value:
            raise RegistryUnavailable(registry, "its token endpoint answered without a token")
        expires_in = body.get("expires_in")
        ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else None
        # Re-challenge a bit before the registry would: clocks and latency differ.
        ttl = (ttl or DEFAULT_TOKEN_TTL_S) * 0.9
        self._tokens[(registry, scope)] = _Token(value, self._clock() + ttl)
        log.debug("got a bearer token for %s scope %s (ttl %.0fs)", registry, scope, ttl)
        return f"Bearer {value}"
