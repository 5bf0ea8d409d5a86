"""The registry boundary's errors: why the nodes would not be able to pull an image.

Every failure of a registry check leaves `bot.registry` as one of these; nothing from
aiohttp crosses the boundary (the original is kept as `__cause__`). `sentence()` is
short, says what to do, and is safe for a chat message: it never contains a
credential, an Authorization header or a raw response body.

    RegistryError                 any failed check; .sentence()
    ├── InvalidReference          the text is not an image reference (also a ValueError)
    ├── TagNotFound               no such tag; .suggestions holds up to 3 close tags
    ├── RepositoryNotFound        no such repository (tags/list: NAME_UNKNOWN)
    ├── AuthenticationFailed      401: token wrong, expired or revoked; or none configured
    ├── AccessDenied              403, or 401 with accepted credentials: no read access
    ├── PlatformNotAvailable      the image is not built for the nodes' platform
    ├── MalformedManifest         the registry served a manifest we cannot read
    └── RegistryUnavailable       refused, DNS, TLS, timeout, 5xx or 429 after retries
        └── RateLimited           429 (or 503 + Retry-After) on the last attempt; .retry_after_s
"""

from __future__ import annotations

from collections.abc import Sequence

from commands import images
from commands.images import ImageReference, Platform


class RegistryError(Exception):
    """A registry check failed. `sentence()` is what a person is told."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)

    def sentence(self) -> str:
        return "the registry check failed"

    def __str__(self) -> str:
        return self.sentence()


class InvalidReference(RegistryError, images.InvalidReference):
    """Not an image reference (wraps `commands.images.InvalidReference`)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def sentence(self) -> str:
        return self.detail


def _names(items: Sequence[object]) -> str:
    return ", ".join(f"`{item}`" for item in items)


class TagNotFound(RegistryError):
    def __init__(self, ref: ImageReference, suggestions: Sequence[str] = ()) -> None:
        super().__init__(ref, tuple(suggestions))
        self.ref = ref
        self.suggestions = tuple(suggestions)

    def sentence(self) -> str:
        what = self.ref.tag or self.ref.digest or "latest"
        text = f"there is no tag `{what}` in `{self.ref.name}`"
        if self.suggestions:
            return f"{text}; did you mean {_names(self.suggestions)}?"
        return f"{text}; check the tag was pushed (CI may still be building it)"


class RepositoryNotFound(RegistryError):
    def __init__(self, ref: ImageReference) -> None:
        super().__init__(ref)
        self.ref = ref

    def sentence(self) -> str:
        return (
            f"there is no repository `{self.ref.repository}` on `{self.ref.registry}`; "
            "check the image name"
        )


class AuthenticationFailed(RegistryError):
    """401 with credentials (wrong, expired or revoked), or none configured."""

    def __init__(self, registry: str, username: str | None) -> None:
        super().__init__(registry, username)
        self.registry = registry
        self.username = username

    def sentence(self) -> str:
        if self.username is None:
            return (
                f"`{self.registry}` needs credentials and none are configured: set "
                "DECKHAND_REGISTRY_USERNAME and DECKHAND_REGISTRY_TOKEN (or a docker config); "
                "a private image also looks missing without them"
            )
        return (
            f"`{self.registry}` rejected the token of `{self.username}` "
            "(wrong, expired or revoked): issue a new one and update DECKHAND_REGISTRY_TOKEN "
            "and the pods' pull secret"
        )


class AccessDenied(RegistryError):
    """Valid credentials that may not read the repository (403, Gitea 401, insufficient_scope)."""

    def __init__(self, ref: ImageReference, username: str | None) -> None:
        super().__init__(ref, username)
        self.ref = ref
        self.username = username

    def sentence(self) -> str:
        who = f"`{self.username}`" if self.username else "an anonymous user"
        return (
            f"{who} may not read `{self.ref.name}`: grant it read access to the package "
            "(on Gitea a token with the read:package scope and access to the owner)"
        )


class PlatformNotAvailable(RegistryError):
    def __init__(
        self, ref: ImageReference, wanted: Platform, available: Sequence[Platform]
    ) -> None:
        super().__init__(ref, wanted, tuple(available))
        self.ref = ref
        self.wanted = wanted
        self.available = tuple(available)

    def sentence(self) -> str:
        only = _names(self.available) if self.available else "no platform at all"
        return (
            f"`{self.ref}` is not built for {self.wanted} (only {only}), so the nodes would "
            f"fail with `exec format error`: rebuild with "
            f"`docker buildx build --platform {self.wanted}`"
        )


class MalformedManifest(RegistryError):
    def __init__(self, ref: ImageReference, detail: str) -> None:
        super().__init__(ref, detail)
        self.ref = ref
        self.detail = detail

    def sentence(self) -> str:
        return (
            f"the registry's manifest for `{self.ref}` is unusable ({self.detail}): push it again"
        )


class RegistryUnavailable(RegistryError):
    """No usable answer: connection refused, DNS, TLS, timeout, 5xx, 429 after retries."""

    def __init__(self, registry: str, cause: str) -> None:
        super().__init__(registry, cause)
        self.registry = registry
        self.cause = cause

    def sentence(self) -> str:
        return f"could not check `{self.registry}`: {self.cause}; try again in a minute"


class RateLimited(RegistryUnavailable):
    """Throttled on the last attempt; `retry_after_s` is the server's `Retry-After`."""

    def __init__(self, registry: str, cause: str, retry_after_s: float | None) -> None:
        super().__init__(registry, cause)
        self.retry_after_s = retry_after_s
