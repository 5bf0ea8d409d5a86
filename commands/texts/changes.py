"""Texts: change notes (commands.changes; the deploy message, the approval, the CLI).

`change_summary(notes)` is the few lines a deploy message and an approval request show
per service (count, first titles with authors, compare link, loud flags);
`change_list(notes)` the full list for the thread; `rollback_takes_back(notes)` the
rollback's line; `no_change_notes(reasons)` says once why there are none. `slack=False`
gives the CLI's plain text (links as bare URLs, no mrkdwn emphasis).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from commands.texts._format import _code

if TYPE_CHECKING:
    from commands.changes import ChangeNotes, GitCommit

FIRST_TITLES = 3
"""How many commit titles the message itself shows; the thread has them all."""
MAX_TITLE = 90
THREAD_COMMITS = 60
"""At most this many commits per list in the thread (the compare link has them all)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bold(text: str, slack: bool) -> str:
    return f"*{text}*" if slack else text


def _link(url: str, label: str, slack: bool) -> str:
    if not url:
        return ""
    return f"<{url}|{label}>" if slack else url


def _title(commit: GitCommit) -> str:
    title = commit.title.strip()
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def commit_line(commit: GitCommit, *, slack: bool = True, with_sha: bool = False) -> str:
    """`• Fix the login — Alice Martin` (with the short SHA, linked, in the full list)."""
    sha = ""
    if with_sha:
        sha = (_link(commit.html_url, commit.short, slack) if slack else commit.short) + " "
        if slack and not commit.html_url:
            sha = f"{_code(commit.short)} "
    date = f", {commit.date[:10]}" if with_sha and commit.date else ""
    return f"• {sha}{_title(commit)} — {commit.author}{date}"


def _firsts(commits: Sequence[GitCommit], slack: bool, *, more_in_thread: bool) -> list[str]:
    lines = [commit_line(c, slack=slack) for c in commits[:FIRST_TITLES]]
    rest = len(commits) - FIRST_TITLES
    if rest > 0:
        where = " (the full list is in the thread)" if more_in_thread and slack else ""
        lines.append(f"…and {rest} more{where}")
    return lines


def _count(notes: ChangeNotes, n: int) -> str:
    return f"more than {n} commits" if notes.truncated else _plural(n, "commit")


def _prs(prs: Sequence[int]) -> str:
    numbers = ", ".join(f"#{n}" for n in prs)
    return f"merges {_plural(len(prs), 'pull request')} ({numbers})"


def change_summary(notes: ChangeNotes, *, slack: bool = True) -> list[str]:
    """The lines one service's change notes take in a deploy message or an approval."""
    kind = notes.kind.value
    svc, running, new = _code(notes.service), _code(notes.running[:7]), _code(notes.new[:7])
    link = _link(notes.compare_url, "compare", slack)
    tail = f" · {link}" if link else ""
    if kind == "unavailable":
        return [no_change_notes([notes.reason], slack=slack)]
    if kind == "same":
        return [f"{svc}: the same commit as running ({running}): no code changes."]
    if kind == "unrelated":
        warn = ":warning: " if slack else "WARNING: "
        return [
            f"{warn}{_bold('Unrelated history', slack)}: Gitea finds no common history between"
            f" the running {running} and the new {new} of {svc}: check the tag{tail}"
        ]
    if kind == "downgrade":
        n = len(notes.taken_back)
        siren = ":rotating_light: " if slack else "WARNING: "
        head = (
            f"{siren}{_bold('Downgrade', slack)}: {new} is older than the running {running}"
            f" of {svc}: this deploy takes back {_count(notes, n)}{tail}"
        )
        return [head, *_firsts(notes.taken_back, slack, more_in_thread=True)]
    lines = [
        f"{_bold(_count(notes, len(notes.commits)), slack)} in {svc} ({running} → {new}){tail}"
    ]
    if notes.merged_prs:
        lines[0] += f" · {_prs(notes.merged_prs)}"
    if kind == "diverged":
        warn = ":warning: " if slack else "WARNING: "
        lines.insert(
            0,
            f"{warn}{_bold('Not a descendant', slack)}: {new} is on another line of history"
            f" than the running {running}: it also takes back"
            f" {_plural(len(notes.taken_back), 'commit')}.",
        )
    return [*lines, *_firsts(notes.commits, slack, more_in_thread=True)]


