"""The honeydue services' git history, seeded into the sandbox Gitea (`sandbox/env.py`).

Every seeded image tag is the short SHA of one commit here, and the image's
`org.opencontainers.image.revision` label its full SHA. One history per service,
the same shape for each (titles name the service), oldest first:

    root ─ c ─ PREVIOUS ─ c ─ good[0] ─ c ─ c ─ good[1] ─┬─ M(#41) ─┬─ good[2]=M(#42) ─ good[3]
                                                          └ f1 ──────┘└ f2 (from good[1])
         ─ c ─ arm64_only ─ multi_arch

- `good[0] → good[1]`: 3 commits by 3 authors (the demo's "3 commits ahead");
- `good[1] → good[2]`: a merge of 2 pull requests (4 commits, 2 of them merges);
- `PREVIOUS` (the seeded downgrade tag) is an ancestor of `good[0]`, which runs at start:
  deploying it takes 2 commits back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sandbox.registry.repos import Commit, GitRepository, Person, fake_sha

ALICE = Person("Alice Martin", "alice@honeydue.example")
BOB = Person("Bob Ng", "bob@honeydue.example")
CHEN = Person("Chen Wei", "chen@honeydue.example")


class _Writer:
    """Appends commits with increasing dates (git log order follows them)."""

    def __init__(self, repo: GitRepository, service: str, start: datetime) -> None:
        self.repo, self.service, self.at = repo, service, start
        self.n = 0

    def commit(
        self,
        title: str,
        author: Person,
        parents: Sequence[str],
        *,
        sha: str | None = None,
        when: datetime | None = None,
        body: str = "",
    ) -> str:
        self.n += 1
        self.at = max(when or self.at + timedelta(hours=2), self.at + timedelta(minutes=1))
        message = f"{title}\n\n{body}\n" if body else f"{title}\n"
        commit = Commit(
            sha=sha or fake_sha(f"honeydue-{self.service}-commit-{self.n}"),
            message=message,
            author=author,
            date=self.at,
            parents=tuple(parents),
            files=(f"internal/{self.service}/change_{self.n}.go",),
        )
        self.repo.add(commit)
        return commit.sha


def _merge(title: str, number: int, branch: str) -> str:
    # Gitea's default merge commit message
    return f"Merge pull request '{title}' (#{number}) from {branch} into main"


def seed_history(
    repo: GitRepository,
    service: str,
    *,
    tags: Sequence[str],
    previous: str,
    released: Sequence[datetime],
) -> None:
    """Write the history above; `tags` are the 6 tag commits' full SHAs (good[0..3],
    arm64_only, multi_arch), `released[i]` when tag i's image was built (the tag commit
    lands an hour before), `previous` the downgrade tag's full SHA."""
    w = _Writer(repo, service, released[0] - timedelta(days=3))
    root = w.commit("Initial commit", ALICE, [])
    c = w.commit(f"Add the {service} health endpoint", BOB, [root])
    prev = w.commit("Pin the Go toolchain to 1.22", CHEN, [c], sha=previous)
    c = w.commit("Bump pgx to v5.6", BOB, [prev])

    def tag(i: int, title: str, author: Person, parents: Sequence[str], **kw: str) -> str:
        return w.commit(
            title, author, parents, sha=tags[i], when=released[i] - timedelta(hours=1), **kw
        )

    good0 = tag(0, f"Release {service} 2026.11.1", ALICE, [c])
    c = w.commit("Add rate limiting to the login endpoint", ALICE, [good0])
    c = w.commit("Fix N+1 query in the household list", BOB, [c], body="Closes #37.")
    good1 = tag(1, "Log request ids in access logs", CHEN, [c])
    f1 = w.commit("Add push notification settings", ALICE, [good1])
    f2 = w.commit("Retry failed webhook deliveries", CHEN, [good1])
    m1 = w.commit(_merge("Push notification settings", 41, "feat/push-settings"), BOB, [good1, f1])
    good2 = tag(2, _merge("Retry webhook deliveries", 42, "fix/webhook-retry"), BOB, [m1, f2])
    good3 = tag(3, "Update translations", CHEN, [good2])
    c = w.commit("Switch the base image to distroless", BOB, [good3])
    arm = tag(4, "Release build from a laptop", ALICE, [c])
    tag(5, "Build multi-arch images in CI", CHEN, [arm])
    repo.branches[repo.default_branch] = tags[5]
