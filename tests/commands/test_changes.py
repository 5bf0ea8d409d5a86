"""Change notes as data: source URLs, revisions, the compare table, the fallback walk, texts.

Covers: `source_repository` (sub-path installs, `.git`, garbage), `revision_of` (label
first, SHA-looking tags only), `from_compare` (ahead, downgrade, diverged, same,
unrelated), merged pull requests, `walk_step`/`from_walk` (found, exhausted, bounded),
and the texts: summary (3 titles + authors + link, loud downgrade), full list, rollback,
one line for the reasons.
"""

from __future__ import annotations

import pytest

from commands import texts
from commands.changes import (
    ChangeKind,
    GitCommit,
    SourceRepository,
    Walk,
    from_compare,
    from_walk,
    revision_of,
    source_repository,
    unavailable,
    walk_step,
)


def c(n: int, title: str = "", author: str = "Alice", parents: int = 1) -> GitCommit:
    return GitCommit(f"{n:07x}" + "0" * 33, title or f"change {n}", author, parents=parents)


A, B, C, D = c(1), c(2), c(3), c(4)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://git.example.com/admin/api",
            SourceRepository("https://git.example.com", "admin", "api"),
        ),
        (
            "https://git.example.com/admin/api.git/",
            SourceRepository("https://git.example.com", "admin", "api"),
        ),
        ("http://h:3000/gitea/team/svc", SourceRepository("http://h:3000/gitea", "team", "svc")),
        ("https://git.example.com/admin", None),
        ("git@git.example.com:admin/api.git", None),
        ("", None),
        (None, None),
    ],
)
def test_source_repository(url: str | None, expected: SourceRepository | None) -> None:
    assert source_repository(url) == expected


def test_repository_urls() -> None:
    repo = SourceRepository("https://g", "o", "r")
    assert repo.api_url == "https://g/api/v1/repos/o/r"
    assert repo.compare_url("a", "b") == "https://g/o/r/compare/a...b"


@pytest.mark.parametrize(
    ("label", "tag", "expected"),
    [
        ("A" * 40, "1234567", "a" * 40),
        (None, "237c6b8", "237c6b8"),
        ("", "237c6b8", "237c6b8"),
        ("v1.2.3", "237c6b8", "237c6b8"),
        (None, "v1.2.3", None),
        (None, None, None),
    ],
)
def test_revision_of(label: str | None, tag: str | None, expected: str | None) -> None:
    assert revision_of(label=label, tag=tag) == expected


@pytest.mark.parametrize(
    ("running", "new", "forward", "backward", "kind"),
    [
        ("aaaaaaa", "bbbbbbb", [A, B, C], [], ChangeKind.AHEAD),
        ("aaaaaaa", "bbbbbbb", [], [A, B], ChangeKind.DOWNGRADE),
        ("aaaaaaa", "bbbbbbb", [A], [B], ChangeKind.DIVERGED),
        ("aaaaaaa", "aaaaaaa" + "1" * 33, [], [], ChangeKind.SAME),
        ("aaaaaaa", "bbbbbbb", [], [], ChangeKind.UNRELATED),
    ],
)
def test_from_compare(
    running: str, new: str, forward: list[GitCommit], backward: list[GitCommit], kind: ChangeKind
) -> None:
    notes = from_compare("api", running=running, new=new, forward=forward, backward=backward)
    assert notes.kind is kind
    assert notes.commits == tuple(forward)
    assert notes.taken_back == (tuple(backward) if kind is not ChangeKind.AHEAD else ())
    assert notes.loud is (kind in (ChangeKind.DOWNGRADE, ChangeKind.DIVERGED))


@pytest.mark.parametrize(
    ("title", "parents", "pr"),
    [
        ("Merge pull request 'Push settings' (#41) from feat/x into main", 2, 41),
        ("Squash-merged thing (#7)", 2, 7),
        ("Merge pull request 'Push settings' (#41) from feat/x into main", 1, None),
        ("Merge branch 'main' into feat", 2, None),
    ],
)
def test_pull_request_of_a_merge(title: str, parents: int, pr: int | None) -> None:
    assert GitCommit("f" * 40, title, "Bob", parents=parents).pull_request == pr


def test_merged_prs_counted() -> None:
    merges = [c(5, "Merge pull request 'x' (#41) from a into main", parents=2), A]
    merges.append(c(6, "Merge pull request 'y' (#42) from b into main", parents=2))
    notes = from_compare("api", running="aaaaaaa", new="bbbbbbb", forward=merges, backward=[])
    assert notes.merged_prs == (41, 42)


