"""Gitea's packages API, the part Deckhand reads: `GET /api/v1/packages/{owner}`.

`?type=container&q=<name>&page=&limit=` lists package versions newest first, one per
tag and one per untagged manifest (`sha256:…`), with `created_at`, `creator` and
`html_url`; the total is in `X-Total-Count` and the next page in `Link`. Credentials:
Basic `user:token` or `Authorization: token <PAT>`; no read access gives 403.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from sandbox.registry.store import RegistryStore, User


def basic_user(store: RegistryStore, value: str) -> User | None:
    """The user a Basic header value (`base64(user:token)`) authenticates, or None."""
    try:
        username, _, token = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return store.user_for(username, token)


def packages_response(
    store: RegistryStore, request: web.Request, owner: str, *, base_url: str
) -> web.Response:
    """The JSON answer to one packages API request."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    user: User | None = None
    if scheme.lower() == "basic":
        user = basic_user(store, value)
    elif scheme.lower() == "token":
        name = store.tokens.get(value)
        user = store.users.get(name) if name else None
    if scheme and user is None:
        return web.json_response({"message": "user does not exist"}, status=401)
    if not store.can_read(user, owner):
        return web.json_response({"message": "user should have read permission"}, status=403)
    if request.query.get("type", "container") != "container":
        return web.json_response([], headers={"X-Total-Count": "0"})
    rows = store.versions(owner, request.query.get("q", ""))
    page = max(int(request.query.get("page", "1")), 1)
    limit = max(int(request.query.get("limit", "30")), 1)
    chunk = rows[(page - 1) * limit : page * limit]
    items: list[dict[str, Any]] = [
        {
            "id": index + 1 + (page - 1) * limit,
            "owner": {"login": repo.owner},
            "name": repo.image,
            "type": "container",
            "version": version,
            "creator": {"login": stored.creator},
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "html_url": f"{base_url}/{repo.owner}/-/packages/container/{repo.image}/{version}",
        }
        for index, (repo, version, stored, created) in enumerate(chunk)
    ]
    headers = {"X-Total-Count": str(len(rows))}
    if page * limit < len(rows):
        headers["Link"] = (
            f"<{base_url}/api/v1/packages/{owner}?type=container&page={page + 1}"
            f'&limit={limit}>; rel="next"'
        )
    return web.json_response(items, headers=headers)
