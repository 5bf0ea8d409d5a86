"""Image references and platforms as the sandbox's kubelet and puller read them.

The stand-in's own parser, written from the grammar of distribution's `reference`
package (`regexp.go`, `normalize.go`: `ParseNormalizedNamed`, `ParseDockerRef`) that
containerd and the kubelet use, not from Deckhand's `commands.images`: a parsing bug
in Deckhand must not be copied into the cluster that tests it.

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component ( "/" path-component )*
    domain    := host [ ":" port ]      host: DNS labels joined by ".", or "[ipv6]"

`splitDockerDomain`: the first part is a domain only when it has a "." or ":", is
`localhost`, or has an upper-case letter; else the name lives on `docker.io`, and a
one-part name there is `library/<name>`. `index.docker.io` is `docker.io`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

DOCKER_IO = "docker.io"
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_ANCHORED_ID = re.compile(r"[a-f0-9]{64}")
NAME_TOTAL_LENGTH_MAX = 255


class BadReference(ValueError):
    """distribution's `ErrReferenceInvalidFormat` and friends (the kubelet's InvalidImageName)."""


@dataclass(frozen=True)
class ImageRef:
    """A normalized reference: `registry/repository[:tag][@digest]`."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"


def parse_ref(text: str) -> ImageRef:
    """`ParseNormalizedNamed`: a normalized reference, or `BadReference`."""
    if _ANCHORED_ID.fullmatch(text):
        raise BadReference(f"invalid repository name ({text}), cannot specify 64-byte hex")
    domain, remainder = _split_docker_domain(text)
    path = remainder.split(":", 1)[0].split("@", 1)[0]
    if path.lower() != path:
        raise BadReference("repository name must be lowercase")
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None:
        raise BadReference("invalid reference format")
    name, tag, digest = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise BadReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} chars")
    return ImageRef(domain, name[len(domain) + 1 :], tag, digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if not slash or (
        "." not in first and ":" not in first and first != "localhost" and first == first.lower()
    ):
        domain, remainder = DOCKER_IO, name
    else:
        domain, remainder = first, rest
    if domain == "index.docker.io":
        domain = DOCKER_IO
    if domain == DOCKER_IO and "/" not in remainder:
        remainder = f"library/{remainder}"
    return domain, remainder


def containerd_ref(ref: ImageRef) -> str:
    """`reference.ParseDockerRef`: `:latest` when untagged; a digest wins over a tag."""
    if ref.digest:
        return f"{ref.name}@{ref.digest}"
    return f"{ref.name}:{ref.tag or 'latest'}"


# containerd's `platforms.Normalize`: the variant that means "no variant".
_DEFAULT_VARIANTS = {"arm64": "v8", "amd64": "v1", "arm": "v7"}


class _PlatformLike(Protocol):
    @property
    def os(self) -> str: ...
    @property
    def architecture(self) -> str: ...
    @property
    def variant(self) -> str | None: ...


@dataclass(frozen=True)
class Platform:
    """An OCI platform (`os/architecture[/variant]`) of a node or an image."""

    os: str
    architecture: str
    variant: str | None = None

    def normalized(self) -> Platform:
        if self.variant is not None and _DEFAULT_VARIANTS.get(self.architecture) == self.variant:
            return Platform(self.os, self.architecture, None)
        return self

    def matches(self, other: _PlatformLike) -> bool:
        """An image built for one runs on the other (`arm64` ≡ `arm64/v8`; an amd64 node
        does not advertise its micro-architecture level, so any amd64 variant runs)."""
        a = self.normalized()
        b = Platform(other.os, other.architecture, other.variant).normalized()
        if (a.os, a.architecture) != (b.os, b.architecture):
            return False
        return a.variant == b.variant or (
            a.architecture == "amd64" and (a.variant is None or b.variant is None)
        )

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base
