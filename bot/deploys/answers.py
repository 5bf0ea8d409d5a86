"""The compact answers to `status`, `history` and `tags`, as mrkdwn text. Pure.

    status_text(statuses) -> str      one line per service and env, with its lock
    history_text(service, env, records) -> str
    tags_text(service, repository, tags) -> str

The sentences come from `commands.texts`; this module only orders and joins them.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.deploys.operations import ServiceStatus
from bot.rollout.records import DeployRecord
from commands import texts


def _lock_note(status: ServiceStatus) -> str | None:
    lock = status.lock
    if lock is None:
        return None
    if lock.manual:
        why = f": {lock.why}" if lock.why else ""
        return f"locked by {texts.user(lock.who)}{why}"
    return f"deploy `{lock.holder}` in progress"


def status_text(statuses: Sequence[ServiceStatus]) -> str:
    """What runs where, one line each (envs in the order asked)."""
    lines = []
    for s in statuses:
        if s.tag is None:
            lines.append(texts.status_missing(s.service, s.env))
        else:
            lines.append(
                texts.status_line(s.service, s.env, s.tag, s.ready, s.total, _lock_note(s))
            )
    return "\n".join(lines)


def _result(record: DeployRecord) -> str:
    if record.phase.value == "rolling_out":
        return "rolling out"
    verdict = "succeeded" if record.phase.value == "succeeded" else "failed"
    if record.rolled_back:
        verdict = "failed, rolled back"
    if record.duration_s is not None:
        verdict += f" in {texts.duration(record.duration_s)}"
    return verdict


def history_text(service: str, env: str, records: Sequence[DeployRecord]) -> str:
    """The last deploys of `service` in `env`, newest first."""
    if not records:
        return texts.history_empty(service, env)
    lines = [texts.history_header(service, env)]
    for r in records:
        when = r.when.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(texts.history_line(when, r.tag or "?", r.who, _result(r), r.id))
    return "\n".join(lines)


def tags_text(service: str, repository: str, tags: Sequence[str]) -> str:
    return texts.tags_answer(service, repository, tags)
