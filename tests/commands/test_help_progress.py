"""`commands.help`, `commands.suggest`, `commands.progress` and the texts' shape: help
for each command and alias, "did you mean" ranking, phases, progress invariants; lock
holders named as Slack mentions; the outage texts.
"""

from __future__ import annotations

import pytest

from commands import texts
from commands.diagnosis import Cause
from commands.grammar import COMMANDS, parse
from commands.help import answer, help_text
from commands.progress import Phase, Progress
from commands.requests import Help
from commands.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    ("topic", "says"),
    [
        (None, "Deckhand commands:"),
        ("", "Deckhand commands:"),
        ("deploy", "*/deploy SERVICE[,SERVICE…] TAG [ENV] [-- reason]*"),
        ("undo", "*/deploy rollback SERVICE [ENV]"),
        ("tag", "*/deploy tags SERVICE*"),
        ("/status", "*/deploy status [SERVICE] [ENV]*"),
        ("rollbak", "There is no command `rollbak`. Did you mean `rollback`?"),
        ("xyzzy", "There is no command `xyzzy`.\n\nDeckhand commands:"),
    ],
)
def test_help_text(topic: str | None, says: str) -> None:
    assert says in help_text(topic)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_usage_and_parsable_examples(command: str) -> None:
    usage = texts.USAGE[command]
    assert usage.examples
    for example in usage.examples:
        result = parse(example)
        assert type(result).__name__.lower() in (command, "help", "rollback"), (example, result)
    assert command in texts.overview() or usage.syntax in texts.overview()


def test_answer() -> None:
    assert answer(Help("lock")) == help_text("lock")


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("wrker", ["api", "worker", "admin"], ("worker",)),
        ("wor", ["api", "worker", "admin"], ("worker",)),
        ("API", ["api", "worker"], ()),
        ("zzz", ["api", "worker"], ()),
        ("prdo", ["staging", "prod", "prd"], ("prd", "prod")),
        ("ap", ["api", "app", "admin"], ("api", "app")),
    ],
)
def test_did_you_mean(word: str, candidates: list[str], expected: tuple[str, ...]) -> None:
    assert did_you_mean(word, candidates) == expected


def test_closest() -> None:
    assert closest("stagng", ["staging", "production"]) == "staging"
    assert closest("zzz", ["staging"]) is None


@pytest.mark.parametrize(
    ("phase", "final"),
    [(Phase.REQUESTED, False), (Phase.AWAITING_APPROVAL, False), (Phase.ROLLING_OUT, False),
     (Phase.SUCCEEDED, True), (Phase.FAILED, True), (Phase.ROLLED_BACK, True),
     (Phase.REFUSED, True), (Phase.UNKNOWN, True)],
)  # fmt: skip
def test_phases(phase: Phase, final: bool) -> None:
    progress = Progress("d-1", phase, "api", "production", "237c6b8")
    assert progress.is_final is final


def test_progress_values() -> None:
    failed = Progress(
        "d-1", Phase.FAILED, "api", "production", "237c6b8", "sha256:" + "a" * 64,
        updated=1, ready=0, available=0, total=3, elapsed_s=12.5,
        detail="refused the cluster's pull credentials", cause=Cause.PULL_AUTH,
    )  # fmt: skip
    assert failed.cause is Cause.PULL_AUTH
    with pytest.raises(ValueError, match="never negative"):
        Progress("d-1", Phase.ROLLING_OUT, "api", "production", "237c6b8", updated=-1)


@pytest.mark.parametrize(
    ("who", "named"),
    [
        ("U0ALICE001", "<@U0ALICE001>"),
        ("W0ENTERPRISE", "<@W0ENTERPRISE>"),
        ("alice", "alice"),  # a CLI user: as written
        ("someone", "someone"),
    ],
)
def test_lock_holders_are_mentioned(who: str, named: str) -> None:
    deploy = texts.lock_holder(
        "api", "prod", manual=False, who=who, why="", deploy_id="d-1", since=None
    )
    assert deploy == f"api in prod is being deployed by {named} (deploy d-1)"
    manual = texts.lock_holder(
        "api", "prod", manual=True, who=who, why="incident", deploy_id="manual", since=None
    )
    assert manual == f"api in prod is locked by {named}: incident"


@pytest.mark.parametrize(
    ("seconds", "lost", "verdict"),
    [
        (4, "lost contact with the cluster, retrying (4 s)",
         "unknown: couldn't reach the cluster for 4 s"),
        (125, "lost contact with the cluster, retrying (2 min 5 s)",
         "unknown: couldn't reach the cluster for 2 min 5 s"),
    ],
)  # fmt: skip
def test_outage_texts(seconds: float, lost: str, verdict: str) -> None:
    assert texts.lost_contact(seconds) == lost
    assert texts.unreachable_verdict(seconds) == verdict
    assert texts.phase_line("unknown", elapsed_s=seconds).startswith("*:grey_question: Unknown*")
