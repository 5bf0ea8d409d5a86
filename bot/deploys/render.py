"""What a deploy message shows, as data (`DeployCard`), and its Block Kit rendering.

    card = DeployCard.requested(kind="deploy", deploy_id=…, env=…, what=tag, services=…, …)
    card = card.checked(facts, unchanged=…)      # the registry's answers per service
    card = card.with_progress(progress)          # one `commands.progress.Progress`
    card = card.with_failure(service, FailureNote(…))
    blocks, text = render_card(card)

The card folds every `Progress` of one deploy into the state of its ONE channel
message: a header (what, where), the phase line (requested → checks passed → rolling
out → succeeded in N s / failed), one line per service (image facts after the check;
updated/ready/total while rolling out; cause and what to do when it failed), and a
**Roll back** button (`deckhand:rollback`, value = the deploy id) on a failed deploy.
Details (events, log lines) go into the thread, not here (`thread_details`).

Everything here is pure: no I/O, no Slack client. `bot.slack.blocks.fit_blocks` enforces
Block Kit limits when the message is sent; lines are kept short here anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.slack.blocks import Block, section
from commands import texts
from commands.progress import Phase, Progress

ROLLBACK_ACTION = "deckhand:rollback"
"""`action_id` of the Roll back button; its value is the deploy id."""


@dataclass(frozen=True)
class ImageFacts:
    """What the registry check found for one service (`commands.plan.ImageCheck`)."""

    service: str
    digest: str
    platform: str
    size: int | None = None
    revision: str | None = None
    revision_mismatch: bool = False


@dataclass(frozen=True)
class FailureNote:
    """Why one service failed, for people: the sentence and the next step."""

    sentence: str
    next_step: str = ""
    unknown: bool = False
    """Not a failure: Deckhand lost contact with the cluster until the deadline."""


@dataclass(frozen=True)
class DeployCard:
    """The state of one deploy (or rollback) message. Immutable: every change is a copy."""

    kind: str
    """`deploy` or `rollback` (the header's verb)."""
    deploy_id: str
    env: str
    what: str
    """The tag (deploy) or `to <tag> (revision N)` (rollback)."""
    services: tuple[str, ...]
    requested_by: str
    reason: str | None = None
    phase: Phase = Phase.REQUESTED
    facts: tuple[ImageFacts, ...] = ()
    unchanged: tuple[str, ...] = ()
    progress: Mapping[str, Progress] = field(default_factory=dict)
    failures: Mapping[str, FailureNote] = field(default_factory=dict)
    elapsed_s: float | None = None
    note: str = ""
    """A sentence shown under the phase line (a refusal, "needs approval", …)."""
    rollback_offered: bool = True
    changes: tuple[str, ...] = ()
    """The change notes' lines (`texts.notes_lines`): commits, flags, or why none."""

    @property
    def title(self) -> str:
        return texts.deploy_title(self.kind, self.services, self.what, self.env)

    def checked(self, facts: tuple[ImageFacts, ...], *, unchanged: tuple[str, ...]) -> DeployCard:
        """The registry check passed for every service in `facts`."""
        services = tuple(f.service for f in facts) or self.services
        return replace(
            self, phase=Phase.CHECKED, facts=facts, unchanged=unchanged, services=services
        )

    def with_changes(self, lines: tuple[str, ...]) -> DeployCard:
        return replace(self, changes=lines)

    def refused(self, text: str) -> DeployCard:
        return replace(self, phase=Phase.REFUSED, note=text)

    def with_note(self, text: str) -> DeployCard:
        return replace(self, note=text)

    def with_progress(self, progress: Progress) -> DeployCard:
        """Fold one service's progress in; the card's phase follows the services'."""
        if progress.service not in self.services:
            return self
        merged = {**self.progress, progress.service: progress}
        return replace(
            self,
            progress=merged,
            phase=_overall(self.services, merged, self.phase),
            elapsed_s=max((p.elapsed_s for p in merged.values()), default=None),
        )

    def with_failure(self, service: str, note: FailureNote) -> DeployCard:
        return replace(self, failures={**self.failures, service: note})

    def finished(self, phase: Phase, *, elapsed_s: float | None = None) -> DeployCard:
        """Force the final phase (the engine's outcome has the last word)."""
        return replace(self, phase=phase, elapsed_s=elapsed_s or self.elapsed_s)


def _overall(services: tuple[str, ...], progress: Mapping[str, Progress], before: Phase) -> Phase:
    phases = [progress[s].phase for s in services if s in progress]
    if len(phases) == len(services) and all(p.is_final for p in phases):
        for bad in (Phase.FAILED, Phase.ROLLED_BACK, Phase.REFUSED, Phase.UNKNOWN):
            if bad in phases:
                return bad
        return Phase.SUCCEEDED
    if Phase.ROLLING_OUT in phases or any(p.is_final for p in phases):
        return Phase.ROLLING_OUT
    return max(before, *phases, key=_ORDER.index) if phases else before


_ORDER = list(Phase)


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _service_line(card: DeployCard, service: str) -> str | None:
    failure = card.failures.get(service)
    progress = card.progress.get(service)
    if failure is not None and failure.unknown:
        return texts.service_unknown(service, failure.sentence, failure.next_step)
    if failure is not None:
        return texts.service_failed(service, failure.sentence, failure.next_step)
    if progress is None:
        return None
    if progress.phase is Phase.SUCCEEDED:
        return texts.service_succeeded(service, progress.total)
    if progress.phase in (Phase.FAILED, Phase.ROLLED_BACK, Phase.UNKNOWN) and progress.detail:
        return texts.service_failed(service, progress.detail, "")
    if progress.total:
        line = texts.rollout_counts(service, progress.updated, progress.ready, progress.total)
        return f"{line} · {progress.detail}" if progress.detail else line
    return None


def render_card(card: DeployCard) -> tuple[list[Block], str]:
    """The blocks and fallback text of `card`'s message. Pure."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": card.title}},
        _context(texts.requested_by(card.requested_by, card.deploy_id, card.reason)),
        section(texts.phase_line(card.phase.value, elapsed_s=card.elapsed_s)),
    ]
    if card.note:
        blocks.append(section(card.note))
    if card.facts:
        lines = [
            texts.image_facts(
                f.service,
                f.digest,
                f.platform,
                texts.size(f.size) if f.size else None,
                f.revision,
            )
            for f in card.facts
        ]
        lines += [
            texts.revision_mismatch(f.service, card.what, f.revision)
            for f in card.facts
            if f.revision_mismatch and f.revision
        ]
        blocks.append(_context("\n".join(lines)))
    if card.unchanged:
        blocks.append(_context(texts.unchanged(card.unchanged, card.what)))
    if card.changes:
        blocks.append(section("\n".join(card.changes)))
    service_lines = [line for s in card.services if (line := _service_line(card, s))]
    if service_lines:
        blocks.append(section("\n".join(service_lines)))
    if card.phase is Phase.FAILED and card.rollback_offered and card.kind == "deploy":
        blocks.append(
            {
                "type": "actions",
                "block_id": f"deckhand-rollback-{card.deploy_id}"[:255],
                "elements": [
                    {
                        "type": "button",
                        "action_id": ROLLBACK_ACTION,
                        "text": {"type": "plain_text", "text": texts.ROLLBACK_BUTTON},
                        "style": "danger",
                        "value": card.deploy_id,
                    }
                ],
            }
        )
    return blocks, texts.deploy_fallback(card.title, card.phase.value)
