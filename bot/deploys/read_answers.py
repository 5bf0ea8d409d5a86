"""The compact answers to `status`, `history` and `tags`, as mrkdwn text. Pure.

    status_text(statuses) -> str      one line per service and env, with its lock
    history_text(view) -> str         Deckhand's deploys, else the Deployment's revisions
    tags_text(service, repository, tags) -> str

The sentences come from `commands.texts`; this module only picks, orders and joins.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.rollout.engine import HistoryView, ServiceStatus
from bot.rollout.records import DeployRecord, RecordPhase
from commands import texts
from commands.images import tag_of

HISTORY_SHOWN = 10


def shown_tag(image: str | None) -> str:
    """What a line shows of an image: its tag, else the whole text, else `?`. Pure."""
    return tag_of(image) or image or "?"


def status_text(statuses: Sequence[ServiceStatus]) -> str:
    """What runs where, one line per service and env (in the order asked)."""
    lines = []
    for s in statuses:
        if not s.deployments:
            lines.append(texts.status_missing(s.service, s.env))
            continue
        first = s.deployments[0]
        lock = None
        if s.lock is not None:
            why = f": {s.lock.reason}" if s.lock.reason else ""
            lock = f"locked by {texts.user(s.lock.holder)}{why}"
        line = texts.status_line(s.service, s.env, shown_tag(first.image), first.replicas, lock)
        if s.deployed and first.image != s.deployed:
            line += texts.status_drift_mark(s.deployed)
        lines.append(line)
    return "\n".join(lines)


def _result(record: DeployRecord) -> str:
    if record.phase is RecordPhase.ROLLING_OUT:
        return "rolling out"
    verdict = "succeeded" if record.phase is RecordPhase.SUCCEEDED else "failed"
    if record.rolled_back:
        verdict = "failed, rolled back"
    if record.duration_s is not None:
        verdict += f" in {texts.duration(record.duration_s)}"
    return verdict


def history_text(view: HistoryView) -> str:
    """The last deploys of a service in an env, newest first; without any Deckhand
    record, the Deployment's own revisions (deploys made by other tools)."""
    if not view.records and not view.revisions:
        return texts.history_empty(view.service, view.env)
    lines = [texts.history_header(view.service, view.env)]
    for r in view.records[:HISTORY_SHOWN]:
        when = r.when.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(texts.history_line(when, r.tag or "?", r.who, _result(r), r.id))
    if not view.records:
        for rev in view.revisions[:HISTORY_SHOWN]:
            lines.append(texts.revision_line(rev.number, shown_tag(rev.image), rev.change_cause))
    return "\n".join(lines)


def tags_text(service: str, repository: str, tags: Sequence[str]) -> str:
    return texts.tags_answer(service, repository, tags)
