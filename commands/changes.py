"""Change notes: what a deploy changes in the service's git history, as data.

    repo = source_repository("https://gitea.example.com/admin/honeydue-api")
    revision_of(label="…40 hex…", tag="237c6b8")          -> the label, else the tag
    notes = from_compare(service, running=…, new=…, forward=[…], backward=[…], link=…)
    walk = walk_step(walk, page=[…], more=True)             -> Walk (the fallback)
    notes = from_walk(service, running=…, new=…, forward=walk, backward=walk2, link=…)
    unavailable(service, reason)                            -> ChangeNotes (no notes, why)
    revisions_for(plan, source_urls=…)                      -> {service: Revisions}
    rollback_revisions(source_url, running=image, target=image) -> Revisions

Gitea answers `compare/{base}...{head}` with `git log base..head`: the commits the head
has and the base has not. So `forward` (running...new) holds what the deploy brings and
`backward` (new...running) what it takes back:

| forward | backward | the deploy is                                               |
|---------|----------|-------------------------------------------------------------|
| n > 0   | 0        | AHEAD by n (merges of pull requests counted)                |
| 0       | m > 0    | a DOWNGRADE: the new revision is an ancestor, m taken back  |
| n > 0   | m > 0    | DIVERGED: n new, m taken back (another branch)              |
| 0       | 0        | SAME revision, else UNRELATED history                       |

Older Gitea (before 1.23) refuses SHAs in `compare`: then `/commits?sha=NEW` is walked
page by page until the running revision shows up (`walk_step`), at most a bound of
pages; a walk that ends without it is repeated from the running revision to find a
downgrade, and one that hits the bound says so (`truncated`).

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from commands.images import tag_of

if TYPE_CHECKING:
    from commands.plan import DeployPlan

_MERGE = re.compile(r"^Merge pull request '.*' \(#(\d+)\)")
_SHORT_MERGE = re.compile(r"\(#(\d+)\)\s*$")


class ChangeKind(StrEnum):
    AHEAD = "ahead"
    DOWNGRADE = "downgrade"
    DIVERGED = "diverged"
    SAME = "same"
    UNRELATED = "unrelated"
    UNAVAILABLE = "unavailable"
    """No notes: no token, Gitea refused or timed out, no `source_url` (see `reason`)."""


@dataclass(frozen=True)
class SourceRepository:
    """Where a service's code lives: Gitea's web root, owner and repository name."""

    root: str
    owner: str
    name: str

    @property
    def html_url(self) -> str:
        return f"{self.root}/{self.owner}/{self.name}"

    @property
    def api_url(self) -> str:
        return f"{self.root}/api/v1/repos/{self.owner}/{self.name}"

    def compare_url(self, base: str, head: str) -> str:
        """Gitea's web compare page for `base...head`."""
        return f"{self.html_url}/compare/{base}...{head}"


