"""`commands.delivery`: webhook verdicts (signature, staleness, events), packages API rows,
what a poll finds new (watermarks), which service a package is, the announcement
(deployable, buttons, the buildx fix), auto-deploy steps (locks, freezes, in flight,
newest wins) and the config rule that auto-deploy needs no approvals.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from commands.config import DeckhandConfig
from commands.delivery import (
    AutoDeploy,
    Hold,
    PackageVersion,
    Pending,
    Watermark,
    WebhookRefusal,
    announce_channel,
    announcement,
    auto_deploy_step,
    new_versions,
    package_rows,
    parse_button_value,
    service_of,
    webhook_verdict,
)
from commands.observed import ImageCheck, ImageProblem, LockInfo

EXAMPLE = Path(__file__).parents[2] / "examples" / "deckhand.yaml"
RAW = yaml.safe_load(EXAMPLE.read_text())
CONFIG = DeckhandConfig.model_validate(RAW)
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
SECRET = "s3cret"


def body(**changes: Any) -> bytes:
    package = {
        "id": 1,
        "owner": {"login": "admin"},
        "creator": {"login": "alice"},
        "type": "container",
        "name": "honeydue-api",
        "version": "237c6b8",
        "created_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    payload: dict[str, Any] = {"action": "created", "package": package}
    for key, value in changes.items():
        if key in package:
            package[key] = value
        else:
            payload[key] = value
    return json.dumps(payload, indent=2).encode()


def sign(raw: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("raw", "signature", "hub", "event", "expected"),
    [
        (body(), "sign", None, "package", "237c6b8"),
        (body(), None, "hub", "package", "237c6b8"),
        (body(), None, None, "package", 401),
        (body(), "0" * 64, None, "package", 401),
        (body(), "wrong-secret", None, "package", 401),
        (b"not json", "sign", None, "package", 400),
        (body(created_at="2026-12-04T01:00:00Z"), "sign", None, "package", 400),
        (body(created_at="2026-12-04T03:00:00Z"), "sign", None, "package", 400),
        (body(), "sign", None, "push", 202),
        (body(action="deleted"), "sign", None, "package", 202),
        (body(version="sha256:" + "a" * 64), "sign", None, "package", 202),
        (body(created_at="yesterday"), "sign", None, "package", 400),
    ],
)
def test_webhook_verdict(
    raw: bytes, signature: str | None, hub: str | None, event: str, expected: str | int
) -> None:
    given = {"sign": sign(raw), "wrong-secret": sign(raw, "other")}.get(signature or "", signature)
    hub_value = f"sha256={sign(raw)}" if hub else None
    verdict = webhook_verdict(
        body=raw,
        secret=SECRET,
        signature=given,
        hub_signature=hub_value,
        event=event,
        now=NOW,
        max_age_s=300,
    )
    if isinstance(expected, str):
        assert isinstance(verdict, PackageVersion), verdict
        assert (verdict.version, verdict.creator, verdict.owner) == (expected, "alice", "admin")
    else:
        assert isinstance(verdict, WebhookRefusal), verdict
        assert verdict.status == expected


def test_no_configured_secret_refuses_everything() -> None:
    raw = body()
    verdict = webhook_verdict(
        body=raw,
        secret="",
        signature=sign(raw, ""),
        hub_signature=None,
        event="package",
        now=NOW,
        max_age_s=300,
    )
    assert isinstance(verdict, WebhookRefusal)
    assert verdict.status == 401


def v(version: str, second: int, name: str = "honeydue-api") -> PackageVersion:
    return PackageVersion("admin", name, version, "alice", NOW + timedelta(seconds=second))


@pytest.mark.parametrize(
    ("rows", "mark", "new", "after"),
    [
        ([v("a", 0), v("b", 1)], None, [], Watermark(NOW + timedelta(seconds=1), ("b",))),
        ([], None, [], None),
        (
            [v("a", 0), v("b", 1)],
            Watermark(NOW, ("a",)),
            ["b"],
            Watermark(NOW + timedelta(seconds=1), ("b",)),
        ),
        ([v("a", 0), v("b", 0)], Watermark(NOW, ("a",)), ["b"], Watermark(NOW, ("a", "b"))),
        ([v("a", 0)], Watermark(NOW, ("a",)), [], Watermark(NOW, ("a",))),
        (
            [v("sha256:" + "1" * 64, 2), v("c", 2)],
            Watermark(NOW, ()),
            ["c"],
            Watermark(NOW + timedelta(seconds=2), ("c", "sha256:" + "1" * 64)),
        ),
        ([v("old", -5)], Watermark(NOW, ("a",)), [], Watermark(NOW, ("a",))),
    ],
)
def test_new_versions(
    rows: list[PackageVersion], mark: Watermark | None, new: list[str], after: Watermark | None
) -> None:
    found, mark_after = new_versions(rows, mark)
    assert [f.version for f in found] == new
    assert mark_after == after


def test_package_rows_skip_unreadable_ones() -> None:
    rows = [
        {
            "owner": {"login": "Admin"},
            "name": "honeydue-api",
            "version": "1",
            "type": "container",
            "creator": {"login": "bob"},
            "created_at": "2026-12-04T02:00:00+01:00",
        },
        {"name": "x"},
        {
            "owner": {},
            "name": "x",
            "version": "2",
            "type": "npm",
            "created_at": "2026-12-04T02:00:00Z",
        },
        {"owner": {}, "name": "x", "version": "3", "created_at": "2026-12-04T02:00:00"},
        "garbage",
    ]
    (row,) = package_rows(rows)
    assert (row.owner, row.creator, row.created_at) == ("admin", "bob", NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    ("owner", "name", "service"),
    [
        ("admin", "honeydue-api", "api"),
        ("ADMIN", "honeydue-worker", "worker"),
        ("admin", "nope", None),
        ("bob", "honeydue-api", None),
    ],
)
def test_service_of(owner: str, name: str, service: str | None) -> None:
    assert service_of(CONFIG, owner, name) == service


CHECK = ImageCheck("r/a:237c6b8@sha256:1", "sha256:1", "linux/amd64", 12_000_000, None, "237c6b8aa")


@pytest.mark.parametrize(
    ("tag", "verdict", "deployable", "fix", "mismatch"),
    [
        ("237c6b8", CHECK, True, None, False),
        (
            "237c6b8",
            ImageProblem("`x` is not built for linux/amd64 (it has linux/arm64)"),
            False,
            "docker buildx build --platform linux/amd64",
            False,
        ),
        ("latest", CHECK, False, "git rev-parse", False),
        (
            "237c6b8",
            ImageCheck("r", "sha256:1", "linux/amd64", None, None, "ffffff1"),
            True,
            None,
            True,
        ),
    ],
)
def test_announcement(
    tag: str, verdict: ImageCheck | ImageProblem, deployable: bool, fix: str | None, mismatch: bool
) -> None:
    version = PackageVersion("admin", "honeydue-api", tag, "alice", NOW)
    channel = CONFIG.environments["staging"].channels[0]
    said = announcement(
        config=CONFIG, service="api", version=version, verdict=verdict, channel=channel
    )
    assert said.deployable is deployable
    assert said.revision_mismatch is mismatch
    if fix is None:
        assert said.fix is None
    else:
        assert said.fix is not None
        assert fix in said.fix
    if deployable:
        assert "staging" in said.buttons
    else:
        assert said.buttons == ()
        assert said.auto_deploy == ()


def test_announce_channel_prefers_the_service_then_the_default_env() -> None:
    assert announce_channel(CONFIG, "api") == CONFIG.environments["staging"].channels[0]
    raw = json.loads(json.dumps(RAW))
    raw["services"]["api"]["channel"] = "C0APICHAN1"
    config = DeckhandConfig.model_validate(raw)
    assert announce_channel(config, "api") == "C0APICHAN1"
    assert "C0APICHAN1" in config.bot_channels()


P1 = Pending("1111111", "alice", NOW)
P2 = Pending("2222222", "bob", NOW + timedelta(seconds=5))
LOCK = LockInfo("U0BOB00001", NOW, "rolled back from `b3467ec` by <@U0BOB00001>: unlock to resume")


@pytest.mark.parametrize(
    ("pending", "locked", "frozen", "in_flight", "expected"),
    [
        ([], None, False, False, None),
        ([P1], None, False, False, AutoDeploy(P1)),
        ([P2, P1], None, False, False, AutoDeploy(P2, (P1,))),
        ([P1], LOCK, False, False, "rolled back from"),
        ([P1], LockInfo("U1", NOW, None, NOW - timedelta(seconds=1)), False, False, AutoDeploy(P1)),
        ([P1], None, True, False, "freeze"),
        ([P1], None, False, True, "in flight"),
    ],
)
def test_auto_deploy_step(
    pending: list[Pending], locked: LockInfo | None, frozen: bool, in_flight: bool, expected: object
) -> None:
    step = auto_deploy_step(
        pending=pending, locked=locked, frozen=frozen, in_flight=in_flight, now=NOW
    )
    if isinstance(expected, str):
        assert isinstance(step, Hold), step
        assert expected in step.reason
    else:
        assert step == expected


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("api|237c6b8|staging", ("api", "237c6b8", "staging")),
        ("api|x", None),
        ("||", None),
        ("", None),
    ],
)
def test_button_value(value: str, parts: tuple[str, str, str] | None) -> None:
    assert parse_button_value(value) == parts


def test_auto_deploy_is_refused_on_an_environment_that_needs_approvals() -> None:
    raw = json.loads(json.dumps(RAW))
    raw["environments"]["staging"]["auto_deploy"] = True
    assert DeckhandConfig.model_validate(raw).environments["staging"].auto_deploy
    prod = next(n for n, e in CONFIG.environments.items() if e.approvals.required)
    raw["environments"][prod]["auto_deploy"] = True
    with pytest.raises(ValidationError, match="auto_deploy"):
        DeckhandConfig.model_validate(raw)
