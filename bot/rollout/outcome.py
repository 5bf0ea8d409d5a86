"""What a deploy, resume or rollback ended as: per service, and one summary for people.

`Outcome.phase` is SUCCEEDED, FAILED, ROLLED_BACK (failed, then undone automatically),
UNKNOWN (the deadline passed out of contact with the cluster) or REFUSED (a lock);
each `ServiceOutcome` carries the `Failure` (cause, sentence, next step, logs) and what
the automatic rollback did. `summarize` writes the lines a
front-end can show as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.rollout.follow import Failure
from bot.rollout.records import DeployRecord
from commands import texts
from commands.changes import ChangeNotes
from commands.diagnosis import Cause
from commands.progress import Phase, Progress
from commands.rollout_decisions import Counts


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    phase: Phase
    counts: Counts = field(default_factory=Counts)
    failure: Failure | None = None
    rolled_back_to: str | None = None
    """The image an automatic rollback restored (phase ROLLED_BACK)."""
    rollback_problem: str | None = None
    """Why an automatic rollback didn't happen or didn't finish."""


@dataclass(frozen=True)
class Outcome:
    deploy_id: str
    env: str
    phase: Phase
    """SUCCEEDED, FAILED, ROLLED_BACK (failed, then undone), UNKNOWN or REFUSED."""
    services: tuple[ServiceOutcome, ...]
    summary: str
    duration_s: float = 0.0
    reported: bool = True
    """False when another Deckhand already reported this deploy (resume)."""
    change_notes: tuple[ChangeNotes, ...] = ()
    """A rollback's change notes: the commits it takes back (`commands.changes`)."""
    notes: tuple[str, ...] = ()
    """Sentences shown under the verdict (the rollback lock that was kept)."""


def summarize(
    record: DeployRecord, outcomes: Sequence[ServiceOutcome], phase: Phase, duration_s: float
) -> str:
    """One line per service: what happened, the cause and next step, the rollback."""
    what = record.tag or "rollback"
    lines = []
    for o in outcomes:
        if o.failure is None:
            c = o.counts
            lines.append(
                texts.outcome_live(o.service, what, record.env, c.available, c.desired, duration_s)
            )
            continue
        f = o.failure
        if o.phase is Phase.UNKNOWN:
            lines.append(
                texts.outcome_unknown(o.service, what, record.env, f.sentence, f.next_step)
            )
            continue
        text = texts.outcome_failed(o.service, what, record.env, f.sentence, f.next_step)
        if o.rolled_back_to:
            text += texts.rolled_back(o.rolled_back_to)
        elif o.rollback_problem:
            text += texts.rollback_skipped(o.rollback_problem)
        lines.append(text)
    return "\n".join(lines)


def progress_of(
    record: DeployRecord,
    service: str,
    phase: Phase,
    elapsed_s: float,
    counts: Counts | None = None,
    *,
    detail: str = "",
    cause: Cause | None = None,
) -> Progress:
    """The `Progress` event of `service` within the recorded deploy."""
    c = counts or Counts()
    digest = next((t.digest for t in record.targets if t.service == service), "") or None
    return Progress(
        record.id,
        phase,
        service,
        record.env,
        record.tag,
        digest,
        updated=c.updated,
        ready=c.ready,
        available=c.available,
        total=c.desired,
        elapsed_s=elapsed_s,
        detail=detail,
        cause=cause,
    )


async def refusal(
    deploy_id: str,
    env: str,
    tag: str,
    services: Sequence[str],
    why: str,
    on_progress: Callable[[Progress], Awaitable[None]],
) -> Outcome:
    """A deploy refused at the last moment (a lock): told as REFUSED progress too."""
    for service in services:
        await on_progress(Progress(deploy_id, Phase.REFUSED, service, env, tag, detail=why))
    outcomes = tuple(ServiceOutcome(s, Phase.REFUSED) for s in services)
    return Outcome(deploy_id, env, Phase.REFUSED, outcomes, why)
