"""A containerd-like image resolver: really asks the image's registry, fails in containerd's words.

The kubelet stand-in calls `ImagePuller.pull()` for each container image. It talks
the distribution API over HTTP (aiohttp) the way containerd's resolver does:

1. `HEAD /v2/<repo>/manifests/<tag|digest>` with the four manifest media types in
   `Accept`; on `401` it answers the challenge (every `WWW-Authenticate` header is
   read): Bearer → `GET <realm>?scope=repository:<repo>:pull&service=<service>` with
   Basic credentials (`token` or `access_token` in the answer), Basic → the
   credentials directly;
2. `GET` the manifest; for an index / manifest list, pick the node's platform and
   `GET` that manifest; then `GET` the config blob (platform and image id).

A single-platform manifest is NOT checked against the node: containerd does not
either (`images.Manifest` ignores the config for a non-index), which is how an arm64
image lands on an amd64 node and dies with `exec format error`. `PulledImage.platform`
lets the kubelet play that part.

Failures raise `PullError`, whose `str()` is the CRI error the kubelet prints
(`rpc error: code = NotFound desc = failed to pull and unpack image "X": ...`), and
whose `kind` classifies it:

    PullError
    ├── NOT_FOUND     `failed to resolve reference "X": X: not found`
    ├── UNAUTHORIZED  `failed to authorize: failed to fetch oauth token: ... 401 Unauthorized`
    │                 or `pulling from host H failed with status code [manifests T]:
    │                 401 Unauthorized`
    ├── FORBIDDEN     the same with `403 Forbidden`
    ├── PLATFORM      `no match for platform in manifest: not found`
    ├── UNREACHABLE   `failed to do request: Head "URL": dial tcp HOST:PORT: connect:
    │                 connection refused`
    └── OTHER         any other status or malformed answer

Plain HTTP is used for loopback hosts; `endpoints` maps other registry hosts to the
base URL that serves them (like containerd's hosts.toml). Any other host fails at
once with Go's `no such host` text: the sandbox sends nothing off the machine.
Credentials come from the pod's `kubernetes.io/dockerconfigjson` secrets
(`keyring_from_secrets`); no secret text ever goes into an error.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from sandbox.cluster.imageref import ImageRef, Platform, containerd_ref

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, "*/*"])
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"

NOT_FOUND = "not-found"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
PLATFORM = "platform"
UNREACHABLE = "unreachable"
OTHER = "other"


class PullError(Exception):
    """A failed pull: `str()` is the CRI error text, `kind` one of the constants above."""

    def __init__(self, kind: str, code: str, detail: str) -> None:
        super().__init__(f"rpc error: code = {code} desc = {detail}")
        self.kind = kind
        self.code = code
        self.detail = detail


class _Failure(Exception):
    """An error inside one pull attempt, before it is wrapped in containerd's prefixes."""

    def __init__(self, kind: str, text: str, *, resolving: bool = True) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text
        self.resolving = resolving


@dataclass(frozen=True)
class RegistryAuth:
    """One username/password pair from a pull secret (the password never prints)."""

    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class PulledImage:
    """What a successful pull reports."""

    reference: str  # containerd's normalized reference
    name: str  # registry/repository
    digest: str  # what the tag resolved to (the index's digest for a multi-platform image)
    manifest_digest: str  # the platform manifest actually used
    image_id: str  # the config blob's digest
    platform: Platform  # from the config: what the image was built for
    size: int  # bytes: index + manifest + config + layers
    command: tuple[str, ...] = ()  # the config's Entrypoint + Cmd
    labels: tuple[tuple[str, str], ...] = ()  # the config's Labels

    @property
    def repo_digest(self) -> str:
        """`registry/repo@sha256:...`, what a container status shows as `imageID`."""
        return f"{self.name}@{self.digest}"


# ---- pull secrets ----

Keyring = list[tuple[str, RegistryAuth]]


def _auth_key(key: str) -> str:
    """`https://gitea.example.com/v2/` → `gitea.example.com` (how the kubelet reads keys)."""
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.rstrip("/")
    if text.endswith("/v2") or text.endswith("/v1"):
        text = text[:-3]
    if text in ("index.docker.io", "registry-1.docker.io"):
        text = "docker.io"
    return text


