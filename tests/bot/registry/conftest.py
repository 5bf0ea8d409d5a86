"""`target`: one registry kind behind a common face, so one contract suite runs on all.

Kinds: the sandbox GiteaRegistry, and the real `docker-registry` with htpasswd and with
token auth. Each test gets its own repository name, so the session-wide registries
never see two tests' images mix.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from bot.registry import Credentials
from bot.settings import RegistrySettings
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import BuiltImage, push_image
from tests.fixtures.registry import ADMIN_TOKEN, NOBODY_TOKEN, DistributionRegistry

KINDS = [
    "gitea",
    pytest.param("distribution-htpasswd", marks=pytest.mark.registry),
    pytest.param("distribution-token", marks=pytest.mark.registry),
]


def fast_settings(**overrides: object) -> RegistrySettings:
    """Small deadlines and backoffs so failure cases finish in well under a second."""
    values: dict[str, object] = {
        "timeout_s": 2.0,
        "retry_backoff_s": [0.01, 0.01],
        "max_retry_after_s": 1.0,
    }
    values.update(overrides)
    return RegistrySettings.model_validate(values)


@dataclass
class Target:
    kind: str
    host: str
    url: str
    repo: str  # unique per test, under the `admin` owner
    revoke: Callable[[], None] | None  # makes ADMIN_TOKEN stop working, if the kind can
    outsider: Credentials | None  # valid credentials without read access, if the kind has ACLs
    requests: Callable[[], list[tuple[str, str]]]

    admin = Credentials("admin", SecretStr(ADMIN_TOKEN))

    async def push(self, image: BuiltImage, tag: str, repo: str | None = None) -> str:
        return await push_image(
            self.url, image, repo or self.repo, tag, username="admin", token=ADMIN_TOKEN
        )

    def ref(self, tag: str, repo: str | None = None) -> str:
        return f"{self.host}/{repo or self.repo}:{tag}"

    async def settled_requests(self) -> list[tuple[str, str]]:
        """The request log once it stops growing (a real registry logs after answering)."""
        previous = -1
        for _ in range(50):
            current = self.requests()
            if len(current) == previous:
                return current
            previous = len(current)
            await asyncio.sleep(0.02)
        return self.requests()


def _distribution_target(reg: DistributionRegistry, repo: str) -> Target:
    token_kind = reg.kind == "distribution-token"
    return Target(
        kind=reg.kind,
        host=reg.host,
        url=reg.url,
        repo=repo,
        revoke=(lambda: reg.revoke("admin")) if token_kind else None,
        outsider=Credentials("nobody", SecretStr(NOBODY_TOKEN)) if token_kind else None,
        requests=lambda: [(m, p) for m, p, _ in reg.requests()],
    )


@pytest.fixture(params=KINDS)
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    repo = f"admin/app-{uuid.uuid4().hex[:8]}"
    if request.param == "gitea":
        async with GiteaRegistry(users={"admin": ADMIN_TOKEN}) as gitea:
            gitea.add_user("outsider", "outsider-token")
            yield Target(
                kind="gitea",
                host=gitea.host,
                url=gitea.url,
                repo=repo,
                revoke=lambda: gitea.revoke_token(ADMIN_TOKEN),
                outsider=Credentials("outsider", SecretStr("outsider-token")),
                requests=lambda: [(r.method, r.path) for r in gitea.requests],
            )
        return
    reg = request.getfixturevalue(f"distribution_registry_{request.param.split('-')[1]}")
    target = _distribution_target(reg, repo)
    yield target
    if reg.kind == "distribution-token":
        reg.revoked.clear()
