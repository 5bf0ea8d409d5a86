"""The pure parts of the deploy flow and the answers: image facts from a plan (with the
revision-label check), a card from the engine's outcome or from a deploy record, the
thread text, and the compact status/history answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.deploys.deploy_flow import (
    apply_outcome,
    card_of_record,
    facts_of,
    thread_text,
)
from bot.deploys.read_answers import history_text, shown_tag, status_text
from bot.deploys.render import DeployCard
from bot.rollout.engine import HistoryView, ServiceStatus
from bot.rollout.follow import Failure
from bot.rollout.outcome import Outcome, ServiceOutcome
from bot.rollout.records import DeployRecord, RecordPhase, TargetRecord, new_deploy_id
from commands.diagnosis import Cause
from commands.plan import DeploymentState, DeployPlan, ImageCheck, LockInfo, ServicePlan
from commands.progress import Phase
from commands.rollout_decisions import Counts

DIGEST = "sha256:" + "b" * 64
WHEN = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
REPO = "gitea.example.com/admin/honeydue-api"


def plan(revision: str | None) -> DeployPlan:
    check = ImageCheck(f"{REPO}:237c6b8@{DIGEST}", DIGEST, "linux/amd64", 1000, None, revision)
    return DeployPlan(
        deploy_id="d-1",
        env="staging",
        namespace="honeydue-staging",
        tag="237c6b8",
        requested_by="U1",
        requested_at=WHEN,
        reason=None,
        services=(ServicePlan("api", check, ()),),
        unchanged=(),
        approvals_required=0,
        auto_rollback=False,
    )


@pytest.mark.parametrize(
    ("revision", "mismatch"),
    [(None, False), ("237c6b8e1f", False), ("237C6B8", False), ("9e2c1b8aa", True)],
)
def test_a_revision_label_not_starting_with_the_tag_is_flagged(
    revision: str | None, mismatch: bool
) -> None:
    (facts,) = facts_of(plan(revision))
    assert facts.revision_mismatch is mismatch
    assert facts.digest == DIGEST


def card() -> DeployCard:
    return DeployCard("deploy", "d-1", "staging", "237c6b8", ("api", "worker"), "U1")


FAILURE = Failure(
    Cause.TAG_NOT_FOUND, "the tag is gone", "push it again", "api-1", "not found", ("l1",)
)


def test_the_outcome_has_the_last_word() -> None:
    outcome = Outcome(
        "d-1",
        "staging",
        Phase.FAILED,
        (
            ServiceOutcome("api", Phase.FAILED, Counts(3), FAILURE, rolled_back_to=f"{REPO}:old"),
            ServiceOutcome("worker", Phase.SUCCEEDED, Counts(1, 1, 1, 1)),
        ),
        "summary",
        42.0,
    )
    final = apply_outcome(card(), outcome)
    assert final.phase is Phase.FAILED
    assert final.elapsed_s == 42.0
    assert "Rolled back automatically" in final.failures["api"].next_step
    details = thread_text(final, outcome, {"worker": f"{REPO}:237c6b8@{DIGEST}"})
    assert "tag not found" in details
    assert "`api-1`" in details  # the pod
    assert "l1" in details
    assert "`worker` now runs" in details


def test_a_refused_outcome_refuses_the_card() -> None:
    outcome = Outcome("d-1", "staging", Phase.REFUSED, (), "api in staging is locked by U2")
    final = apply_outcome(card(), outcome)
    assert final.phase is Phase.REFUSED
    assert "locked" in final.note


@pytest.mark.parametrize(
    ("phase", "rolled_back", "expected"),
    [
        (RecordPhase.ROLLING_OUT, False, Phase.ROLLING_OUT),
        (RecordPhase.SUCCEEDED, False, Phase.SUCCEEDED),
        (RecordPhase.FAILED, False, Phase.FAILED),
        (RecordPhase.FAILED, True, Phase.ROLLED_BACK),
    ],
)
def test_a_card_rebuilt_from_a_record(
    phase: RecordPhase, rolled_back: bool, expected: Phase
) -> None:
    record = DeployRecord(
        id="d-9",
        who="U1",
        when=WHEN,
        env="staging",
        namespace="honeydue-staging",
        tag="237c6b8",
        targets=(TargetRecord("api", "api", "api", "img"), TargetRecord("api", "api2", "api", "i")),
        phase=phase,
        result="api: failed",
        rolled_back=rolled_back,
        duration_s=12.0,
    )
    rebuilt = card_of_record(record)
    assert rebuilt.phase is expected
    assert rebuilt.services == ("api",)
    assert rebuilt.deploy_id == "d-9"


def test_deploy_ids_are_short_and_distinct() -> None:
    ids = {new_deploy_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("d-") and len(i) == 8 for i in ids)


def state(image: str | None, replicas: int = 3) -> DeploymentState:
    return DeploymentState("ns", "api", "api", image, replicas)


def test_status_lines_show_tag_replicas_and_lock() -> None:
    lock = LockInfo("U2", WHEN, "db migration")
    text = status_text(
        [
            ServiceStatus("api", "staging", (state(f"{REPO}:237c6b8@{DIGEST}"),), None),
            ServiceStatus("api", "prod", (state(f"{REPO}:1111111", 1),), lock),
            ServiceStatus("admin", "prod", (), None),
        ]
    )
    lines = text.splitlines()
    assert "`237c6b8` · 3 replicas" in lines[0]
    assert "1 replica" in lines[1]
    assert "db migration" in lines[1]
    assert "no Deployment" in lines[2]


@pytest.mark.parametrize(
    ("running", "deployed", "marked"),
    [
        (f"{REPO}:237c6b8@{DIGEST}", f"{REPO}:237c6b8@{DIGEST}", False),
        (f"{REPO}:1111111", f"{REPO}:237c6b8@{DIGEST}", True),
        (f"{REPO}:1111111", None, False),
    ],
)
def test_status_marks_an_image_deckhand_did_not_deploy(
    running: str, deployed: str | None, marked: bool
) -> None:
    text = status_text([ServiceStatus("api", "prod", (state(running),), None, deployed)])
    assert ("drift: Deckhand last deployed `237c6b8`" in text) is marked


def test_history_lists_deckhand_records_newest_first() -> None:
    record = DeployRecord(
        "d-9",
        "U1",
        WHEN,
        "staging",
        "ns",
        "237c6b8",
        (),
        phase=RecordPhase.SUCCEEDED,
        duration_s=65,
    )
    text = history_text(HistoryView("api", "staging", (record,), ()))
    assert "`237c6b8`" in text
    assert "succeeded in 1 min 5 s" in text
    assert "staging" in history_text(HistoryView("api", "staging", (), ()))


@pytest.mark.parametrize(
    ("image", "tag"),
    [(f"{REPO}:237c6b8@{DIGEST}", "237c6b8"), (None, "?"), ("not a ref!", "not a ref!")],
)
def test_shown_tag(image: str | None, tag: str) -> None:
    assert shown_tag(image) == tag
