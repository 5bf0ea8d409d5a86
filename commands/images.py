"""Image references and platforms: parsing and comparison, nothing else.

Pure: no I/O, no clock, no network. Everything here is a value object or a function of
its arguments, so the chat front door, the registry client and the cluster code all
agree on what `gitea.example.com/admin/api:237c6b9` means.

The grammar is Docker's (distribution `reference` package):

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] component ( "/" component )*
    domain     := host [ ":" port ]   (first part with a "." or ":", or "localhost")
    component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
    digest     := "sha256:" 64 lowercase hex digits

A name without a domain lives on `docker.io`; a one-component name there is
`library/<name>`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRIES = frozenset({"index.docker.io", "registry-1.docker.io"})

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?"
)
TAG_PATTERN = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_NAME = 255


class InvalidReference(ValueError):
    """The text is not an image reference. `str(error)` is a sentence for a person."""


@dataclass(frozen=True)
class ImageReference:
    """A parsed, normalized image reference (`registry/repository[:tag][@digest]`)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse `text` with Docker's grammar and defaults; raise `InvalidReference`."""
        return parse(text)

    @property
    def name(self) -> str:
        """`registry/repository`, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What a pull asks the registry for: the digest, else the tag, else `latest`."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> ImageReference:
        """The same reference pinned to `digest` (validated; the tag is kept)."""
        if not DIGEST_PATTERN.fullmatch(digest):
            raise InvalidReference(
                f"`{digest}` is not a digest: expected sha256: and 64 hex digits"
            )
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> ImageReference:
        """The same repository at another tag (no digest)."""
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidReference(_bad_tag(tag))
        return replace(self, tag=tag, digest=None)

    def pinned(self) -> str:
        """`registry/repository:tag@sha256:…`: what a Deployment should run.

        Raises `ValueError` when there is no digest yet (resolve the tag first).
        """
        if self.digest is None:
            raise ValueError(f"{self} has no digest to pin")
        return str(self)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse(text: str) -> ImageReference:
    """Parse an image reference; raise `InvalidReference` with a sentence saying what's wrong."""
    raw = text.strip()
    if not raw:
        raise InvalidReference("an image reference is empty; expected e.g. `owner/name:tag`")
    if any(ch.isspace() for ch in raw):
        raise InvalidReference(f"`{raw}` is not an image reference: it contains spaces")
    rest, digest = raw, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST_PATTERN.fullmatch(digest):
            raise InvalidReference(
                f"`{raw}` has a malformed digest `{digest}`: expected sha256: and 64 hex digits"
            )
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:  # a colon after the last slash separates the tag, not a port
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not TAG_PATTERN.fullmatch(tag):
            raise InvalidReference(f"`{raw}`: " + _bad_tag(tag))
    registry, repository = _split_domain(rest, raw)
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_domain(name: str, raw: str) -> tuple[str, str]:
    if not name:
        raise InvalidReference(f"`{raw}` has no repository name")
    first, sep, remainder = name.partition("/")
    is_domain = sep and (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    )
    if is_domain:
        if not _DOMAIN.fullmatch(first):
            raise InvalidReference(f"`{raw}` has an invalid registry host `{first}`")
        registry, repository = first, remainder
        if registry in _LEGACY_REGISTRIES:
            registry = DEFAULT_REGISTRY
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    for component in repository.split("/"):
        if not _COMPONENT.fullmatch(component):
            hint = (
                "repository names must be lowercase"
                if component.lower() != component
                else "each path part must be lowercase letters and digits, joined by . _ or -"
            )
            raise InvalidReference(f"`{raw}` has an invalid repository name `{repository}`: {hint}")
    if len(registry) + 1 + len(repository) > _MAX_NAME:
        raise InvalidReference(f"`{raw}` is too long: names are at most {_MAX_NAME} characters")
    return registry, repository


def _bad_tag(tag: str) -> str:
    if not tag:
        return "the tag after `:` is empty"
    if len(tag) > 128:
        return f"the tag `{tag[:20]}…` is longer than 128 characters"
    return (
        f"the tag `{tag}` is not valid: letters, digits, `_`, `.` and `-` only, "
        "not starting with `.` or `-`"
    )


# Architecture spellings seen in `uname -m`, Debian and Go, mapped to OCI's names.
_ARCH_ALIASES = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", None),
}
# A variant that means the same as no variant for that architecture (containerd's normalization).
_DEFAULT_VARIANTS = {"arm64": "v8", "amd64": "v1", "arm": "v7"}


@dataclass(frozen=True)
class Platform:
    """An OCI platform: `os/architecture[/variant]`, e.g. `linux/amd64`, `linux/arm64/v8`."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse `os/arch[/variant]`; raise `ValueError` with a sentence when malformed."""
        parts = text.strip().lower().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"`{text}` is not a platform: expected os/architecture[/variant], e.g. linux/amd64"
            )
        os_name, arch = parts[0], parts[1]
        variant = parts[2] if len(parts) == 3 else None
        if arch in _ARCH_ALIASES:
            arch, alias_variant = _ARCH_ALIASES[arch]
            variant = variant or alias_variant
        return cls(os_name, arch, variant)

    def normalized(self) -> Platform:
        """The same platform with a default variant (arm64/v8, amd64/v1, arm/v7) dropped."""
        if self.variant is not None and _DEFAULT_VARIANTS.get(self.architecture) == self.variant:
            return Platform(self.os, self.architecture, None)
        return self

    def matches(self, other: Platform) -> bool:
        """True when an image built for one runs on the other (symmetric).

        `arm64` ≡ `arm64/v8`; `amd64` variants (v2, v3…) are accepted against a
        variant-less `amd64` because nodes don't advertise their micro-architecture level.
        """
        a, b = self.normalized(), other.normalized()
        if (a.os, a.architecture) != (b.os, b.architecture):
            return False
        if a.variant == b.variant:
            return True
        return a.architecture == "amd64" and (a.variant is None or b.variant is None)

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def tag_of(image: str | None) -> str | None:
    """The tag of `repo:tag[@sha256:…]` (what runs, as a Deployment spells it); None when
    there is none. Tolerant: a malformed digest or host still yields the tag. Pure."""
    name = (image or "").split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] or None if ":" in last else None


def suggest_tags(wanted: str, existing: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` tags from `existing` closest to `wanted`, best first (pure).

    Case-insensitive (Gitea stores tags lowercased). Tags that extend or are a prefix
    of `wanted` (a short SHA typed too short or too long) come first, then difflib's
    close matches; unrelated tags are not suggested.
    """
    tags = list(dict.fromkeys(existing))
    low = wanted.lower()
    by_lower: dict[str, str] = {}
    for tag in tags:
        by_lower.setdefault(tag.lower(), tag)
    prefixed = [
        t
        for t in tags
        if t.lower() != low and (t.lower().startswith(low) or low.startswith(t.lower()))
    ]
    exact_case = [by_lower[low]] if low in by_lower and by_lower[low] != wanted else []
    # difflib.get_close_matches breaks ties by reverse string order; keep the caller's
    # order instead (the client passes tags newest first when it knows their age).
    scored = []
    for index, (lower, tag) in enumerate(by_lower.items()):
        ratio = difflib.SequenceMatcher(None, low, lower).ratio()
        if ratio >= 0.6:
            scored.append((-ratio, index, tag))
    close = [tag for _, _, tag in sorted(scored)]
    result: list[str] = []
    for tag in exact_case + prefixed + close:
        if tag not in result and tag != wanted:
            result.append(tag)
    return result[:n]
