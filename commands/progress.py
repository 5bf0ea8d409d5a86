"""Typed progress events of a deploy, for front-ends to render.

    Phase: REQUESTED → CHECKING → CHECKED → [AWAITING_APPROVAL] → ROLLING_OUT
           → SUCCEEDED | FAILED | ROLLED_BACK | UNKNOWN;   REFUSED ends a request early.
    UNKNOWN: the rollout's deadline passed while the cluster could not be reached;
    Deckhand never saw the end, so it says neither succeeded nor failed.
    Progress(deploy_id, phase, service, env, tag, digest, updated, ready, available,
             total, elapsed_s, detail, cause)

The rollout engine emits one `Progress` per service whenever something changes; the
Slack front-end folds them into the one message it edits in place. `detail` is a
sentence from `commands.texts` (a waiting reason, a refusal, a cause); `cause` is set
when something went wrong (`commands.diagnosis.Cause`).

Values only: a purely computational module with no side-effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from commands.diagnosis import Cause


class Phase(StrEnum):
    """Where a deploy is. `is_final` phases end it."""

    REQUESTED = "requested"
    CHECKING = "checking"
    CHECKED = "checked"
    AWAITING_APPROVAL = "awaiting_approval"
    ROLLING_OUT = "rolling_out"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REFUSED = "refused"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ROLLED_BACK, Phase.REFUSED, Phase.UNKNOWN})


@dataclass(frozen=True)
class Progress:
    """One service's state within deploy `deploy_id` at `elapsed_s` seconds.

    Replica counts are the Deployment's (`updatedReplicas`, `readyReplicas`,
    `availableReplicas`, `spec.replicas`); 0 before the rollout starts. `digest` is
    None until the registry check resolved it.
    """

    deploy_id: str
    phase: Phase
    service: str
    env: str
    tag: str
    digest: str | None = None
    updated: int = 0
    ready: int = 0
    available: int = 0
    total: int = 0
    elapsed_s: float = 0.0
    detail: str = ""
    cause: Cause | None = None

    def __post_init__(self) -> None:
        if min(self.updated, self.ready, self.available, self.total) < 0 or self.elapsed_s < 0:
            raise ValueError("progress counts and elapsed time are never negative")

    @property
    def is_final(self) -> bool:
        return self.phase.is_final
