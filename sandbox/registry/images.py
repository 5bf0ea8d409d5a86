"""Test images without Docker: build them in memory, push them over HTTP, or write an OCI layout.

`build_image()` makes a real, valid image: an OCI (or Docker v2) config blob with
os/architecture/created/labels, one small gzip layer per platform, a manifest per
platform and, for several platforms, an index over them. Byte-for-byte deterministic
for the same arguments, so digests are stable across runs.

`push_image()` uploads it to any registry speaking the distribution API (the sandbox
GiteaRegistry or the real CNCF `docker-registry`), answering Bearer or Basic challenges.
`write_oci_layout()` writes the directory `skopeo copy oci:DIR:TAG docker://…` reads.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode, urljoin

import aiohttp

from sandbox.cluster.imageref import Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
REVISION_LABEL = "org.opencontainers.image.revision"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Manifest:
    """One stored manifest (image manifest or index): its bytes, digest and media type."""

    media_type: str
    body: bytes
    platform: Platform | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.body)

    def descriptor(self) -> dict[str, object]:
        desc: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.body),
        }
        if self.platform is not None:
            plat: dict[str, str] = {
                "os": self.platform.os,
                "architecture": self.platform.architecture,
            }
            if self.platform.variant:
                plat["variant"] = self.platform.variant
            desc["platform"] = plat
        return desc


@dataclass(frozen=True)
class BuiltImage:
    """An image ready to push: the top manifest (what a tag points to), children, blobs."""

    top: Manifest
    children: tuple[Manifest, ...]
    blobs: Mapping[str, bytes] = field(repr=False)

    @property
    def digest(self) -> str:
        """The digest a tag resolves to (the index's, for a multi-platform image)."""
        return self.top.digest

    @property
    def platforms(self) -> list[Platform]:
        return [c.platform for c in self.children if c.platform is not None]

    def manifests(self) -> list[Manifest]:
        """Children first, then the top: the order a push must follow."""
        return [*self.children, self.top]


def _layer(platform: Platform, salt: str) -> bytes:
    content = f"built for {platform} {salt}\n".encode()
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("etc/deckhand-platform")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    gz_buf = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_buf, mode="wb", mtime=0) as gz:
        gz.write(tar_buf.getvalue())
    return gz_buf.getvalue()


def build_image(
    *,
    platforms: Sequence[Platform] = (Platform("linux", "amd64"),),
    labels: Mapping[str, str] | None = None,
    created: datetime | None = None,
    media: Literal["oci", "docker"] = "oci",
    index: bool | None = None,
    salt: str = "",
) -> BuiltImage:
    """Build an image for `platforms` (pure, deterministic).

    More than one platform (or `index=True`) gives an index / manifest list over one
    manifest per platform; `salt` changes the layer bytes so two builds differ.
    `labels` go into the config, e.g. `{"org.opencontainers.image.revision": sha}`.
    """
    if not platforms:
        raise ValueError("an image needs at least one platform")
    created_at = (created or datetime(2026, 1, 1, tzinfo=UTC)).astimezone(UTC)
    manifest_type, config_type, layer_type, index_type = (
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_INDEX)
        if media == "oci"
        else (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LIST)
    )
    blobs: dict[str, bytes] = {}
    children: list[Manifest] = []
    for platform in platforms:
        layer = _layer(platform, salt)
        diff_id = sha256_digest(gzip.decompress(layer))
        config_obj: dict[str, object] = {
            "created": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "architecture": platform.architecture,
            "os": platform.os,
            "config": {"Labels": dict(labels or {}), "Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        if platform.variant:
            config_obj["variant"] = platform.variant
        config = _canonical(config_obj)
        blobs[sha256_digest(config)] = config
        blobs[sha256_digest(layer)] = layer
        body = _canonical(
            {
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": {
                    "mediaType": config_type,
                    "digest": sha256_digest(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": layer_type, "digest": sha256_digest(layer), "size": len(layer)}
                ],
            }
        )
        children.append(Manifest(manifest_type, body, platform))
    if len(children) == 1 and not index:
        only = children[0]
        return BuiltImage(top=Manifest(only.media_type, only.body), children=(), blobs=blobs)
    top_body = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": [c.descriptor() for c in children],
        }
    )
    return BuiltImage(top=Manifest(index_type, top_body), children=tuple(children), blobs=blobs)


