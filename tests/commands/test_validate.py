"""`commands.validate`: group expansion, env aliases and default, unknown names with
"did you mean", the tag policy (pattern, `latest` always refused), `status prod`.

Runs against the example config (`examples/deckhand.yaml`), so the example stays valid.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.config import DeckhandConfig
from commands.grammar import parse
from commands.requests import Cancel, Help, ParseError, Refusal, RefusalCode
from commands.validate import (
    Validated,
    ValidatedDeploy,
    ValidatedHistory,
    ValidatedLock,
    ValidatedRollback,
    ValidatedStatus,
    ValidatedTags,
    ValidatedUnlock,
    tag_refusal,
    validate,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "deckhand.yaml"
CONFIG = DeckhandConfig.model_validate(yaml.safe_load(EXAMPLE.read_text()))
ALL = ("api", "worker", "admin")
ENVS = ("staging", "production")


def check(text: str, config: DeckhandConfig = CONFIG) -> Validated | Refusal:
    request = parse(text)
    assert not isinstance(request, ParseError), request
    return validate(request, config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api 237c6b8", ValidatedDeploy(("api",), "staging", "237c6b8")),
        ("api 237c6b8 prod", ValidatedDeploy(("api",), "production", "237c6b8")),
        ("api 237c6b8 to production", ValidatedDeploy(("api",), "production", "237c6b8")),
        ("api 237c6b8 stg -- why", ValidatedDeploy(("api",), "staging", "237c6b8", "why")),
        ("worker,api 237c6b8", ValidatedDeploy(("api", "worker"), "staging", "237c6b8")),
        ("all 237c6b8", ValidatedDeploy(ALL, "staging", "237c6b8")),
        ("api,all 237c6b8", ValidatedDeploy(ALL, "staging", "237c6b8")),
        ("api 0123456789abcdef0123456789abcdef01234567",
         ValidatedDeploy(("api",), "staging", "0123456789abcdef0123456789abcdef01234567")),
        ("status", ValidatedStatus(ALL, ENVS)),
        ("status api", ValidatedStatus(("api",), ENVS)),
        ("status prod", ValidatedStatus(ALL, ("production",))),
        ("status all prod", ValidatedStatus(ALL, ("production",))),
        ("status api stage", ValidatedStatus(("api",), ("staging",))),
        ("history api", ValidatedHistory("api", "staging")),
        ("history worker prd", ValidatedHistory("worker", "production")),
        ("rollback api prod", ValidatedRollback("api", "production")),
        ("rollback api prod to 1a2b3c4", ValidatedRollback("api", "production", to="1a2b3c4")),
        ("rollback api prod to #3", ValidatedRollback("api", "production", revision=3)),
        ("lock api prod migration", ValidatedLock("api", "production", "migration")),
        ("unlock api prod", ValidatedUnlock("api", "production")),
        ("tags admin", ValidatedTags("admin")),
        ("cancel d-1", Cancel("d-1")),
        ("help", Help()),
    ],
)  # fmt: skip
def test_valid(text: str, expected: Validated) -> None:
    assert check(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ("apii 237c6b8", RefusalCode.UNKNOWN_SERVICE,
         "There is no service or group `apii`. Did you mean `api`?"),
        ("api,wrker,adm 237c6b8", RefusalCode.UNKNOWN_SERVICE, "`wrker`. Did you mean `worker`?"),
        ("api,wrker,adm 237c6b8", RefusalCode.UNKNOWN_SERVICE, "`adm`. Did you mean `admin`?"),
        ("xyz 237c6b8", RefusalCode.UNKNOWN_SERVICE, "Services and groups: `api`, `worker`"),
        ("prod 237c6b8", RefusalCode.UNKNOWN_SERVICE, "`prod` is an environment, not a service"),
        ("api 237c6b8 prdo", RefusalCode.UNKNOWN_ENVIRONMENT,
         "There is no environment `prdo`. Did you mean `prd` or `prod`?"),
        ("api 237c6b8 qa", RefusalCode.UNKNOWN_ENVIRONMENT, "Environments: `staging`, `prod"),
        ("api latest", RefusalCode.TAG_POLICY, "`latest` is never deployed"),
        ("api LATEST prod", RefusalCode.TAG_POLICY, "`latest` is never deployed"),
        ("api 237C6B8", RefusalCode.TAG_POLICY, "did you mean `237c6b8`?"),
        ("api v1.2.3", RefusalCode.TAG_POLICY, "doesn't match the tag policy `^[0-9a-f]{7,40}$`"),
        ("api 237c6b", RefusalCode.TAG_POLICY, "doesn't match the tag policy"),
        ("status qa", RefusalCode.UNKNOWN_SERVICE, "There is no service or group `qa`"),
        ("history all", RefusalCode.UNKNOWN_SERVICE, "`history` works on one service"),
        ("rollback api to prod", RefusalCode.INVALID_REQUEST, "`prod` is an environment"),
        ("rollback api prod to 3", RefusalCode.TAG_POLICY, "write `to #3`"),
        ("rollback api prod to latest", RefusalCode.TAG_POLICY, "`latest` is never deployed"),
        ("lock nope prod", RefusalCode.UNKNOWN_SERVICE, "`nope`"),
        ("unlock api nowhere", RefusalCode.UNKNOWN_ENVIRONMENT, "`nowhere`"),
        ("tags apj", RefusalCode.UNKNOWN_SERVICE, "Did you mean `api`?"),
    ],
)  # fmt: skip
def test_refused(text: str, code: RefusalCode, says: str) -> None:
    result = check(text)
    assert isinstance(result, Refusal), result
    assert result.code is code
    assert says in result.text


def test_no_default_environment() -> None:
    config = CONFIG.model_copy(update={"default_environment": None})
    result = check("api 237c6b8", config)
    assert isinstance(result, Refusal)
    assert result.code is RefusalCode.NO_ENVIRONMENT
    assert "Which environment? Add one of `staging` or `production`" in result.text
    assert check("status", config) == ValidatedStatus(ALL, ENVS)


@pytest.mark.parametrize(
    ("tag", "refuse", "allowed"),
    [("237c6b8", (), True), ("latest", (), False), ("Latest", (), False),
     ("237c6b8", ("237c6b8",), False), ("0000000", ("latest",), True)],
)  # fmt: skip
def test_tag_refusal(tag: str, refuse: tuple[str, ...], allowed: bool) -> None:
    policy = CONFIG.tag_policy.model_copy(update={"refuse": refuse})
    assert (tag_refusal(tag, policy) is None) is allowed


def test_latest_refused_even_when_the_pattern_allows_it() -> None:
    policy = CONFIG.tag_policy.model_copy(update={"pattern": ".*", "refuse": ()})
    refusal = tag_refusal("latest", policy)
    assert refusal is not None
    assert "never deployed" in refusal.text


_WORDS = st.sampled_from(
    ["api", "worker", "admin", "all", "apii", "prod", "production", "staging", "stg", "qa",
     "237c6b8", "latest", "LATEST", "to", "in", "--env", "#3", "--", "status", "history",
     "rollback", "lock", "unlock", "tags", "cancel", "help", ",", "api,worker"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=7))
def test_validate_never_raises(words: list[str]) -> None:
    request = parse(" ".join(words))
    if isinstance(request, ParseError):
        return
    result = validate(request, CONFIG)
    if isinstance(result, Refusal):
        assert result.text
    elif isinstance(result, ValidatedDeploy):
        assert set(result.services) <= set(CONFIG.services)
        assert result.env in CONFIG.environments
        assert result.tag.lower() != "latest"
