"""Manifests, indexes and image configs: raw JSON typed at the boundary, and the verdict.

Pure: functions of bytes, no I/O. Anything we cannot read raises `MalformedManifest`
with a short reason (never the body itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.registry.errors import MalformedManifest
from commands.images import ImageReference, Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# What the client accepts: distribution answers MANIFEST_UNKNOWN for a type not listed.
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
REVISION_LABEL = "org.opencontainers.image.revision"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Child:
    """One entry of an index: a platform and the digest of its manifest."""

    digest: str
    platform: Platform


@dataclass(frozen=True)
class Index:
    media_type: str
    children: tuple[Child, ...]


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config_digest: str
    compressed_size: int  # config + layers, as stored


@dataclass(frozen=True)
class ImageConfig:
    platform: Platform
    created: datetime | None
    labels: Mapping[str, str]


def _load(ref: ImageReference, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedManifest(ref, "not JSON") from None
    if not isinstance(data, dict):
        raise MalformedManifest(ref, "not a JSON object")
    return data


def parse_manifest(
    ref: ImageReference, body: bytes, content_type: str | None
) -> Index | ImageManifest:
    """An index or an image manifest, from the body and the served Content-Type."""
    data = _load(ref, body)
    media_type = str(data.get("mediaType") or (content_type or "").split(";")[0].strip())
    if data.get("schemaVersion") == 1 or "prettyjws" in media_type:
        raise MalformedManifest(ref, "the deprecated schema 1 format")
    is_index = media_type in INDEX_TYPES or (
        media_type not in MANIFEST_TYPES and "manifests" in data
    )
    try:
        if is_index:
            children = tuple(
                Child(str(m["digest"]), _platform(m.get("platform") or {}))
                for m in data["manifests"]
                if not _is_attestation(m)
            )
            return Index(media_type or OCI_INDEX, children)
        config = data["config"]
        size = int(config.get("size", 0)) + sum(int(layer["size"]) for layer in data["layers"])
        return ImageManifest(media_type or OCI_MANIFEST, str(config["digest"]), size)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MalformedManifest(ref, "a required field is missing or mistyped") from None


def _is_attestation(entry: Mapping[str, Any]) -> bool:
    # buildx attaches provenance as `unknown/unknown` entries: not something a node runs.
    annotations = entry.get("annotations") or {}
    platform = entry.get("platform") or {}
    return (
        annotations.get("vnd.docker.reference.type") == "attestation-manifest"
        or platform.get("os") == "unknown"
    )


def _platform(data: Mapping[str, Any]) -> Platform:
    return Platform(
        str(data.get("os", "unknown")),
        str(data.get("architecture", "unknown")),
        str(data["variant"]) if data.get("variant") else None,
    )


def parse_config(ref: ImageReference, body: bytes) -> ImageConfig:
    """Platform, creation time and labels from an image config blob."""
    data = _load(ref, body)
    created = None
    raw = data.get("created")
    if isinstance(raw, str) and raw:
        try:
            created = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            created = None  # an unreadable date is not a reason to refuse the image
    inner = data.get("config") or {}
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return ImageConfig(
        platform=_platform(data),
        created=created,
        labels={str(k): str(v) for k, v in (labels or {}).items()},
    )


@dataclass(frozen=True)
class ImageVerdict:
    """Everything the deploy needs to know about an image the nodes can pull.

    `digest` is what the tag points to (an index's digest for a multi-platform image):
    pin that. `platform_digest` is the manifest the nodes' platform will run.
    """

    reference: ImageReference
    digest: str
    platform_digest: str
    platform: Platform
    platforms: tuple[Platform, ...]
    media_type: str
    created: datetime | None
    compressed_size: int
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def revision(self) -> str | None:
        """The `org.opencontainers.image.revision` label (the git commit), if any."""
        return self.labels.get(REVISION_LABEL) or None

    @property
    def pinned(self) -> str:
        """`registry/repo:tag@sha256:…` for the Deployment."""
        return self.reference.with_digest(self.digest).pinned()

    def revision_mismatch(self, tag: str | None = None) -> bool:
        """True when a revision label exists and does not start with the tag (a short SHA)."""
        wanted = (tag if tag is not None else self.reference.tag) or ""
        return self.revision is not None and not self.revision.lower().startswith(wanted.lower())
