"""The sandbox Gitea's git repositories: commits, parents, refs, and git's own walks.

In memory, synchronous, no HTTP (`repos_api.py` is the HTTP face). What Deckhand relies
on is modelled the way git and Gitea compute it:

- `log(start)`: `git log START` order (newest committer date first, every parent
  followed, each commit once): what `GET /commits?sha=` pages through.
- `compare(base, head)`: `git log base..head` when the two share a merge base, else no
  commits at all (Gitea's `GetCompareInfo` answers an empty list for unrelated
  histories, it does not fail), newest first.
- `resolve(ref)`: a full SHA, an unambiguous prefix of at least 4 hex digits (git's
  `rev-parse` rule) or a branch name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

_HEX = re.compile(r"^[0-9a-f]{4,40}$")


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: Person
    date: datetime
    parents: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


def fake_sha(seed: str) -> str:
    """A stable 40-hex "SHA" for sandbox history (the same every run)."""
    return hashlib.sha1(seed.encode()).hexdigest()


@dataclass
class GitRepository:
    """One repository: `owner/name`, its commits and branches (`main` by default)."""

    owner: str
    name: str
    private: bool = True
    default_branch: str = "main"
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def add(self, commit: Commit, *, branch: str | None = None) -> Commit:
        """Store `commit` (its parents must exist) and move `branch` to it when given."""
        missing = [p for p in commit.parents if p not in self.commits]
        if missing:
            raise ValueError(f"unknown parent {missing[0]} of {commit.sha}")
        self.commits[commit.sha] = commit
        if branch:
            self.branches[branch] = commit.sha
        return commit

    def resolve(self, ref: str) -> Commit | None:
        """The commit `ref` names (branch, full SHA or unique prefix), or None."""
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        ref = ref.lower()
        if not _HEX.match(ref):
            return None
        if ref in self.commits:
            return self.commits[ref]
        found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
        return found[0] if len(found) == 1 else None

    def ancestry(self, start: str) -> set[str]:
        """Every commit reachable from `start`, itself included."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            sha = todo.pop()
            if sha in seen:
                continue
            seen.add(sha)
            todo.extend(self.commits[sha].parents)
        return seen

    def _ordered(self, shas: Iterable[str]) -> list[Commit]:
        # git log's default order: committer date, newest first (ties: SHA, for stability)
        return sorted((self.commits[s] for s in shas), key=lambda c: (c.date, c.sha), reverse=True)

    def log(self, start: str) -> list[Commit]:
        """`git log START`: every ancestor of `start`, newest first."""
        return self._ordered(self.ancestry(start))

    def compare(self, base: str, head: str) -> list[Commit]:
        """`git log base..head` if the two histories meet, else [] (as Gitea answers)."""
        in_base = self.ancestry(base)
        in_head = self.ancestry(head)
        if not in_base & in_head:
            return []
        return self._ordered(in_head - in_base)


@dataclass
class RepoStore:
    """Every repository and the API tokens with their scopes (`read:repository`, …)."""

    repos: dict[str, GitRepository] = field(default_factory=dict)
    tokens: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)

    def create(self, owner: str, name: str, *, private: bool = True) -> GitRepository:
        repo = GitRepository(owner.lower(), name.lower(), private=private)
        self.repos[repo.full_name] = repo
        return repo

    def get(self, owner: str, name: str) -> GitRepository | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def add_token(self, user: str, token: str, scopes: Iterable[str]) -> None:
        self.tokens[token] = (user.lower(), frozenset(scopes))
