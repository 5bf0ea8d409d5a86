"""The deploy message as data and as Block Kit: phases folded from `Progress`, image
facts with the revision-label warning, the startup-budget line while a pod starts,
failure lines, the Roll back button, limits."""

from __future__ import annotations

import pytest

from bot.deploys.render import ROLLBACK_ACTION, DeployCard, FailureNote, ImageFacts, render_card
from bot.slack.blocks import MAX_BLOCKS, fit_blocks
from commands.progress import Phase, Progress
from tests.bot.deploys.harness import block_text

DIGEST = "sha256:" + "a" * 64


def card(*services: str) -> DeployCard:
    return DeployCard(
        kind="deploy",
        deploy_id="d-1a2b3c",
        env="staging",
        what="237c6b8",
        services=services or ("api",),
        requested_by="U0ALICE001",
    )


def progress(service: str, phase: Phase, **counts: int) -> Progress:
    return Progress("d-1a2b3c", phase, service, "staging", "237c6b8", **counts)  # type: ignore[arg-type]


def text_of(c: DeployCard) -> str:
    blocks, _ = render_card(c)
    return block_text(blocks)


def buttons(c: DeployCard) -> list[dict[str, object]]:
    blocks, _ = render_card(c)
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(
    ("phases", "overall"),
    [
        ((), Phase.REQUESTED),
        ((Phase.ROLLING_OUT,), Phase.ROLLING_OUT),
        ((Phase.SUCCEEDED,), Phase.ROLLING_OUT),  # worker still unknown
        ((Phase.SUCCEEDED, Phase.ROLLING_OUT), Phase.ROLLING_OUT),
        ((Phase.SUCCEEDED, Phase.SUCCEEDED), Phase.SUCCEEDED),
        ((Phase.SUCCEEDED, Phase.FAILED), Phase.FAILED),
        ((Phase.ROLLED_BACK, Phase.SUCCEEDED), Phase.ROLLED_BACK),
        ((Phase.REFUSED, Phase.REFUSED), Phase.REFUSED),
    ],
)
def test_the_card_phase_follows_every_service(phases: tuple[Phase, ...], overall: Phase) -> None:
    c = card("api", "worker")
    for service, phase in zip(("api", "worker"), phases, strict=False):
        c = c.with_progress(progress(service, phase))
    assert c.phase is overall


def test_progress_of_another_service_is_ignored() -> None:
    assert card("api").with_progress(progress("admin", Phase.FAILED)).phase is Phase.REQUESTED


def test_checks_show_digest_platform_size_and_flag_a_foreign_revision() -> None:
    facts = (
        ImageFacts("api", DIGEST, "linux/amd64", 48_200_000, "237c6b8aaaa"),
        ImageFacts("worker", DIGEST, "linux/amd64", 800, "ffffff0", revision_mismatch=True),
    )
    text = text_of(card("api", "worker").checked(facts, unchanged=()))
    assert "Checks passed" in text
    assert "sha256:aaaa" in text
    assert "48.2 MB" in text
    assert "1 KB" in text
    assert "does not match the tag `237c6b8`" in text
    assert text.count(":warning:") == 1


def test_rolling_out_shows_counts_and_elapsed() -> None:
    c = card().with_progress(
        Progress("d-1", Phase.ROLLING_OUT, "api", "staging", "t", None, 2, 1, 1, 3, 65.0)
    )
    text = text_of(c)
    assert "2/3 updated, 1/3 ready" in text
    assert "1 min 5 s" in text


def test_a_pod_inside_its_startup_budget_says_so() -> None:
    detail = "api · starting: 95 s of a 241 s startup budget"
    c = card().with_progress(
        Progress("d-1", Phase.ROLLING_OUT, "api", "staging", "t", None, 1, 0, 0, 3, 95.0, detail)
    )
    assert "1/3 updated, 0/3 ready · api · starting: 95 s of a 241 s startup budget" in text_of(c)


def test_a_failed_deploy_offers_rollback_with_its_id() -> None:
    c = (
        card()
        .with_failure("api", FailureNote("the tag is gone", "push it again"))
        .finished(Phase.FAILED, elapsed_s=12)
    )
    text = text_of(c)
    assert "Failed" in text
    assert "the tag is gone" in text
    assert "push it again" in text
    (button,) = buttons(c)
    assert button["action_id"] == ROLLBACK_ACTION
    assert button["value"] == "d-1a2b3c"


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.REFUSED, Phase.ROLLED_BACK])
def test_no_rollback_button_unless_failed(phase: Phase) -> None:
    assert not buttons(card().finished(phase))


def test_a_rollback_message_never_offers_a_rollback() -> None:
    c = DeployCard("rollback", "d-1", "prod", "to the previous revision", ("api",), "U1")
    assert not buttons(c.finished(Phase.FAILED))


def test_many_services_and_long_texts_stay_within_block_kit_limits() -> None:
    services = tuple(f"svc{i}" for i in range(80))
    c = card(*services).with_note("x" * 5000)
    for s in services:
        c = c.with_failure(s, FailureNote("y" * 200, "z" * 200))
    blocks, text = render_card(c.finished(Phase.FAILED))
    fitted = fit_blocks(blocks)
    assert len(fitted) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in fitted)
    assert "Failed" in text
