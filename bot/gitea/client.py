"""`GiteaClient`: the few Gitea repository API calls change notes need.

    async with GiteaClient(settings.gitea()) as gitea:
        commits = await gitea.compare(repo, base, head)       # git log base..head
        page, more = await gitea.commits(repo, sha, page=1)    # git log SHA, paged
        await gitea.repository(repo)                           # the doctor's check

Requests carry `Authorization: token <PAT>` (the token never appears in a log line or
an error); the answers are parsed into `commands.changes.GitCommit` right here, and
every failure becomes one `bot.gitea.errors.GiteaError`. Deadlines are the caller's
(`ChangeNotesReader` bounds all the requests of one deploy together); a client without
its own session opens one for its `async with`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from bot.gitea.errors import (
    GiteaAuthFailed,
    GiteaError,
    GiteaForbidden,
    GiteaNotFound,
    GiteaTokenMissing,
    GiteaUnavailable,
)
from bot.settings import GiteaSettings
from commands import texts
from commands.changes import GitCommit, SourceRepository

log = logging.getLogger(__name__)

_CHEAP = {"stat": "false", "verification": "false", "files": "false"}


def parse_commit(raw: object) -> GitCommit:
    """One `api.Commit` as a `GitCommit` (title, author name, date, parents)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sha"), str):
        raise GiteaUnavailable(texts.gitea_unreadable("commit"))
    inner = raw.get("commit") if isinstance(raw.get("commit"), dict) else {}
    assert isinstance(inner, dict)
    author = inner.get("author") if isinstance(inner.get("author"), dict) else {}
    assert isinstance(author, dict)
    message = str(inner.get("message") or "")
    parents = raw.get("parents")
    return GitCommit(
        sha=raw["sha"],
        title=message.strip().split("\n", 1)[0],
        author=str(author.get("name") or "unknown"),
        date=str(author.get("date") or ""),
        html_url=str(raw.get("html_url") or ""),
        parents=len(parents) if isinstance(parents, list) else 1,
    )


def _next_page(headers: Mapping[str, str]) -> bool:
    return any('rel="next"' in part for part in headers.get("Link", "").split(","))


class GiteaClient:
    """Gitea API calls over one HTTP session (see the module docstring)."""

    def __init__(
        self, settings: GiteaSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._settings = settings
        self._given = session
        self._owned: aiohttp.ClientSession | None = None

    @property
    def has_token(self) -> bool:
        return self._settings.token is not None

    async def __aenter__(self) -> Self:
        if self._given is None:
            self._owned = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._owned is not None:
            await self._owned.close()
            self._owned = None

    @property
    def _session(self) -> aiohttp.ClientSession:
        session = self._given or self._owned
        if session is None:
            raise RuntimeError("use `async with GiteaClient(...)` before calling it")
        return session

    # calls ------------------------------------------------------------------------------

    async def compare(self, repo: SourceRepository, base: str, head: str) -> list[GitCommit]:
        """The commits `head` has and `base` has not (`git log base..head`), newest first."""
        path = f"/compare/{quote(base, safe='')}...{quote(head, safe='')}"
        body, _ = await self._get(repo, path, _CHEAP)
        commits = body.get("commits") if isinstance(body, dict) else None
        if not isinstance(commits, list):
            raise GiteaUnavailable(texts.gitea_unreadable("compare answer"))
        return [parse_commit(c) for c in commits]

    async def commits(
        self, repo: SourceRepository, sha: str, *, page: int
    ) -> tuple[list[GitCommit], bool]:
        """One page of `git log SHA`, and whether Gitea links a next page."""
        query = {"sha": sha, "page": str(page), "limit": str(self._settings.page_size), **_CHEAP}
        body, headers = await self._get(repo, "/commits", query)
        if not isinstance(body, list):
            raise GiteaUnavailable(texts.gitea_unreadable("commit list"))
        return [parse_commit(c) for c in body], _next_page(headers)

    async def repository(self, repo: SourceRepository) -> str:
        """The repository's full name, if the token may read it (else a `GiteaError`)."""
        body, _ = await self._get(repo, "", {})
        name = body.get("full_name") if isinstance(body, dict) else None
        return str(name or f"{repo.owner}/{repo.name}")

    async def _get(
        self, repo: SourceRepository, path: str, query: Mapping[str, str]
    ) -> tuple[Any, Mapping[str, str]]:
        token = self._settings.token
        if token is None:
            raise GiteaTokenMissing()
        headers = {
            "Authorization": f"token {token.get_secret_value()}",
            "Accept": "application/json",
        }
        url = repo.api_url + path
        try:
            async with self._session.get(url, params=dict(query), headers=headers) as resp:
                status = resp.status
                if status == 200:
                    try:
                        return await resp.json(content_type=None), resp.headers
                    except ValueError as e:
                        raise GiteaUnavailable(texts.gitea_unreadable("answer (not JSON)")) from e
        except aiohttp.ClientError as e:
            raise GiteaUnavailable(type(e).__name__) from e
        log.info("gitea answered %s for %s", status, url.split("?", 1)[0])
        raise _by_status(status, f"{repo.owner}/{repo.name}")


def _by_status(status: int, repository: str) -> GiteaError:
    if status == 401:
        return GiteaAuthFailed()
    if status == 403:
        return GiteaForbidden()
    if status == 404:
        return GiteaNotFound(repository)
    return GiteaUnavailable(texts.gitea_http(status))
