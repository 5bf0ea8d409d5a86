"""`commands.config`: defaults, single-field checks, cross-field relations, helpers
(env aliases, group expansion, approval windows). Model-level: the file loader and its
error lines are covered in `tests/bot/test_config.py`.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from commands.config import (
    Approvals,
    ApprovalWindow,
    DeckhandConfig,
    Principals,
    TagPolicy,
)
from commands.config_checks import ConfigProblems

BASE: dict[str, Any] = {
    "services": {
        "api": {
            "image": "gitea.example.com/admin/honeydue-api",
            "deployments": [{"name": "api", "container": "api"}],
        },
        "worker": {
            "image": "gitea.example.com/admin/honeydue-worker",
            "deployments": [{"name": "worker", "container": "worker"}],
            "max_replicas": 1,
        },
    },
    "groups": {"all": ["api", "worker"]},
    "default_environment": "staging",
    "environments": {
        "staging": {"namespace": "honeydue-staging", "aliases": ["stage"]},
        "production": {
            "namespace": "honeydue",
            "aliases": ["prod"],
            "protected": True,
            "approvals": {"approvers": {"users": ["U0ALICE"]}},
        },
    },
}


def config(**changes: Any) -> DeckhandConfig:
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return DeckhandConfig.model_validate(data)


def problems(**changes: Any) -> list[str]:
    """Every problem as `path: message`, flattened like the loader does."""
    with pytest.raises(ValidationError) as info:
        config(**changes)
    found = []
    for item in info.value.errors():
        error = item.get("ctx", {}).get("error")
        loc = ".".join(map(str, item["loc"]))
        if isinstance(error, ConfigProblems):
            found += [f"{loc}.{'.'.join(map(str, p.path))}".strip(".") + f": {p.message}"
                      for p in error.problems]  # fmt: skip
        else:
            found.append(f"{loc}: {item['msg']}")
    return found


def test_defaults() -> None:
    cfg = config()
    assert cfg.environments["production"].approvals.required == 1  # protected
    assert cfg.environments["staging"].approvals.required == 0
    assert cfg.environments["production"].approvals.expiry_minutes == 30
    assert cfg.tag_policy.pattern == "^[0-9a-f]{7,40}$"
    assert cfg.tag_policy.refused == {"latest"}
    assert cfg.tag_policy.pin_digest is True
    assert str(cfg.tag_policy.node_platform()) == "linux/amd64"
    assert (cfg.rollout.readiness_timeout_s, cfg.rollout.max_duration_s) == (120, 900)
    assert cfg.rollout.crashloop_restarts == 2
    assert (cfg.alerts.grace_s, cfg.alerts.rate_limit_per_minute) == (30, 10)
    assert (cfg.deckhand.namespace, cfg.deckhand.lock_ttl_s) == ("deckhand", 900)
    assert cfg.history_size == 10
    assert cfg.alert_namespaces() == ("honeydue-staging", "honeydue")


def test_frozen() -> None:
    cfg = config()
    with pytest.raises(ValidationError):
        cfg.history_size = 3  # type: ignore[misc]


def test_latest_is_refused_even_when_removed() -> None:
    assert TagPolicy(refuse=()).refused == {"latest"}
    assert TagPolicy(refuse=("Dev",)).refused == {"latest", "dev"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [("staging", "staging"), ("stage", "staging"), ("prod", "production"), (None, "staging"),
     ("production", "production"), ("qa", None), ("Prod", None)],
)  # fmt: skip
def test_resolve_env(word: str | None, expected: str | None) -> None:
    assert config().resolve_env(word) == expected


def test_resolve_env_without_default() -> None:
    assert config(default_environment=None).resolve_env(None) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [("api", ("api",)), ("all", ("api", "worker")), ("nope", None)],
)
def test_expand(target: str, expected: tuple[str, ...] | None) -> None:
    assert config().expand(target) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"groups": {"all": ["api", "wrker"]}}, "groups.all.1: unknown service 'wrker'"),
        ({"groups": {"api": ["worker"]}}, "groups.api: has the name of a service"),
        ({"groups": {"none": []}}, "groups.none: is empty"),
        (
            {"environments__staging__aliases": ["prod"]},
            "environments.production.aliases: 'prod' already names environment 'staging'",
        ),
        (
            {"environments__staging__aliases": ["api"]},
            "environments.staging.aliases: 'api' is also a service or group name",
        ),
        (
            {"environments__staging__namespace": "honeydue"},
            "environments.production.namespace: 'honeydue' is also environment 'staging'",
        ),
        (
            {"default_environment": "stagin"},
            "default_environment: unknown environment 'stagin' (expected one of 'staging', 'stage'",
        ),
        (
            {"environments__production__approvals": {"required": 2}},
            "environments.production.approvals.approvers: 2 approval(s) required but nobody",
        ),
        (
            {"environments__production__approvals": {"required": 0}},
            "environments.production.approvals.required: is 0 but the environment is protected",
        ),
        (
            {"tag_policy": {"pattern": "^[0-9a-f"}},
            "tag_policy.pattern: Value error, '^[0-9a-f' is not a valid regular expression",
        ),
        (
            {"tag_policy": {"platform": "amd64"}},
            "tag_policy.platform: Value error, `amd64` is not a platform",
        ),
        (
            {"services__api__image": "gitea.example.com/admin/api:237c6b8"},
            "services.api.image: Value error, 'gitea.example.com/admin/api:237c6b8' has a tag",
        ),
        ({"services__api__image": "Gitea/Api"}, "services.api.image: Value error, `Gitea/Api`"),
        (
            {"services__api__deployments": []},
            "services.api.deployments: Tuple should have at least",
        ),
        (
            {"services__api__deployments": [{"name": "api", "container": "api"}] * 2},
            "services.api.deployments: lists a Deployment twice",
        ),
        (
            {"services__api__deployments": [{"name": "API", "container": "api"}]},
            "services.api.deployments.0.name: Value error, 'API' is not a Kubernetes name",
        ),
        ({"services__api__max_replicas": 0}, "services.api.max_replicas: Input should be greater"),
        (
            {"services__status": BASE["services"]["api"]},
            "services.status: 'status' is a Deckhand command word",
        ),
        (
            {"services__stats": BASE["services"]["api"]},
            "services.stats: 'stats' is too close to the command 'status'",
        ),
        ({"services__Api": BASE["services"]["api"]}, "services.Api: 'Api' is not a valid service"),
        (
            {"environments__staging__channels": ["#deploys"]},
            "environments.staging.channels.0: Value error, '#deploys' is not a Slack channel id",
        ),
        (
            {"environments__staging__deployers": {"users": ["alice"]}},
            "environments.staging.deployers.users.0: Value error, 'alice' is not a Slack user id",
        ),
        (
            {"environments__staging__deployers": {"usergroups": ["U01"]}},
            "environments.staging.deployers.usergroups.0: Value error, 'U01' is not a Slack user",
        ),
        (
            {"environments__staging__protected": "yes"},
            "environments.staging.protected: Input should be a valid boolean",
        ),
        (
            {"environments__staging__namespcae": "x"},
            "environments.staging.namespcae: Extra inputs are not permitted",
        ),
        (
            {"environments__production__approvals__allow_self_approval": True},
            "environments.production.approvals.allow_self_approval: Extra inputs",
        ),
        ({"alerts": {"channel": "ops"}}, "alerts.channel: Value error, 'ops' is not a Slack"),
        ({"environments": {}}, "environments: Dictionary should have at least 1 item"),
    ],
)
def test_problems(changes: dict[str, Any], expected: str) -> None:
    found = problems(**changes)
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize(
    ("window", "at", "inside"),
    [
        # Fri 16:00 → Sat 08:00 etc., Berlin time (UTC+1 in November)
        ({"days": ["fri"], "start": "16:00", "end": "08:00"}, "2026-11-27T15:00", True),
        ({"days": ["fri"], "start": "16:00", "end": "08:00"}, "2026-11-27T14:59", False),
        ({"days": ["fri"], "start": "16:00", "end": "08:00"}, "2026-11-28T06:59", True),
        ({"days": ["fri"], "start": "16:00", "end": "08:00"}, "2026-11-28T07:00", False),
        ({"days": ["thu"], "start": "16:00", "end": "08:00"}, "2026-11-27T06:00", True),
        ({"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}, "2026-11-24T10:00", True),
        ({"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}, "2026-11-26T10:00", False),
    ],
)
def test_window_contains(window: dict[str, Any], at: str, inside: bool) -> None:
    parsed = ApprovalWindow.model_validate({**window, "timezone": "Europe/Berlin"})
    assert parsed.contains(datetime.fromisoformat(at).replace(tzinfo=UTC)) is inside


@pytest.mark.parametrize(
    ("value", "message"),
    [("25:00", "hour value is outside"), ("1600", "is not a time"),
     (960, "expected HH:MM in quotes")],
)  # fmt: skip
def test_window_times(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ApprovalWindow.model_validate({"days": ["fri"], "start": value, "end": "08:00"})


def test_window_timezone() -> None:
    with pytest.raises(ValidationError, match="not a time zone"):
        ApprovalWindow.model_validate(
            {"days": ["fri"], "start": "16:00", "end": "08:00", "timezone": "Europe/Berln"}
        )


def test_required_at_respects_freeze_windows() -> None:
    approvals = Approvals(
        required=0,
        approvers=Principals(users=("U0ALICE",)),
        windows=(
            ApprovalWindow.model_validate({"days": ["fri"], "start": "16:00", "end": "23:00"}),
        ),
    )
    assert approvals.required_at(datetime(2026, 11, 27, 17, tzinfo=UTC)) == 1  # frozen
    assert approvals.required_at(datetime(2026, 11, 26, 17, tzinfo=UTC)) == 0
    always = Approvals(required=2, approvers=Principals(usergroups=("S0OPS",)))
    assert always.required_at(datetime(2026, 11, 26, 17, tzinfo=UTC)) == 2


@pytest.mark.parametrize(
    ("user", "groups", "included"),
    [("U0ALICE", frozenset(), True), ("U0BOB", frozenset({"S0OPS"}), True),
     ("U0BOB", frozenset({"S0DEV"}), False), ("U0BOB", frozenset(), False)],
)  # fmt: skip
def test_principals_includes(user: str, groups: frozenset[str], included: bool) -> None:
    principals = Principals(users=("U0ALICE",), usergroups=("S0OPS",))
    assert principals.includes(user, groups) is included


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ()),
        ({"environments__staging__channels": ["C0DEPLOYS"]}, ("C0DEPLOYS",)),
        (
            {
                "environments__staging__channels": ["C0DEPLOYS", "C0STAGING"],
                "environments__production__channels": ["C0DEPLOYS"],
                "environments__production__alert_channel": "C0ALERTS",
                "alerts": {"channel": "C0ALERTS"},
            },
            ("C0DEPLOYS", "C0STAGING", "C0ALERTS"),
        ),
        ({"alerts": {"channel": "G0PRIVATE"}}, ("G0PRIVATE",)),
    ],
)
def test_bot_channels_are_every_deploy_and_alert_channel_once(
    changes: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert config(**changes).bot_channels() == expected
