"""A Gitea-compatible container registry on loopback, faithful where Deckhand depends on it.

Behaviour copied from Gitea's `routers/api/packages/container` (see shared/FACTS.md):

- `GET /v2/` without credentials: 401 `UNAUTHORIZED` with two challenges,
  `Bearer realm="<url>/v2/token",service="container_registry",scope="*"` and `Basic`.
- `GET /v2/token`: Basic `user:token` -> `{"token": …}` and nothing else; no credentials
  -> a ghost token that reads public owners only; wrong credentials -> 401.
- Basic credentials are accepted on every `/v2` route, as are issued Bearer tokens.
- A user without read access (no `read:package` scope, or someone else's private
  owner) gets 401 with `WWW-Authenticate: Basic realm="Gitea Package API"` and a text
  body, exactly like Gitea's `reqPackageAccess`.
- Manifests by tag or digest with no Accept negotiation; unknown tag or image ->
  404 `MANIFEST_UNKNOWN`; `tags/list` -> `NAME_UNKNOWN` for unknown images and a
  `Link: rel="next"` on every non-empty page (also the last one).
- `GET /api/v1/packages/{owner}?type=container&q=` with `created_at` and `X-Total-Count`.
- Package webhooks (`add_webhook(url, secret)`): a POST per created version, signed and
  shaped as Gitea's `deliver.go` sends them (`sandbox.registry.webhooks`).
- `/api/v1/repos/…`: git repositories (compare, commits, one commit), `repos_api.py`;
  `git` (a `RepoStore`) holds them, `repos_api` has the old-Gitea and slow switches.

Test controls: `fail_next()` injects 5xx/429 answers, `set_down()` refuses connections,
`requests` logs every request, `store` (a `RegistryStore`) seeds content in-process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from aiohttp import web

from sandbox.registry.images import BuiltImage, sha256_digest
from sandbox.registry.packages import basic_user, packages_response
from sandbox.registry.repos import RepoStore
from sandbox.registry.repos_api import ReposApi
from sandbox.registry.store import (
    RegistryStore,
    Repository,
    StoredManifest,
    StoreError,
    User,
    blob_unknown,
)
from sandbox.registry.webhooks import Deliveries, Hook, package_payload

_REPO_ROUTE = re.compile(
    r"^/v2/(?P<name>[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)+)"
    r"/(?P<kind>manifests|blobs/uploads|blobs|tags/list)(?:/(?P<ref>[^/]*))?$"
)
_BEARER_CHALLENGE = 'Bearer realm="{url}/v2/token",service="container_registry",scope="*"'


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the registry saw it (the `Authorization` scheme only, never the value)."""

    method: str
    path: str
    query: str
    status: int
    auth: str


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: float | None
    match: str