def keyring_from_secrets(secrets: Iterable[Mapping[str, Any]]) -> Keyring:
    """(registry prefix, credentials) pairs from `kubernetes.io/dockerconfigjson` secrets (pure).

    Each `auths` entry gives `auth` (base64 `user:password`) or `username` and
    `password`; malformed secrets and entries are skipped, as the kubelet does.
    """
    keyring: Keyring = []
    for secret in secrets:
        if secret.get("type") != DOCKERCONFIGJSON:
            continue
        raw = (secret.get("data") or {}).get(".dockerconfigjson")
        try:
            config = json.loads(base64.b64decode(raw)) if raw else None
        except (ValueError, TypeError):
            continue
        if not isinstance(config, dict) or not isinstance(config.get("auths"), dict):
            continue
        for key, entry in config["auths"].items():
            if not isinstance(entry, dict):
                continue
            user, password = entry.get("username"), entry.get("password")
            if entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
            if user and password is not None:
                keyring.append((_auth_key(key), RegistryAuth(str(user), str(password))))
    return keyring


def credentials_for(keyring: Keyring, ref: ImageRef) -> list[RegistryAuth]:
    """The credentials whose key is a prefix of `registry/repository`, longest key first."""
    name = ref.name
    matches = [
        (len(prefix), auth)
        for prefix, auth in keyring
        if name == prefix or name.startswith(prefix.rstrip("/") + "/")
    ]
    matches.sort(key=lambda item: -item[0])
    return [auth for _, auth in matches]


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    return name in ("localhost", "::1") or name.startswith("127.")


