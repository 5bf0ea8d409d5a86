"""`ChangeNotesReader`: the change notes of a deploy, from Gitea, within a deadline.

    reader = ChangeNotesReader(gitea_client, settings.gitea())
    notes = await reader.read({"api": Revisions(source_url, running="d1232f6", new="b3467ec…")})

Per service: `compare running...new` and `new...running` (`commands.changes.from_compare`);
when Gitea answers 404 to the compare (before 1.23 it refuses SHAs) the fallback walks
`/commits?sha=NEW` until the running revision, at most `max_pages` pages, then from the
running revision to spot a downgrade (`from_walk`). Every service is read at once and
all of it together is bounded by `deadline_s`: past it, or on any `GiteaError`, a
service's notes are UNAVAILABLE with the reason (`ChangeNotes.reason`), and the caller
goes on deploying. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace

from bot.gitea.client import GiteaClient
from bot.gitea.errors import GiteaError, GiteaNotFound, GiteaTimeout, GiteaTokenMissing
from bot.settings import GiteaSettings
from commands import texts
from commands.changes import (
    ChangeKind,
    ChangeNotes,
    Revisions,
    SourceRepository,
    Walk,
    from_compare,
    from_walk,
    same_revision,
    source_repository,
    unavailable,
    walk_step,
)

log = logging.getLogger(__name__)


class ChangeNotesReader:
    """Reads change notes through one `GiteaClient` (see the module docstring)."""

    def __init__(self, client: GiteaClient, settings: GiteaSettings) -> None:
        self._client = client
        self._settings = settings

    async def read(self, wanted: Mapping[str, Revisions]) -> dict[str, ChangeNotes]:
        """The notes of every service in `wanted`, all within one deadline."""
        found: dict[str, ChangeNotes] = {}
        deadline = self._settings.deadline_s
        try:
            async with asyncio.timeout(deadline), asyncio.TaskGroup() as group:
                for service, revisions in wanted.items():
                    group.create_task(self._one(service, revisions, found), name=f"notes-{service}")
        except TimeoutError:
            log.info("change notes: Gitea did not answer within %.3g s", deadline)
        late = GiteaTimeout(deadline).sentence()
        return {
            service: found.get(service)
            or unavailable(service, late, running=r.running or "", new=r.new or "")
            for service, r in wanted.items()
        }

    async def _one(self, service: str, r: Revisions, found: dict[str, ChangeNotes]) -> None:
        repo = source_repository(r.source_url)
        if repo is None:
            found[service] = unavailable(service, texts.changes_no_source(service))
            return
        if not r.running or not r.new:
            found[service] = unavailable(service, texts.changes_no_revision(service))
            return
        if not self._client.has_token:
            found[service] = unavailable(service, GiteaTokenMissing().sentence())
            return
        try:
            found[service] = await self._notes(service, repo, r.running, r.new)
        except GiteaError as e:
            found[service] = unavailable(service, e.sentence(), running=r.running, new=r.new)

    async def _notes(
        self, service: str, repo: SourceRepository, running: str, new: str
    ) -> ChangeNotes:
        link = "" if same_revision(running, new) else repo.compare_url(running, new)
        try:
            forward = await self._client.compare(repo, running, new)
            backward = [] if forward else await self._client.compare(repo, new, running)
        except GiteaNotFound:
            return await self._fallback(service, repo, running, new, link)
        notes = from_compare(
            service, running=running, new=new, forward=forward, backward=backward, link=link
        )
        return _link_taken_back(notes, repo)

    async def _fallback(
        self, service: str, repo: SourceRepository, running: str, new: str, link: str
    ) -> ChangeNotes:
        try:
            ahead = await self._walk(repo, start=new, target=running)
            behind = None if ahead.found else await self._walk(repo, start=running, target=new)
        except GiteaNotFound:
            # the repository is readable (compare got past the scope check) or not:
            await self._client.repository(repo)  # raises GiteaNotFound when it is not
            return from_walk(
                service, running=running, new=new, forward=Walk(running, exhausted=True), link=link
            )
        return from_walk(
            service, running=running, new=new, forward=ahead, backward=behind, link=link
        )

    async def _walk(self, repo: SourceRepository, *, start: str, target: str) -> Walk:
        walk = Walk(target)
        while not walk.done(self._settings.max_pages):
            page, more = await self._client.commits(repo, start, page=walk.pages + 1)
            walk = walk_step(walk, page=page, more=more)
        return walk


def _link_taken_back(notes: ChangeNotes, repo: SourceRepository) -> ChangeNotes:
    """A downgrade's link shows what it takes back (Gitea's `new...running` page)."""
    if notes.kind is not ChangeKind.DOWNGRADE:
        return notes
    return replace(notes, compare_url=repo.compare_url(notes.new, notes.running))
