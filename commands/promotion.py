"""Promotion by digest: what a source environment runs, and whether a digest ran there.

    pin = source_pin("gitea/admin/api:b3467ec@sha256:…")    -> SourcePin(tag, digest) | None
    ran = provenance(runs, service="api", digest="sha256:…")  -> SourceRun | None
    facts = promotion_facts(service, source=…, ran=…, restarts=…, now=…)  (texts)

A promotion deploys to the target exactly the digest the source's Deployment runs now
(read from its image `…@sha256:`), never what the tag points to at that moment.
`promote_from: staging` on an environment guards direct deploys: a digest without a
successful, not rolled back Deckhand deploy in staging (`provenance` is None) is
refused with the promote command to use, unless an approver forces it with a reason.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from commands import texts
from commands.images import ImageReference, InvalidReference


@dataclass(frozen=True)
class SourcePin:
    """The tag and digest a source Deployment's image names."""

    tag: str
    digest: str


def source_pin(image: str | None) -> SourcePin | None:
    """`repo:tag@sha256:…` -> (tag, digest); None when the image is not pinned or has no tag."""
    if not image:
        return None
    try:
        ref = ImageReference.parse(image)
    except InvalidReference:
        return None
    if not ref.digest or not ref.tag:
        return None
    return SourcePin(ref.tag, ref.digest)


@dataclass(frozen=True)
class SourceRun:
    """One Deckhand deploy of `service` in the source environment (from its record)."""

    service: str
    digest: str
    who: str
    finished_at: datetime
    succeeded: bool


def provenance(runs: Sequence[SourceRun], *, service: str, digest: str) -> SourceRun | None:
    """The newest successful deploy of exactly `digest` for `service`, or None."""
    found = [r for r in runs if r.service == service and r.digest == digest and r.succeeded]
    return max(found, key=lambda r: r.finished_at) if found else None


def promotion_facts(
    service: str, *, source: str, ran: SourceRun | None, restarts: int | None, now: datetime
) -> str:
    """One line for the approval request: how long it ran there, restarts, who deployed it."""
    if ran is None:
        return texts.promotion_unrecorded(service, source, restarts)
    hours = max(0.0, (now - ran.finished_at).total_seconds()) / 3600
    return texts.promotion_ran(service, source, hours, restarts, ran.who)