# ---- the resolver ----

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def parse_challenges(headers: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """(scheme, params) of every challenge in every `WWW-Authenticate` header."""
    result = []
    for header in headers:
        scheme, _, rest = header.strip().partition(" ")
        params = {k.lower(): (q if q else u) for k, q, u in _PARAM.findall(rest)}
        result.append((scheme.lower(), params))
    return result


def _go_op(method: str) -> str:
    return method[:1].upper() + method[1:].lower()


def _transport_text(method: str, url: str, error: BaseException) -> str:
    """Go's `*url.Error` text for a failed connection (`Head "URL": dial tcp ...`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = f"{'127.0.0.1' if host == 'localhost' else host}:{port}"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        why = f"dial tcp: lookup {host}: no such host"
    elif isinstance(error, aiohttp.ClientConnectorError):
        code = getattr(error.os_error, "errno", None)
        if code == errno.ECONNREFUSED:
            why = f"dial tcp {address}: connect: connection refused"
        elif code == errno.EHOSTUNREACH:
            why = f"dial tcp {address}: connect: no route to host"
        else:
            why = f"dial tcp {address}: connect: {error.os_error.strerror or error}"
    elif isinstance(error, TimeoutError | asyncio.TimeoutError):
        why = f"dial tcp {address}: i/o timeout"
    elif isinstance(error, aiohttp.ServerDisconnectedError):
        why = "EOF"
    else:
        why = str(error) or type(error).__name__
    return f'{_go_op(method)} "{url}": {why}'


@dataclass
class _Answer:
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class _Attempt:
    """One pull with one set of credentials (or none) against one registry."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        ref: ImageRef,
        auth: RegistryAuth | None,
        timeout: float,
    ) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.ref = ref
        self.auth = auth
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.authorization: str | None = None

    async def send(self, method: str, path: str, accept: str | None = None) -> _Answer:
        url = self.base + path
        for _ in range(4):
            headers = {"Accept": accept} if accept else {}
            if self.authorization:
                headers["Authorization"] = self.authorization
            answer = await self._raw(method, url, headers)
            if answer.status != 401:
                return answer
            challenges = parse_challenges(answer.headers.getall("WWW-Authenticate", []))  # type: ignore[attr-defined]
            new = await self._answer(challenges)
            if new is None or new == self.authorization:
                return answer
            self.authorization = new
        return answer

    async def _raw(self, method: str, url: str, headers: Mapping[str, str]) -> _Answer:
        try:
            async with self.session.request(
                method, url, headers=headers, timeout=self.timeout, allow_redirects=method != "HEAD"
            ) as resp:
                body = b"" if method == "HEAD" else await resp.read()
                return _Answer(resp.status, resp.reason or "", resp.headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise _Failure(
                UNREACHABLE, "failed to do request: " + _transport_text(method, url, e)
            ) from e

    async def _answer(self, challenges: list[tuple[str, dict[str, str]]]) -> str | None:
        for scheme, params in challenges:
            if scheme == "bearer" and params.get("realm"):
                return "Bearer " + await self._token(params)
            if scheme == "basic" and self.auth is not None:
                return self.auth.basic()
        return None

    async def _token(self, params: Mapping[str, str]) -> str:
        query = {"scope": f"repository:{self.ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        url = params["realm"] + "?" + urlencode(sorted(query.items()))
        flavour = "oauth" if self.auth is not None else "anonymous"
        headers = {"Authorization": self.auth.basic()} if self.auth is not None else {}
        try:
            async with self.session.get(url, headers=headers, timeout=self.timeout) as resp:
                if not 200 <= resp.status < 400:
                    kind = {401: UNAUTHORIZED, 403: FORBIDDEN}.get(resp.status, OTHER)
                    raise _Failure(
                        kind,
                        f"failed to authorize: failed to fetch {flavour} token: "
                        f"unexpected status from GET request to {url}: "
                        f"{resp.status} {resp.reason}",
                    )
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise _Failure(
                UNREACHABLE,
                f"failed to authorize: failed to fetch {flavour} token: "
                + _transport_text("GET", url, e),
            ) from e
        except ValueError as e:
            raise _Failure(OTHER, "failed to authorize: failed to decode token response") from e
        token = (body.get("access_token") or body.get("token")) if isinstance(body, dict) else None
        if not token:
            raise _Failure(
                OTHER,
                "failed to authorize: authorization server did not include a token in the response",
            )
        return str(token)

    def _status_failure(self, what: str, answer: _Answer) -> _Failure:
        kind = {401: UNAUTHORIZED, 403: FORBIDDEN}.get(answer.status, OTHER)
        return _Failure(
            kind,
            f"pulling from host {self.host} failed with status code "
            f"[{what}]: {answer.status} {answer.reason}",
        )

    async def resolve(self) -> tuple[str, str, int]:
        """(digest, media type, size) the reference points to."""
        ref_text = self.ref.digest or self.ref.tag or "latest"
        path = f"/v2/{self.ref.repository}/manifests/{ref_text}"
        answer = await self.send("HEAD", path, MANIFEST_ACCEPT)
        if answer.status == 404:
            raise _Failure(NOT_FOUND, f"{containerd_ref(self.ref)}: not found")
        if answer.status > 399:
            raise self._status_failure(f"manifests {ref_text}", answer)
        digest = answer.headers.get("Docker-Content-Digest")
        media = (answer.headers.get("Content-Type") or "").split(";")[0].strip()
        size = int(answer.headers.get("Content-Length") or 0)
        if not digest or not media:
            got = await self.send("GET", path, MANIFEST_ACCEPT)
            if got.status > 399:
                raise self._status_failure(f"manifests {ref_text}", got)
            digest = digest or "sha256:" + hashlib.sha256(got.body).hexdigest()
            media = media or json.loads(got.body).get("mediaType", "")
            size = len(got.body)
        return digest, media, size

    async def fetch_json(
        self, kind: str, digest: str, accept: str | None = None
    ) -> tuple[dict[str, Any], int]:
        path = f"/v2/{self.ref.repository}/{kind}/{digest}"
        answer = await self.send("GET", path, accept)
        if answer.status > 399:
            failure = self._status_failure(f"{kind} {digest}", answer)
            failure.resolving = False
            raise failure
        try:
            return json.loads(answer.body), len(answer.body)
        except ValueError as e:
            raise _Failure(
                OTHER, f"failed to copy: invalid JSON in {kind} {digest}", resolving=False
            ) from e


class ImagePuller:
    """Resolves images on behalf of simulated nodes; one HTTP session for all of them."""

    def __init__(
        self, *, endpoints: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.endpoints = dict(endpoints or {})
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reachable(self, host: str) -> bool:
        """The sandbox never leaves the machine: loopback hosts and `endpoints` only.

        Any other host fails at once as an unknown name would (no DNS query is sent).
        """
        return host in self.endpoints or is_loopback(host)

    def base_url(self, host: str) -> str:
        if host in self.endpoints:
            return self.endpoints[host]
        return ("http://" if is_loopback(host) else "https://") + host

    async def pull(
        self, ref: ImageRef, *, platform: Platform, auths: Sequence[RegistryAuth] = ()
    ) -> PulledImage:
        """Pull `ref` for `platform`, trying each credential in turn like the kubelet.

        With several credentials the errors are joined as `[e1, e2]` (Go's aggregate).
        """
        if self._session is None:
            raise RuntimeError("ImagePuller.pull before start()")
        errors: list[PullError] = []
        attempts: list[RegistryAuth | None] = [*auths] or [None]
        for auth in attempts:
            try:
                return await self._pull_once(ref, platform, auth)
            except PullError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        joined = PullError(errors[-1].kind, errors[-1].code, errors[-1].detail)
        joined.args = ("[" + ", ".join(str(e) for e in errors) + "]",)
        raise joined

    async def _pull_once(
        self, ref: ImageRef, platform: Platform, auth: RegistryAuth | None
    ) -> PulledImage:
        assert self._session is not None
        name = containerd_ref(ref)
        attempt = _Attempt(self._session, self.base_url(ref.registry), ref, auth, self.timeout)
        try:
            if not self.reachable(ref.registry):
                tail = ref.digest or ref.tag or "latest"
                url = f"{attempt.base}/v2/{ref.repository}/manifests/{tail}"
                host = ref.registry.rsplit(":", 1)[0]
                raise _Failure(
                    UNREACHABLE,
                    f'failed to do request: Head "{url}": dial tcp: lookup {host}: no such host',
                )
            digest, media, top_size = await attempt.resolve()
            size = 0
            manifest_digest = digest
            if media in INDEX_TYPES:
                index, top_size = await attempt.fetch_json("manifests", digest, MANIFEST_ACCEPT)
                size += top_size
                child = await self._choose(attempt, index, platform)
                if child is None:
                    raise _Failure(
                        PLATFORM, "no match for platform in manifest: not found", resolving=False
                    )
                manifest_digest = child
            manifest, manifest_size = await attempt.fetch_json(
                "manifests", manifest_digest, MANIFEST_ACCEPT
            )
            config_desc = manifest.get("config") or {}
            config, _ = await attempt.fetch_json("blobs", config_desc.get("digest", ""))
            size += manifest_size + int(config_desc.get("size") or 0)
            size += sum(int(layer.get("size") or 0) for layer in manifest.get("layers") or [])
        except _Failure as f:
            code = "NotFound" if f.kind in (NOT_FOUND, PLATFORM) else "Unknown"
            inner = f'failed to resolve reference "{name}": {f.text}' if f.resolving else f.text
            raise PullError(
                f.kind, code, f'failed to pull and unpack image "{name}": {inner}'
            ) from None
        built_for = Platform(
            str(config.get("os") or "linux"),
            str(config.get("architecture") or "amd64"),
            config.get("variant"),
        )
        run = config.get("config") or {}
        return PulledImage(
            reference=name,
            name=ref.name,
            digest=digest,
            manifest_digest=manifest_digest,
            image_id=str(config_desc.get("digest", "")),
            platform=built_for,
            size=size,
            command=tuple(str(c) for c in (run.get("Entrypoint") or []) + (run.get("Cmd") or [])),
            labels=tuple(sorted((str(k), str(v)) for k, v in (run.get("Labels") or {}).items())),
        )

    async def _choose(
        self, attempt: _Attempt, index: Mapping[str, Any], platform: Platform
    ) -> str | None:
        """The digest of the index entry for `platform` (entries without one: by config)."""
        unlabelled = []
        for desc in index.get("manifests") or []:
            plat = desc.get("platform")
            if plat is None:
                unlabelled.append(desc)
                continue
            candidate = Platform(
                str(plat.get("os", "")), str(plat.get("architecture", "")), plat.get("variant")
            )
            if candidate.matches(platform):
                return str(desc["digest"])
        for desc in unlabelled:
            manifest, _ = await attempt.fetch_json("manifests", desc["digest"], MANIFEST_ACCEPT)
            config, _ = await attempt.fetch_json(
                "blobs", (manifest.get("config") or {}).get("digest", "")
            )
            built = Platform(
                str(config.get("os", "")),
                str(config.get("architecture", "")),
                config.get("variant"),
            )
            if built.matches(platform):
                return str(desc["digest"])
        return None
