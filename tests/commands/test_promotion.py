"""Promotion as data: the grammar, where from and where to, the source pin, provenance,
the approval that then needs Force, and `promote_from` in the config.

Covers: `promote` parsing (from/to/--env, groups, reasons, mistakes), the validated
source and target (named, defaulted from `promote_from`, refused when unclear),
`source_pin` (pinned images only), `provenance` (newest successful run of exactly
that digest), `promotion_facts` texts, `decide_approval` on an unpromoted request
(plain approval refused, a forced one counts), and `promote_from` naming no env.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from commands.approvals import ApprovalRequest, Approved, decide_approval
from commands.config import DeckhandConfig
from commands.grammar import parse
from commands.promotion import SourcePin, SourceRun, promotion_facts, provenance, source_pin
from commands.requests import ParseError, Promote, Refusal
from commands.validate import ValidatedPromote, validate

EXAMPLE = Path(__file__).parents[2] / "examples" / "deckhand.yaml"
RAW: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64


def config(**production: Any) -> DeckhandConfig:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["environments"]["production"].update(production)
    return DeckhandConfig.model_validate(raw)


PROMOTING = config(promote_from="staging")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("promote api", Promote(("api",))),
        ("promote api from staging to prod", Promote(("api",), "staging", "prod")),
        ("promote api to prod from staging", Promote(("api",), "staging", "prod")),
        ("/deploy promote api,worker --env prod", Promote(("api", "worker"), None, "prod")),
        ("promote all to prod -- release 42", Promote(("all",), None, "prod", "release 42")),
    ],
)
def test_promote_parses(text: str, expected: Promote) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("promote", "which service"),
        ("promote api from", "from"),
        ("promote api worker", "worker"),
    ],
)
def test_promote_mistakes(text: str, problem: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, ParseError)
    assert problem in parsed.text.lower()


@pytest.mark.parametrize(
    ("request_", "cfg", "expected"),
    [
        (Promote(("api",)), PROMOTING, ValidatedPromote(("api",), "staging", "production")),
        (
            Promote(("api",), None, "prod"),
            PROMOTING,
            ValidatedPromote(("api",), "staging", "production"),
        ),
        (
            Promote(("api",), "stg", "production"),
            config(),
            ValidatedPromote(("api",), "staging", "production"),
        ),
        (
            Promote(("all",), None, "prod"),
            config(),
            ValidatedPromote(("api", "worker", "admin"), "staging", "production"),
        ),
    ],
)
def test_where_from_and_where_to(
    request_: Promote, cfg: DeckhandConfig, expected: ValidatedPromote
) -> None:
    assert validate(request_, cfg) == expected


@pytest.mark.parametrize(
    ("request_", "cfg", "says"),
    [
        (Promote(("api",)), config(), "to which environment"),
        (Promote(("api",), None, "staging"), config(), "from where"),
        (Promote(("api",), "staging", "staging"), config(), "from where"),
        (Promote(("nope",), None, "prod"), config(), "nope"),
    ],
)
def test_unclear_promotions_are_refused(request_: Promote, cfg: DeckhandConfig, says: str) -> None:
    refused = validate(request_, cfg)
    assert isinstance(refused, Refusal)
    assert says in refused.text.lower()


@pytest.mark.parametrize(
    ("image", "pin"),
    [
        (f"gitea.example.com/admin/api:b3467ec@{DIGEST}", SourcePin("b3467ec", DIGEST)),
        ("gitea.example.com/admin/api:b3467ec", None),
        (f"gitea.example.com/admin/api@{DIGEST}", None),
        ("", None),
        (None, None),
        ("::garbage::", None),
    ],
)
def test_source_pin(image: str | None, pin: SourcePin | None) -> None:
    assert source_pin(image) == pin


def run(digest: str = DIGEST, *, ok: bool = True, hours: float = 2, who: str = "U1") -> SourceRun:
    return SourceRun("api", digest, who, NOW - timedelta(hours=hours), ok)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([run(hours=5, who="U1"), run(hours=2, who="U2")], "U2"),
        ([run(ok=False)], None),
        ([run(digest="sha256:" + "b" * 64)], None),
        ([], None),
    ],
)
def test_provenance(runs: list[SourceRun], expected: str | None) -> None:
    found = provenance(runs, service="api", digest=DIGEST)
    assert (found.who if found else None) == expected


@pytest.mark.parametrize(
    ("ran", "restarts", "line"),
    [
        (
            run(hours=26),
            0,
            "has run in `staging` for 26 h (no restarts since), deployed there by <@U1>",
        ),
        (run(hours=0.2), 3, "for 12 min (3 restarts since)"),
        (run(hours=72), None, "for 3 days (restarts unknown since)"),
        (None, 1, "Deckhand has no record of deploying it there"),
    ],
)
def test_promotion_facts(ran: SourceRun | None, restarts: int | None, line: str) -> None:
    assert line in promotion_facts("api", source="staging", ran=ran, restarts=restarts, now=NOW)


def unpromoted_request() -> ApprovalRequest:
    return ApprovalRequest(
        id="d-1",
        env="production",
        tag="b3467ec",
        services=("api",),
        changes=(),
        requested_by="U0SOMEONE1",
        requested_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        required=1,
        unpromoted=("api",),
        promote_source="staging",
    )


@pytest.mark.parametrize(("forced", "counts"), [(None, False), ("hotfix INC-7", True)])
def test_an_unpromoted_request_needs_force(forced: str | None, counts: bool) -> None:
    env = PROMOTING.environments["production"]
    approver = env.approvals.approvers.users[0]
    decided = decide_approval(
        unpromoted_request(),
        user=approver,
        user_groups=frozenset(),
        env_config=env,
        now=NOW,
        forced=forced,
    )
    assert isinstance(decided, Approved) is counts
    if not counts:
        assert isinstance(decided, Refusal)
        assert "/deploy promote api from staging to production" in decided.text


@pytest.mark.parametrize("source", ["production", "nowhere"])
def test_promote_from_must_name_another_environment(source: str) -> None:
    with pytest.raises(ValidationError, match="names no other environment"):
        config(promote_from=source)
