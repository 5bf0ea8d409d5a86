"""Gitea's package webhooks, as Gitea sends them (`services/webhook/deliver.go`).

When a package version is created (a tag pushed, and also every untagged `sha256:`
child manifest of a multi-arch push: Gitea makes each a version), every configured
hook gets a POST of the `PackagePayload` (`modules/structs/hook.go`): `action`
`created`, `package` {id, owner, repository, creator, type `container`, name,
version, html_url, created_at}, `organization`, `sender`. The body is JSON indented
with two spaces (`json.MarshalIndent(p, "", "  ")`). Headers, as `deliver.go` adds them:
`X-Gitea-Delivery` (a UUID), `X-Gitea-Event: package`, `X-Gitea-Event-Type: package`,
`X-Gitea-Signature` = hex HMAC-SHA256(secret, raw body) (empty without a secret),
the same under `X-Gogs-*`, `X-Hub-Signature: sha1=…`, `X-Hub-Signature-256: sha256=…`,
`X-GitHub-Delivery/Event/Event-Type`, `Content-Type: application/json`,
`User-Agent: GiteaServer`. Deliveries are queued and sent one at a time (Gitea's hook
queue); a 2xx is a success, anything else is recorded as failed and not retried.

`Deliveries` keeps every attempt (`sent`) for tests and the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hook:
    url: str
    secret: str = ""


@dataclass(frozen=True)
class Delivery:
    """One POST as sent, and its answer (status 0: the connection failed)."""

    url: str
    delivery: str
    version: str
    status: int


def gitea_user(login: str, user_id: int = 1) -> dict[str, Any]:
    """The part of Gitea's `structs.User` a receiver reads."""
    return {"id": user_id, "login": login, "username": login, "full_name": "", "email": ""}


def package_payload(
    *,
    package_id: int,
    owner: str,
    name: str,
    version: str,
    creator: str,
    created: datetime,
    base_url: str,
) -> bytes:
    """The body Gitea posts for a created container version (pure)."""
    payload = {
        "action": "created",
        "repository": None,
        "package": {
            "id": package_id,
            "owner": gitea_user(owner),
            "repository": None,
            "creator": gitea_user(creator, 2),
            "type": "container",
            "name": name,
            "version": version,
            "html_url": f"{base_url}/{owner}/-/packages/container/{name}/{version}",
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "organization": gitea_user(owner),
        "sender": gitea_user(creator, 2),
    }
    return json.dumps(payload, indent=2).encode()


def signed_headers(body: bytes, secret: str, delivery: str) -> dict[str, str]:
    """Every header `deliver.go` sets on a package hook (pure)."""
    sha256 = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() if secret else ""
    sha1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest() if secret else ""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GiteaServer",
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Event": "package",
        "X-Gitea-Event-Type": "package",
        "X-Gitea-Signature": sha256,
        "X-Gogs-Delivery": delivery,
        "X-Gogs-Event": "package",
        "X-Gogs-Event-Type": "package",
        "X-Gogs-Signature": sha256,
        "X-Hub-Signature": f"sha1={sha1}",
        "X-Hub-Signature-256": f"sha256={sha256}",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": "package",
        "X-GitHub-Event-Type": "package",
    }


@dataclass
class Deliveries:
    """The hook queue: `enqueue(body)` from the store's notification, one sender task."""

    hooks: list[Hook] = field(default_factory=list)
    sent: list[Delivery] = field(default_factory=list)
    timeout_s: float = 5.0
    _queue: asyncio.Queue[tuple[bytes, str]] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def enqueue(self, body: bytes, version: str) -> None:
        if self.hooks:
            self._queue.put_nowait((body, version))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gitea-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_sent(self, count: int, *, within_s: float = 10.0) -> list[Delivery]:
        """Until `count` deliveries were attempted (tests)."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= count)
        return list(self.sent)

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                body, version = await self._queue.get()
                for hook in list(self.hooks):
                    await self._deliver(session, hook, body, version)

    async def _deliver(
        self, session: aiohttp.ClientSession, hook: Hook, body: bytes, version: str
    ) -> None:
        delivery = str(uuid.uuid4())
        status = 0
        try:
            headers = signed_headers(body, hook.secret, delivery)
            async with session.post(hook.url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("webhook %s to %s failed: %s", delivery, hook.url, type(exc).__name__)
        async with self._changed:
            self.sent.append(Delivery(hook.url, delivery, version, status))
            self._changed.notify_all()
