"""`GiteaClient` + `ChangeNotesReader` against the sandbox Gitea (HTTP, no fakes inside).

Covers: ahead by 3 (titles, authors, compare link), two merged PRs, a downgrade, an
unrelated history, the old-Gitea fallback walk (ahead, downgrade, the page bound), and
every reason for no notes: no token (no request made), a `read:package` token (403),
a wrong token (401), an unknown repository (404), a 503, and a Gitea slower than the
deadline; the token never reaches a log line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.gitea import ChangeNotesReader, GiteaClient, Revisions
from bot.settings import GiteaSettings
from commands import texts
from commands.changes import ChangeKind, ChangeNotes
from sandbox.history import seed_history
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.repos import Commit, Person, fake_sha
from tests.fixtures.registry import ADMIN_TOKEN

TOKEN = "gtr_notes_reader_token"
TAGS = [fake_sha(f"tag-{n}") for n in range(6)]
PREVIOUS = fake_sha("previous")
ORPHAN = fake_sha("orphan")


@pytest.fixture
async def gitea() -> AsyncIterator[GiteaRegistry]:
    async with GiteaRegistry(users={"admin": ADMIN_TOKEN}) as registry:
        repo = registry.git.create("admin", "honeydue-api")
        start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        released = [start + timedelta(days=n) for n in range(6)]
        seed_history(repo, "api", tags=TAGS, previous=PREVIOUS, released=released)
        repo.add(Commit(ORPHAN, "Orphan\n", Person("X", "x@x"), start))
        registry.add_repo_token("admin", TOKEN)
        yield registry


async def notes_for(
    gitea: GiteaRegistry,
    running: str,
    new: str,
    *,
    token: str | None = TOKEN,
    repo: str = "honeydue-api",
    **settings: float,
) -> ChangeNotes:
    config = GiteaSettings(token=SecretStr(token) if token else None, **settings)  # type: ignore[arg-type]
    async with GiteaClient(config) as client:
        reader = ChangeNotesReader(client, config)
        source = f"{gitea.url}/admin/{repo}"
        found = await reader.read({"api": Revisions(source, running, new)})
    return found["api"]


@pytest.mark.parametrize("old_gitea", [False, True])
async def test_three_commits_ahead(gitea: GiteaRegistry, old_gitea: bool) -> None:
    gitea.repos_api.old_compare = old_gitea
    notes = await notes_for(gitea, TAGS[0][:7], TAGS[1])
    assert notes.kind is ChangeKind.AHEAD
    assert [(c.title, c.author) for c in notes.commits] == [
        ("Log request ids in access logs", "Chen Wei"),
        ("Fix N+1 query in the household list", "Bob Ng"),
        ("Add rate limiting to the login endpoint", "Alice Martin"),
    ]
    assert notes.compare_url == f"{gitea.url}/admin/honeydue-api/compare/{TAGS[0][:7]}...{TAGS[1]}"
    if old_gitea:
        assert gitea.count("GET", "/commits") >= 1
        assert gitea.count("GET", "/compare/") == 1


@pytest.mark.parametrize("old_gitea", [False, True])
async def test_a_downgrade_takes_back_two_commits(gitea: GiteaRegistry, old_gitea: bool) -> None:
    gitea.repos_api.old_compare = old_gitea
    notes = await notes_for(gitea, TAGS[0][:7], PREVIOUS[:7])
    assert notes.kind is ChangeKind.DOWNGRADE
    assert notes.loud
    assert [c.title for c in notes.taken_back] == ["Release api 2026.11.1", "Bump pgx to v5.6"]


@pytest.mark.parametrize("old_gitea", [False, True])
async def test_unrelated_history(gitea: GiteaRegistry, old_gitea: bool) -> None:
    gitea.repos_api.old_compare = old_gitea
    assert (await notes_for(gitea, TAGS[0], ORPHAN)).kind is ChangeKind.UNRELATED


async def test_two_merged_pull_requests(gitea: GiteaRegistry) -> None:
    notes = await notes_for(gitea, TAGS[1][:7], TAGS[2][:7])
    assert notes.merged_prs == (42, 41)
    assert len(notes.commits) == 4


async def test_the_fallback_walk_is_bounded(gitea: GiteaRegistry) -> None:
    gitea.repos_api.old_compare = True
    notes = await notes_for(gitea, TAGS[0][:7], TAGS[5], page_size=2, max_pages=2)
    assert notes.kind is ChangeKind.AHEAD
    assert notes.truncated
    assert len(notes.commits) == 4
    assert gitea.count("GET", "/commits") == 4  # 2 pages from new, 2 from running
    assert "more than 4 commits" in texts.change_summary(notes)[0]


@pytest.mark.parametrize(
    ("token", "repo", "reason"),
    [
        (None, "honeydue-api", texts.changes_no_token()),
        (ADMIN_TOKEN, "honeydue-api", texts.changes_token_scope()),
        ("gtr_wrong", "honeydue-api", texts.changes_token_refused()),
        (TOKEN, "missing", texts.changes_not_found("admin/missing")),
    ],
)
async def test_why_there_are_no_notes(
    gitea: GiteaRegistry, token: str | None, repo: str, reason: str
) -> None:
    notes = await notes_for(gitea, TAGS[0], TAGS[1], token=token, repo=repo)
    assert notes.kind is ChangeKind.UNAVAILABLE
    assert notes.reason == reason
    if token is None:
        assert gitea.count(contains="/api/v1/repos") == 0


async def test_a_failing_gitea(gitea: GiteaRegistry) -> None:
    gitea.fail_next(5, 503, match="/api/v1/repos/")
    notes = await notes_for(gitea, TAGS[0], TAGS[1])
    assert notes.reason == texts.changes_unavailable("HTTP 503")


async def test_a_slow_gitea_is_cut_at_the_deadline(
    gitea: GiteaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    gitea.repos_api.delay_s = 3600.0
    caplog.set_level(logging.DEBUG)
    notes = await notes_for(gitea, TAGS[0], TAGS[1], deadline_s=0.2)
    assert notes.kind is ChangeKind.UNAVAILABLE
    assert notes.reason == texts.changes_timeout(0.2)
    gitea.repos_api.release()
    assert TOKEN not in caplog.text