def write_oci_layout(directory: Path, image: BuiltImage, tag: str) -> Path:
    """Write `image` as an OCI image layout in `directory` (for `skopeo copy oci:DIR:TAG`)."""
    blob_dir = directory / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    everything = dict(image.blobs)
    for manifest in image.manifests():
        everything[manifest.digest] = manifest.body
    for digest, data in everything.items():
        (blob_dir / digest.removeprefix("sha256:")).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    top = image.top.descriptor()
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (directory / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [top]})
    )
    return directory


class PushError(RuntimeError):
    """A push was refused; the message names the step and the HTTP status, never a secret."""


_PARAM = re.compile(r'(\w+)="([^"]*)"')


class _Pusher:
    """Just enough client to push: Bearer (token endpoint) or Basic, one scope."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, repo: str, username: str, token: str
    ) -> None:
        self._session, self._base, self._repo = session, base.rstrip("/"), repo
        self._basic = "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()
        self._auth: str | None = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        url = urljoin(self._base + "/", url)
        for attempt in range(2):
            hdrs = dict(headers or {})
            if self._auth:
                hdrs["Authorization"] = self._auth
            resp = await self._session.request(
                method, url, data=data, headers=hdrs, allow_redirects=False
            )
            if resp.status != 401 or attempt == 1:
                return resp
            challenges = resp.headers.getall("WWW-Authenticate", [])
            resp.release()
            await self._answer(challenges)
        raise AssertionError("unreachable")

    async def _answer(self, challenges: list[str]) -> None:
        bearer = next((c for c in challenges if c.lower().startswith("bearer")), None)
        if bearer is None:
            self._auth = self._basic
            return
        params = dict(_PARAM.findall(bearer))
        query = {"scope": f"repository:{self._repo}:pull,push"}
        if "service" in params:
            query["service"] = params["service"]
        realm = params["realm"] + "?" + urlencode(query)
        async with self._session.get(realm, headers={"Authorization": self._basic}) as resp:
            if resp.status != 200:
                raise PushError(f"token endpoint answered {resp.status}")
            body = await resp.json(content_type=None)
        self._auth = "Bearer " + str(body.get("token") or body.get("access_token"))


async def push_image(
    target: aiohttp.ClientSession | str,
    image: BuiltImage,
    repo: str,
    tag: str,
    *,
    username: str,
    token: str,
    base_url: str | None = None,
) -> str:
    """Push `image` to `repo:tag` on the registry at `target` (URL, or a session + `base_url`).

    Blobs (skipped when already present), then child manifests by digest, then the top
    manifest by tag. Returns the digest the tag now points to; raises `PushError`.
    """
    if isinstance(target, str):
        async with aiohttp.ClientSession() as session:
            return await push_image(
                session, image, repo, tag, username=username, token=token, base_url=target
            )
    if base_url is None:
        raise ValueError("push_image with a session needs base_url")
    pusher = _Pusher(target, base_url, repo, username, token)
    for digest, data in image.blobs.items():
        async with await pusher.request("HEAD", f"/v2/{repo}/blobs/{digest}") as head:
            if head.status == 200:
                continue
        async with await pusher.request("POST", f"/v2/{repo}/blobs/uploads/") as start:
            if start.status != 202:
                raise PushError(f"starting a blob upload answered {start.status}")
            location = start.headers["Location"]
        sep = "&" if "?" in location else "?"
        async with await pusher.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        ) as put:
            if put.status != 201:
                raise PushError(f"uploading blob {digest[:19]} answered {put.status}")
    for manifest in image.manifests():
        ref = tag if manifest is image.top else manifest.digest
        async with await pusher.request(
            "PUT",
            f"/v2/{repo}/manifests/{ref}",
            data=manifest.body,
            headers={"Content-Type": manifest.media_type},
        ) as put:
            if put.status != 201:
                raise PushError(f"uploading manifest {ref} answered {put.status}")
    return image.digest