def source_repository(source_url: str | None) -> SourceRepository | None:
    """`https://host[/sub]/owner/repo[.git][/]` -> its parts; None if it is not one."""
    if not source_url:
        return None
    parts = urlsplit(source_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = [p for p in parts.path.split("/") if p]
    if len(path) < 2:
        return None
    owner, name = path[-2], path[-1].removesuffix(".git")
    if not owner or not name:
        return None
    prefix = "/".join(path[:-2])
    root = f"{parts.scheme}://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    return SourceRepository(root, owner, name)


def revision_of(*, label: str | None, tag: str | None) -> str | None:
    """The git revision of an image: its `org.opencontainers.image.revision` label when it
    looks like a SHA, else the tag when that does (tags are short SHAs), else None."""
    for candidate in (label, tag):
        if candidate and re.fullmatch(r"[0-9a-fA-F]{7,40}", candidate):
            return candidate.lower()
    return None


def same_revision(a: str, b: str) -> bool:
    """Two SHAs name the same commit when one is a prefix of the other (short SHAs)."""
    a, b = a.lower(), b.lower()
    return a.startswith(b) or b.startswith(a)


@dataclass(frozen=True)
class GitCommit:
    """One commit as Gitea describes it, reduced to what a person reads."""

    sha: str
    title: str
    author: str
    date: str = ""
    html_url: str = ""
    parents: int = 1

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def pull_request(self) -> int | None:
        """The PR a merge commit merged (Gitea's `Merge pull request '…' (#N)` title)."""
        if self.parents < 2:
            return None
        found = _MERGE.match(self.title) or _SHORT_MERGE.search(self.title)
        return int(found.group(1)) if found else None


@dataclass(frozen=True)
class ChangeNotes:
    """What deploying `new` over `running` changes (module docstring)."""

    service: str
    kind: ChangeKind
    running: str = ""
    new: str = ""
    commits: tuple[GitCommit, ...] = ()
    """AHEAD / DIVERGED: what the deploy brings, newest first."""
    taken_back: tuple[GitCommit, ...] = ()
    """DOWNGRADE / DIVERGED: commits running now that the deploy removes, newest first."""
    compare_url: str = ""
    reason: str = ""
    """UNAVAILABLE: the one line saying why there are no notes."""
    truncated: bool = False
    """The fallback walk hit its bound: there are more commits than listed."""

    @property
    def merged_prs(self) -> tuple[int, ...]:
        return tuple(n for c in self.commits if (n := c.pull_request) is not None)

    @property
    def loud(self) -> bool:
        """A downgrade or a diverged history: the approver must not miss it."""
        return self.kind in (ChangeKind.DOWNGRADE, ChangeKind.DIVERGED)


def unavailable(service: str, reason: str, *, running: str = "", new: str = "") -> ChangeNotes:
    return ChangeNotes(service, ChangeKind.UNAVAILABLE, running, new, reason=reason)


def from_compare(
    service: str,
    *,
    running: str,
    new: str,
    forward: Sequence[GitCommit],
    backward: Sequence[GitCommit],
    link: str = "",
) -> ChangeNotes:
    """The notes from the two compares (running...new, new...running), per the table."""
    notes = ChangeNotes(service, ChangeKind.SAME, running, new, compare_url=link)
    if forward and backward:
        return replace(
            notes, kind=ChangeKind.DIVERGED, commits=(*forward,), taken_back=(*backward,)
        )
    if forward:
        return replace(notes, kind=ChangeKind.AHEAD, commits=(*forward,))
    if backward:
        return replace(notes, kind=ChangeKind.DOWNGRADE, taken_back=(*backward,))
    if same_revision(running, new):
        return notes
    return replace(notes, kind=ChangeKind.UNRELATED)


@dataclass(frozen=True)
class Walk:
    """The fallback's progress: walking `git log START` until `target` shows up."""

    target: str
    commits: tuple[GitCommit, ...] = ()
    found: bool = False
    exhausted: bool = False
    """The history ended (no next page) without `target`."""
    pages: int = 0

    def done(self, max_pages: int) -> bool:
        return self.found or self.exhausted or self.pages >= max_pages

    @property
    def truncated(self) -> bool:
        return not self.found and not self.exhausted


def walk_step(walk: Walk, *, page: Sequence[GitCommit], more: bool) -> Walk:
    """Add one `/commits` page: keep the commits before `target`; stop when it is found."""
    kept = list(walk.commits)
    for commit in page:
        if same_revision(commit.sha, walk.target):
            return replace(walk, commits=tuple(kept), found=True, pages=walk.pages + 1)
        kept.append(commit)
    return replace(walk, commits=tuple(kept), exhausted=not more or not page, pages=walk.pages + 1)


def from_walk(
    service: str,
    *,
    running: str,
    new: str,
    forward: Walk,
    backward: Walk | None = None,
    link: str = "",
) -> ChangeNotes:
    """The notes from the fallback walks: `forward` from `new` looking for `running`,
    `backward` (only walked when `forward` did not find it) from `running` looking for
    `new`. A walk that neither found its target nor ended is `truncated`."""
    notes = ChangeNotes(service, ChangeKind.SAME, running, new, compare_url=link)
    if same_revision(running, new):
        return notes
    if forward.found:
        return replace(notes, kind=ChangeKind.AHEAD, commits=forward.commits)
    if backward is not None and backward.found:
        return replace(notes, kind=ChangeKind.DOWNGRADE, taken_back=backward.commits)
    if forward.truncated:
        # the running revision is further back than the bound: list what was seen
        return replace(notes, kind=ChangeKind.AHEAD, commits=forward.commits, truncated=True)
    return replace(notes, kind=ChangeKind.UNRELATED)


@dataclass(frozen=True)
class Revisions:
    """What one service runs and what the deploy brings, as git revisions (or None)."""

    source_url: str | None
    running: str | None
    new: str | None


def revisions_for(
    plan: DeployPlan, *, source_urls: Mapping[str, str | None]
) -> dict[str, Revisions]:
    """Per planned service: its repository, the running tag, the new image's revision."""
    return {
        s.service: Revisions(
            source_urls.get(s.service),
            revision_of(label=None, tag=tag_of(s.running)) if s.running else None,
            revision_of(label=s.image.revision_label, tag=plan.tag),
        )
        for s in plan.services
    }


def rollback_revisions(source_url: str | None, *, running: str, target: str) -> Revisions:
    """A rollback's revisions: the running image's tag and the target revision's."""
    return Revisions(
        source_url,
        revision_of(label=None, tag=tag_of(running)),
        revision_of(label=None, tag=tag_of(target)),
    )
