"""What a deploy, resume or rollback ended as: per service, and one summary for people.

`Outcome.phase` is SUCCEEDED, FAILED, ROLLED_BACK (failed, then undone automatically)
or REFUSED (a lock); each `ServiceOutcome` carries the `Failure` (cause, sentence,
next step, logs) and what the automatic rollback did. `summarize` writes the lines a
front-end can show as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.rollout.follow import Failure
from bot.rollout.records import DeployRecord
from commands.progress import Phase
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
    """SUCCEEDED, FAILED, ROLLED_BACK (failed, then undone) or REFUSED."""
    services: tuple[ServiceOutcome, ...]
    summary: str
    duration_s: float = 0.0
    reported: bool = True
    """False when another Deckhand already reported this deploy (resume)."""


def summarize(
    record: DeployRecord, outcomes: Sequence[ServiceOutcome], phase: Phase, duration_s: float
) -> str:
    """One line per service: what happened, the cause and next step, the rollback."""
    lines = []
    for o in outcomes:
        head = f"{o.service}: {record.tag or 'rollback'} in {record.env}"
        if o.phase is Phase.SUCCEEDED:
            lines.append(
                f"{head} is live ({o.counts.available}/{o.counts.desired} available, "
                f"{duration_s:.0f} s)."
            )
            continue
        assert o.failure is not None
        text = f"{head} failed: {o.failure.sentence} Next step: {o.failure.next_step}"
        if o.rolled_back_to:
            text += f" Deckhand rolled it back automatically to {o.rolled_back_to}."
        elif o.rollback_problem:
            text += f" The automatic rollback did not happen: {o.rollback_problem}"
        lines.append(text)
    return "\n".join(lines)