def _listed(commits: Sequence[GitCommit], notes: ChangeNotes, slack: bool) -> list[str]:
    lines = [commit_line(c, slack=slack, with_sha=True) for c in commits[:THREAD_COMMITS]]
    rest = len(commits) - THREAD_COMMITS
    if rest > 0:
        link = _link(notes.compare_url, "compare", slack)
        lines.append(f"…and {rest} more" + (f": {link}" if link else ""))
    return lines


def change_list(notes: ChangeNotes, *, slack: bool = True) -> list[str]:
    """The full list for the thread: a header, then every commit (SHA, title, author, day),
    at most `THREAD_COMMITS` per list."""
    svc = _code(notes.service)
    if notes.commits:
        header = f"Commits this deploy brings to {svc} ({_count(notes, len(notes.commits))}):"
        body = _listed(notes.commits, notes, slack)
    elif notes.taken_back:
        header = f"Commits this deploy takes back from {svc} ({len(notes.taken_back)}):"
        body = _listed(notes.taken_back, notes, slack)
    else:
        return []
    if notes.commits and notes.taken_back:
        body.append(f"…and it takes back {_plural(len(notes.taken_back), 'commit')}:")
        body += _listed(notes.taken_back, notes, slack)
    return [header, *body]


def rollback_takes_back(notes: ChangeNotes, *, slack: bool = True) -> list[str]:
    """A rollback's change notes: the commits it takes back (or why there are none)."""
    if notes.kind.value == "unavailable":
        return [no_change_notes([notes.reason], slack=slack)]
    if not notes.taken_back:
        return change_summary(notes, slack=slack)
    link = _link(notes.compare_url, "compare", slack)
    tail = f" · {link}" if link else ""
    head = (
        f"This rollback takes back {_bold(_count(notes, len(notes.taken_back)), slack)}"
        f" from {_code(notes.service)}{tail}:"
    )
    return [head, *_firsts(notes.taken_back, slack, more_in_thread=True)]


def notes_lines(notes: Sequence[ChangeNotes], *, slack: bool = True) -> list[str]:
    """Every service's summary, then ONE line for those without notes (reasons once)."""
    lines: list[str] = []
    for n in notes:
        if n.kind.value != "unavailable":
            lines += change_summary(n, slack=slack)
    missing = [n.reason for n in notes if n.kind.value == "unavailable"]
    if missing:
        lines.append(no_change_notes(missing, slack=slack))
    return lines


def rollback_lines(notes: Sequence[ChangeNotes], *, slack: bool = True) -> list[str]:
    """A rollback message's change notes: what it takes back, or why there are none."""
    lines: list[str] = []
    for n in notes:
        if n.kind.value != "unavailable":
            lines += rollback_takes_back(n, slack=slack)
    missing = [n.reason for n in notes if n.kind.value == "unavailable"]
    if missing:
        lines.append(no_change_notes(missing, slack=slack))
    return lines


def notes_thread(notes: Sequence[ChangeNotes], *, slack: bool = True) -> str:
    """The full lists of every service, for the message's thread ('' when none)."""
    parts = ["\n".join(full) for n in notes if (full := change_list(n, slack=slack))]
    return "\n\n".join(parts)


def no_change_notes(reasons: Sequence[str], *, slack: bool = True) -> str:
    """One line for every service without notes: the distinct reasons, once each."""
    seen = list(dict.fromkeys(r for r in reasons if r))
    why = "; ".join(seen) if seen else "unknown reason"
    return f"No change notes: {why}."


# the reasons (one clause each, joined by `no_change_notes`) ---------------------------


def changes_no_source(service: str) -> str:
    return f"{_code(service)} has no `source_url` in the config"


def changes_no_revision(service: str) -> str:
    return f"the images of {_code(service)} name no git revision (label or SHA tag)"


def changes_no_token() -> str:
    return "no Gitea token (set `DECKHAND_GITEA_TOKEN` to a token with `read:repository`)"


def changes_token_refused() -> str:
    return "Gitea refused the token (401): renew `DECKHAND_GITEA_TOKEN`"


def changes_token_scope() -> str:
    return "the Gitea token lacks the `read:repository` scope (403)"


def changes_not_found(repository: str) -> str:
    return (
        f"Gitea has no repository {_code(repository)} the token can read,"
        " or not these revisions (404)"
    )


def changes_timeout(seconds: float) -> str:
    return f"Gitea did not answer within {seconds:g} s"


def changes_unavailable(detail: str) -> str:
    return f"Gitea is unavailable ({detail})"


def gitea_unreadable(what: str) -> str:
    """A `changes_unavailable` detail: Gitea answered, but not in its own shape."""
    return f"an unreadable {what}"


def gitea_http(status: int) -> str:
    return f"HTTP {status}"