@pytest.mark.parametrize(
    ("pages", "max_pages", "found", "kept", "truncated"),
    [
        ([([A, B, C], True)], 4, True, [A, B], False),  # C is the target
        ([([A], True), ([B, C], False)], 4, True, [A, B], False),
        ([([A], True), ([B], False)], 4, False, [A, B], False),  # history ended
        ([([A], True), ([B], True)], 2, False, [A, B], True),  # the bound
        ([([], True)], 4, False, [], False),  # an empty page ends it
    ],
)
def test_walk(
    pages: list[tuple[list[GitCommit], bool]],
    max_pages: int,
    found: bool,
    kept: list[GitCommit],
    truncated: bool,
) -> None:
    walk = Walk(C.sha[:7])
    for page, more in pages:
        if walk.done(max_pages):
            break
        walk = walk_step(walk, page=page, more=more)
    assert walk.done(max_pages)
    assert (walk.found, list(walk.commits), walk.truncated) == (found, kept, truncated)


@pytest.mark.parametrize(
    ("forward", "backward", "kind", "truncated"),
    [
        (Walk("r", (A, B), found=True), None, ChangeKind.AHEAD, False),
        (
            Walk("r", (A,), exhausted=True),
            Walk("n", (B, C), found=True),
            ChangeKind.DOWNGRADE,
            False,
        ),
        (
            Walk("r", (A,), exhausted=True),
            Walk("n", (B,), exhausted=True),
            ChangeKind.UNRELATED,
            False,
        ),
        (Walk("r", (A, B), pages=4), Walk("n", (), pages=4), ChangeKind.AHEAD, True),
    ],
)
def test_from_walk(forward: Walk, backward: Walk | None, kind: ChangeKind, truncated: bool) -> None:
    notes = from_walk("api", running="r" * 7, new="n" * 7, forward=forward, backward=backward)
    assert (notes.kind, notes.truncated) == (kind, truncated)


def test_summary_shows_three_titles_authors_and_the_link() -> None:
    commits = [c(1, "One", "Alice"), c(2, "Two", "Bob"), c(3, "Three", "Chen"), c(4, "Four")]
    notes = from_compare(
        "api", running="d1232f6", new="b3467ec", forward=commits, backward=[], link="https://g/c"
    )
    lines = texts.change_summary(notes)
    assert lines[0] == "*4 commits* in `api` (`d1232f6` → `b3467ec`) · <https://g/c|compare>"
    assert lines[1:4] == ["• One — Alice", "• Two — Bob", "• Three — Chen"]
    assert lines[4] == "…and 1 more (the full list is in the thread)"
    plain = texts.change_summary(notes, slack=False)
    assert plain[0] == "4 commits in `api` (`d1232f6` → `b3467ec`) · https://g/c"
    full = texts.change_list(notes)
    assert len(full) == 5
    assert full[0].startswith("Commits this deploy brings to `api` (4")


def test_downgrade_is_loud_and_rollback_says_what_it_takes_back() -> None:
    notes = from_compare("api", running="d1232f6", new="e388675", forward=[], backward=[A, B])
    line = texts.change_summary(notes)[0]
    assert line.startswith(":rotating_light: *Downgrade*: `e388675` is older than the running")
    assert "takes back 2 commits" in line
    assert texts.rollback_takes_back(notes)[0].startswith("This rollback takes back *2 commits*")


@pytest.mark.parametrize(
    ("reasons", "line"),
    [
        (["no token", "no token"], "No change notes: no token."),
        (["no token", "timeout"], "No change notes: no token; timeout."),
        ([], "No change notes: unknown reason."),
    ],
)
def test_the_reason_is_said_once(reasons: list[str], line: str) -> None:
    assert texts.no_change_notes(reasons) == line
    assert texts.change_summary(unavailable("api", "x"))[0] == "No change notes: x."


def test_the_thread_list_is_bounded() -> None:
    many = [c(n) for n in range(1, 200)]
    notes = from_compare(
        "api", running="aaaaaaa", new="bbbbbbb", forward=many, backward=[], link="https://g/c"
    )
    full = texts.change_list(notes)
    assert len(full) == 1 + texts.THREAD_COMMITS + 1
    assert full[-1] == f"…and {199 - texts.THREAD_COMMITS} more: <https://g/c|compare>"