class GiteaRegistry:
    """`async with GiteaRegistry(users={"admin": "tok"}) as reg:` serves on `reg.url`.

    Constructor users are site admins. `token_ttl_s` bounds issued Bearer tokens.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        *,
        token_ttl_s: float = 3600.0,
    ) -> None:
        self._bind = (host, port)
        self.store = RegistryStore()
        for name, token in (users or {}).items():
            self.store.add_user(name, token, site_admin=True)
        self.token_ttl_s = token_ttl_s
        self.git = RepoStore()
        self.repos_api = ReposApi(self.git, self.store)
        self.requests: list[LoggedRequest] = []
        self._bearer: dict[str, tuple[str | None, str | None, float]] = {}
        self._issued: list[str] = []
        self._uploads: dict[str, bytearray] = {}
        self._faults: list[_Fault] = []
        self.webhooks = Deliveries()
        self._logged = asyncio.Condition()
        self.store.on_version.append(self._package_created)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = port

    # lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._bind[0], self._bind[1])
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])
        await self.webhooks.start()
        return self

    async def set_down(self, down: bool) -> None:
        """Stop listening (new connections are refused) or listen again on the same port."""
        if self._runner is None:
            raise RuntimeError("the registry is not started")
        if down and self._site is not None:
            await self._site.stop()
            self._site = None
        elif not down and self._site is None:
            self._site = web.TCPSite(self._runner, self._bind[0], self._port)
            await self._site.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.repos_api.release()
        await self.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def host(self) -> str:
        """`host:port`, as it appears in image references."""
        return f"{self._bind[0]}:{self._port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # test controls ----------------------------------------------------------------------

    def add_user(
        self, name: str, token: str, *, can_read: bool = True, can_write: bool = True
    ) -> None:
        """A normal (not admin) user owning the `name/…` namespace, with one token."""
        self.store.add_user(name, token, can_read=can_read, can_write=can_write)

    def revoke_token(self, token: str) -> None:
        """Revoke a personal access token and every Bearer token issued for it."""
        self.store.revoke_token(token)
        self._bearer = {k: v for k, v in self._bearer.items() if v[1] != token}

    def add_repo_token(
        self, user: str, token: str, scopes: tuple[str, ...] = ("read:repository",)
    ) -> None:
        """A personal access token for the repository API with these scopes."""
        self.git.add_token(user, token, scopes)

    def add_webhook(self, url: str, secret: str = "") -> None:
        """A package webhook (Gitea: owner settings → Webhooks, trigger "Package")."""
        self.webhooks.hooks.append(Hook(url, secret))

    def _package_created(
        self, repo: Repository, version: str, stored: StoredManifest, created: datetime
    ) -> None:
        package_id = list(self.store.repos).index(repo.name) + 1
        body = package_payload(
            package_id=package_id,
            owner=repo.owner,
            name=repo.image,
            version=version,
            creator=stored.creator,
            created=created,
            base_url=self.url,
        )
        self.webhooks.enqueue(body, version)

    def make_public(self, owner: str) -> None:
        self.store.public_owners.add(owner.lower())

    def delete_tag(self, repo: str, tag: str) -> None:
        self.store.delete_tag(repo, tag)

    def seed(self, repo: str, tag: str, image: BuiltImage, *, creator: str = "admin") -> str:
        """Store `image` as `repo:tag` in-process, pushed by `creator` (a package version
        is created: webhooks go out); returns the digest the tag points to."""
        return self.store.seed(repo, tag, image, creator=creator)

    def put_raw_manifest(self, repo: str, tag: str, body: bytes, media_type: str) -> str:
        """Serve `body` as `repo:tag`'s manifest without validating it (malformed cases)."""
        return self.store.put_raw_manifest(repo, tag, body, media_type)

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        retry_after: float | None = None,
        match: str = "",
    ) -> None:
        """Answer the next `count` requests whose path contains `match` with `status`."""
        self._faults.append(_Fault(status, count, retry_after, match))

    def expire_tokens(self) -> None:
        """Every Bearer token issued so far expires now (clients must re-challenge)."""
        self._bearer = {k: (u, p, 0.0) for k, (u, p, _) in self._bearer.items()}

    def issued_tokens(self) -> list[str]:
        """Every Bearer token handed out so far (tests check none leaks into logs)."""
        return list(self._issued)

    async def wait_count(
        self, at_least: int, method: str | None = None, contains: str = "", within_s: float = 10.0
    ) -> int:
        """Until `count(method, contains)` reaches `at_least` (tests wait on requests)."""
        async with asyncio.timeout(within_s), self._logged:
            await self._logged.wait_for(lambda: self.count(method, contains) >= at_least)
        return self.count(method, contains)

    def count(self, method: str | None = None, contains: str = "") -> int:
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method) and contains in r.path
        )

    # HTTP -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "").partition(" ")[0] or "-"
        response = await self._handle(request)
        async with self._logged:
            self.requests.append(
                LoggedRequest(
                    request.method, request.path, request.query_string, response.status, auth
                )
            )
            self._logged.notify_all()
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        for fault in self._faults:
            if fault.remaining > 0 and fault.match in request.path:
                fault.remaining -= 1
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                return web.Response(status=fault.status, text="injected fault", headers=headers)
        path = request.path
        if path.startswith("/api/v1/repos/"):
            return await self.repos_api.handle(request, base_url=self.url)
        if path.startswith("/api/v1/packages/"):
            owner = path.removeprefix("/api/v1/packages/").strip("/")
            return packages_response(self.store, request, owner, base_url=self.url)
        if not path.startswith("/v2"):
            return web.Response(status=404, text="404 page not found")
        if path == "/v2/token":
            return self._token(request)
        user, ok = self._authenticate(request)
        if not ok:
            return self._unauthorized()
        if path in ("/v2", "/v2/"):
            return self._headers(web.Response(status=200))
        match = _REPO_ROUTE.match(path)
        if match is None:
            return self._error(StoreError(404, "NAME_INVALID", "invalid repository name"))
        name, kind, ref = match["name"], match["kind"], match["ref"]
        owner = name.partition("/")[0]
        writing = request.method in ("POST", "PUT", "PATCH", "DELETE")
        allowed = self.store.can_write(user, owner) if writing else self.store.can_read(user, owner)
        if not allowed:
            return web.Response(
                status=401,
                text="user should have specific permission or be a site admin\n",
                headers={"WWW-Authenticate": 'Basic realm="Gitea Package API"'},
            )
        try:
            if kind == "manifests" and ref:
                return await self._manifest(request, name, ref, user)
            if kind == "blobs/uploads":
                return await self._upload(request, name, ref or "")
            if kind == "blobs" and ref:
                return self._blob(request, ref)
            if kind == "tags/list" and not ref and request.method == "GET":
                return self._tags(request, name)
        except StoreError as exc:
            return self._error(exc)
        return web.Response(status=405)

    def _authenticate(self, request: web.Request) -> tuple[User | None, bool]:
        """(user, ok): ghost Bearer tokens give (None, True); no credentials (None, False)."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            user = basic_user(self.store, value)
            return user, user is not None
        if scheme.lower() == "bearer" and value in self._bearer:
            name, _, expires = self._bearer[value]
            if time.monotonic() < expires:
                return (self.store.users.get(name) if name else None), True
        return None, False

    def _token(self, request: web.Request) -> web.Response:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        name: str | None = None
        pat: str | None = None
        if scheme:
            user = basic_user(self.store, value) if scheme.lower() == "basic" else None
            if user is None:
                return self._unauthorized()
            name = user.name
            pat = base64.b64decode(value).decode().partition(":")[2]
        token = "gitea_" + secrets.token_urlsafe(24)
        self._bearer[token] = (name, pat, time.monotonic() + self.token_ttl_s)
        self._issued.append(token)
        return web.json_response({"token": token})

    def _unauthorized(self) -> web.Response:
        response = self._error(StoreError(401, "UNAUTHORIZED", "authentication required"))
        response.headers.add("WWW-Authenticate", _BEARER_CHALLENGE.format(url=self.url))
        response.headers.add("WWW-Authenticate", "Basic")
        return response

    def _headers(self, response: web.Response, digest: str | None = None) -> web.Response:
        if digest:
            response.headers["Docker-Content-Digest"] = digest
            response.headers["ETag"] = f'"{digest}"'
        response.headers["Docker-Distribution-Api-Version"] = "registry/2.0"
        return response

    def _error(self, exc: StoreError) -> web.Response:
        body = {"errors": [{"code": exc.code, "message": exc.message}]}
        return self._headers(
            web.Response(
                status=exc.status, body=json.dumps(body).encode(), content_type="application/json"
            )
        )

    async def _manifest(
        self, request: web.Request, name: str, ref: str, user: User | None
    ) -> web.Response:
        if request.method == "PUT":
            body = await request.read()
            digest = self.store.put_manifest(
                name,
                ref,
                body,
                request.headers.get("Content-Type", ""),
                creator=user.name if user else "ghost",
            )
            response = web.Response(status=201)
            response.headers["Location"] = f"/v2/{name}/manifests/{ref}"
            return self._headers(response, digest)
        if request.method == "DELETE":
            self.store.get_manifest(name, ref)
            self.store.delete_tag(name, ref)
            return self._headers(web.Response(status=202))
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405)
        stored = self.store.get_manifest(name, ref)
        # aiohttp sends no body for HEAD but keeps the Content-Length of the body given
        headers = {"Content-Type": stored.media_type}
        return self._headers(
            web.Response(status=200, body=stored.body, headers=headers), stored.digest
        )

    def _blob(self, request: web.Request, digest: str) -> web.Response:
        data = self.store.blobs.get(digest)
        if data is None:
            raise blob_unknown()
        if request.method in ("GET", "HEAD"):
            response = web.Response(status=200, body=data, content_type="application/octet-stream")
            return self._headers(response, digest)
        return web.Response(status=405)

    async def _upload(self, request: web.Request, name: str, upload_id: str) -> web.Response:
        digest = request.query.get("digest", "")
        if request.method == "POST" and not upload_id:
            if digest:  # monolithic single POST
                return self._finish(name, digest, bytes(await request.read()))
            upload_id = self.store.new_id()
            self._uploads[upload_id] = bytearray()
            response = web.Response(status=202)
            response.headers.update(
                {
                    "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
                    "Range": "0-0",
                    "Docker-Upload-Uuid": upload_id,
                }
            )
            return self._headers(response)
        buffer = self._uploads.get(upload_id)
        if buffer is None:
            raise StoreError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        buffer.extend(await request.read())
        if request.method == "PATCH":
            response = web.Response(status=202)
            response.headers.update(
                {
                    "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
                    "Range": f"0-{max(len(buffer) - 1, 0)}",
                    "Docker-Upload-Uuid": upload_id,
                }
            )
            return self._headers(response)
        if request.method == "PUT":
            del self._uploads[upload_id]
            return self._finish(name, digest, bytes(buffer))
        return web.Response(status=405)

    def _finish(self, name: str, digest: str, data: bytes) -> web.Response:
        if not digest or sha256_digest(data) != digest:
            raise StoreError(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
        self.store.blobs[digest] = data
        response = web.Response(status=201)
        response.headers["Location"] = f"/v2/{name}/blobs/{digest}"
        return self._headers(response, digest)

    def _tags(self, request: web.Request, name: str) -> web.Response:
        n = int(request.query["n"]) if request.query.get("n") else None
        tags = self.store.tag_list(name, n=n, last=request.query.get("last", ""))
        response = web.json_response({"name": name, "tags": tags})
        if tags:  # Gitea's quirk: a next link on every non-empty page, the last one too
            query = (f"n={n}&" if n else "") + f"last={tags[-1]}"
            response.headers["Link"] = f'</v2/{name}/tags/list?{query}>; rel="next"'
        return self._headers(response)
