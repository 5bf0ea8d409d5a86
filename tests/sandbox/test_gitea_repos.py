"""The sandbox Gitea's repository API answers as Gitea does; the seeded history fits the tags.

Covers: compare (ahead, downgrade = 0 commits one way, unrelated = 0 both ways, unknown
ref 404, `..` and `...`), the old-Gitea switch (404 for SHAs, branches still work),
`/commits` paging with X-Total-Count / Link / `not`, `/git/commits/{sha}` (422, 404),
Gitea's commit JSON shape, token scopes (a `read:package` PAT gets 403 even for a
missing repository, an unknown token 401, anonymous 404 on a private repository),
injected faults, the slow mode released at shutdown, and `SandboxEnv`'s seed: every tag
is the short SHA of a commit and the image revision label its full SHA.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.registry.client import RegistryClient
from bot.settings import RegistrySettings
from commands.images import ImageReference, Platform
from sandbox.env import SandboxEnv
from sandbox.history import seed_history
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.repos import Commit, Person, fake_sha
from tests.fixtures.registry import ADMIN_TOKEN

REPO_TOKEN = "gtr_repo_reader"
TAGS = [fake_sha(f"tag-{n}") for n in range(6)]
PREVIOUS = fake_sha("previous")
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def gitea() -> AsyncIterator[GiteaRegistry]:
    async with GiteaRegistry(users={"admin": ADMIN_TOKEN}) as registry:
        repo = registry.git.create("admin", "honeydue-api")
        released = [START + timedelta(days=n) for n in range(6)]
        seed_history(repo, "api", tags=TAGS, previous=PREVIOUS, released=released)
        lonely = Commit(fake_sha("orphan"), "Orphan\n", Person("X", "x@x"), START)
        repo.add(lonely)
        repo.branches["orphan"] = lonely.sha
        registry.add_repo_token("admin", REPO_TOKEN)
        yield registry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(
    http: aiohttp.ClientSession, gitea: GiteaRegistry, path: str, token: str | None = REPO_TOKEN
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"token {token}"} if token else {}
    url = f"{gitea.url}/api/v1/repos/admin/honeydue-api{path}"
    async with http.get(url, headers=headers) as resp:
        text = await resp.text()
        body = json.loads(text) if resp.content_type == "application/json" else text
        return resp.status, body, resp.headers


def titles(commits: list[dict[str, Any]]) -> list[str]:
    return [c["commit"]["message"].split("\n")[0] for c in commits]


@pytest.mark.parametrize(
    ("base", "head", "sep", "count"),
    [
        (TAGS[0], TAGS[1], "...", 3),
        (TAGS[0][:7], TAGS[1][:7], "...", 3),  # short SHAs, as the tags are
        (TAGS[1], TAGS[2], "..", 4),  # two merged pull requests
        (TAGS[0], PREVIOUS, "...", 0),  # a downgrade: nothing new one way…
        (PREVIOUS, TAGS[0], "...", 2),  # …2 commits the other way
        (TAGS[0], fake_sha("orphan"), "...", 0),  # unrelated history
        (fake_sha("orphan"), TAGS[0], "...", 0),
    ],
)
async def test_compare_lists_git_log_base_dot_dot_head(
    gitea: GiteaRegistry,
    http: aiohttp.ClientSession,
    base: str,
    head: str,
    sep: str,
    count: int,
) -> None:
    status, body, _ = await get(http, gitea, f"/compare/{base}{sep}{head}")
    assert status == 200
    assert body["total_commits"] == count == len(body["commits"])


async def test_compare_shape_and_order(gitea: GiteaRegistry, http: aiohttp.ClientSession) -> None:
    _, body, _ = await get(http, gitea, f"/compare/{TAGS[0]}...{TAGS[1]}")
    assert titles(body["commits"]) == [
        "Log request ids in access logs",
        "Fix N+1 query in the household list",
        "Add rate limiting to the login endpoint",
    ]
    first = body["commits"][0]
    assert first["sha"] == TAGS[1]
    assert first["html_url"] == f"{gitea.url}/admin/honeydue-api/commit/{TAGS[1]}"
    assert first["url"] == f"{gitea.url}/api/v1/repos/admin/honeydue-api/git/commits/{TAGS[1]}"
    assert first["commit"]["author"]["name"] == "Chen Wei"
    assert first["commit"]["author"]["date"].endswith("Z")
    assert first["author"] is None  # the e-mail is no Gitea user's
    assert first["parents"][0]["created"] == "0001-01-01T00:00:00Z"
    assert set(first) >= {"created", "commit", "committer", "files", "stats"}
    _, merged, _ = await get(http, gitea, f"/compare/{TAGS[1]}...{TAGS[2]}")
    assert sum(len(c["parents"]) > 1 for c in merged["commits"]) == 2


async def test_compare_unknown_ref_is_404(
    gitea: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await get(http, gitea, f"/compare/{TAGS[0]}...{'f' * 40}")
    assert status == 404
    assert body["message"] == "The target couldn't be found."


async def test_old_gitea_compare_refuses_shas_but_not_branches(
    gitea: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    gitea.repos_api.old_compare = True
    status, _, _ = await get(http, gitea, f"/compare/{TAGS[0]}...{TAGS[1]}")
    assert status == 404
    status, body, _ = await get(http, gitea, "/compare/orphan...main")
    assert status == 200
    assert body["total_commits"] == 0
    status, page, _ = await get(http, gitea, f"/commits?sha={TAGS[1]}&limit=50")
    assert status == 200
    assert page[0]["sha"] == TAGS[1]


async def test_commits_pages_with_gitea_headers(
    gitea: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    status, page, headers = await get(http, gitea, f"/commits?sha={TAGS[1]}&limit=3&page=1")
    assert status == 200
    assert titles(page)[0] == "Log request ids in access logs"
    total = int(headers["X-Total-Count"])
    assert total == 8  # root … TAGS[1]
    assert headers["X-HasMore"] == "true"
    assert 'limit=3&page=2>; rel="next"' in headers["Link"]
    assert 'limit=3&page=3>; rel="last"' in headers["Link"]
    _, last, headers = await get(http, gitea, f"/commits?sha={TAGS[1]}&limit=3&page=3")
    assert titles(last)[-1] == "Initial commit"
    assert 'rel="next"' not in headers["Link"]
    assert 'rel="prev"' in headers["Link"]
    _, limited, _ = await get(http, gitea, f"/commits?sha={TAGS[5]}&limit=500")
    assert len(limited) == 16  # under Gitea's cap of 50
    _, since, headers = await get(http, gitea, f"/commits?sha={TAGS[1]}&not={TAGS[0]}")
    assert len(since) == 3
    assert headers["X-Total-Count"] == "3"
    status, _, _ = await get(http, gitea, f"/commits?sha={'e' * 40}")
    assert status == 404


async def test_one_commit(gitea: GiteaRegistry, http: aiohttp.ClientSession) -> None:
    status, body, _ = await get(http, gitea, f"/git/commits/{TAGS[2][:7]}")
    assert status == 200
    assert body["sha"] == TAGS[2]
    assert [p["sha"] for p in body["parents"]][1] != TAGS[1]
    assert (await get(http, gitea, "/git/commits/%20bad"))[0] == 422
    assert (await get(http, gitea, f"/git/commits/{'a' * 40}"))[0] == 404


@pytest.mark.parametrize(
    ("token", "repo", "status", "message"),
    [
        (ADMIN_TOKEN, "honeydue-api", 403, "required scope(s): [read:repository]"),
        (ADMIN_TOKEN, "no-such-repo", 403, "required scope(s): [read:repository]"),
        ("gtr_wrong", "honeydue-api", 401, "user does not exist"),
        (None, "honeydue-api", 404, "couldn't be found"),
        (REPO_TOKEN, "no-such-repo", 404, "couldn't be found"),
    ],
)
async def test_token_scopes_and_privacy(
    gitea: GiteaRegistry,
    http: aiohttp.ClientSession,
    token: str | None,
    repo: str,
    status: int,
    message: str,
) -> None:
    headers = {"Authorization": f"token {token}"} if token else {}
    url = f"{gitea.url}/api/v1/repos/admin/{repo}/commits?sha=main"
    async with http.get(url, headers=headers) as resp:
        assert resp.status == status
        assert message in (await resp.json())["message"]


async def test_another_users_token_does_not_see_a_private_repository(
    gitea: GiteaRegistry, http: aiohttp.ClientSession
) -> None:
    gitea.add_user("mallory", "pkg_mallory")
    gitea.add_repo_token("mallory", "gtr_mallory")
    assert (await get(http, gitea, "", token="gtr_mallory"))[0] == 404
    status, body, _ = await get(http, gitea, "")
    assert status == 200
    assert body["default_branch"] == "main"
    assert body["private"] is True


async def test_faults_and_the_slow_mode(gitea: GiteaRegistry, http: aiohttp.ClientSession) -> None:
    gitea.fail_next(1, 503, match="/api/v1/repos/")
    assert (await get(http, gitea, ""))[0] == 503
    assert (await get(http, gitea, ""))[0] == 200
    gitea.repos_api.delay_s = 3600.0
    pending = asyncio.ensure_future(get(http, gitea, ""))
    async with asyncio.timeout(5):  # the request arrived and its answer is held
        while gitea.repos_api.holding < 1:  # noqa: ASYNC110 (a counter, no event)
            await asyncio.sleep(0.01)
    assert not pending.done()
    gitea.repos_api.release()  # what shutdown does
    assert (await pending)[0] == 200


async def test_sandbox_env_seeds_one_repository_per_service_matching_the_tags(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        seed = json.loads(env.seed_path.read_text())
        assert f"DECKHAND_GITEA_TOKEN={env.gitea_token}" in env.registry_env.read_text()
        settings = RegistrySettings(username="admin", token=env.token)  # type: ignore[arg-type]
        async with RegistryClient(settings) as client:
            for name, service in seed["services"].items():
                repo = env.registry.git.get("admin", f"honeydue-{name}")
                assert repo is not None
                assert service["source_url"] == f"{env.registry.url}/admin/honeydue-{name}"
                for tag, platforms in service["tags"].items():
                    commit = repo.resolve(tag)
                    assert commit is not None
                    assert commit.sha.startswith(tag)
                    ref = ImageReference.parse(f"{service['repository']}:{tag}")
                    verdict = await client.inspect(ref, platform=Platform.parse(platforms[0]))
                    assert verdict.revision == commit.sha
                current = repo.resolve(service["current"])
                previous = repo.resolve(service["previous"])
                assert current is not None
                assert previous is not None
                assert previous.sha in repo.ancestry(current.sha)  # the downgrade tag
