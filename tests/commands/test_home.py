"""commands.home: the Home tab's rows (tag, readiness, since/by, drift, lock, approval,
incident; tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.home import home_row, short_tag

T = datetime(2026, 1, 1, tzinfo=UTC)
PINNED = "r.example/a/api:237c6b8@sha256:" + "ab" * 32


def deployment(image: str, ready: int = 3) -> dict[str, Any]:
    return {
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "api", "image": image}]}},
        },
        "status": {"readyReplicas": ready},
    }


@pytest.mark.parametrize(
    ("image", "tag"),
    [(PINNED, "237c6b8"), ("r/a:1", "1"), ("r/a@sha256:" + "cd" * 32, "cd" * 6), (None, "?")],
)
def test_short_tag(image: str | None, tag: str) -> None:
    assert short_tag(image) == tag


@pytest.mark.parametrize(
    ("running", "deployed", "expected"),
    [
        (PINNED, (PINNED, "U1", T), {"tag": "237c6b8", "since": T, "by": "U1", "drift": None}),
        ("r.example/a/api:1111111", (PINNED, "U1", T),
         {"tag": "1111111", "since": None, "by": "", "drift": "237c6b8"}),
        ("r.example/a/api:1111111", None, {"tag": "1111111", "since": None, "drift": None}),
    ],
)  # fmt: skip
def test_rows_tell_since_by_and_drift(
    running: str, deployed: tuple[str, str, datetime] | None, expected: dict[str, Any]
) -> None:
    row = home_row(
        env="prod", service="api", deployment=deployment(running, 2), container="api",
        deployed=deployed, lock="<@U2>: freeze", approvals=[("<@U3>", "abc1234")],
        incidents=["crash loop (exit code 1)"],
    )  # fmt: skip
    assert (row.ready, row.replicas) == (2, 3)
    assert row.lock == "<@U2>: freeze"
    assert row.approval == "<@U3> → abc1234"
    assert row.incident == "crash loop (exit code 1)"
    for key, value in expected.items():
        assert getattr(row, key) == value


def test_a_missing_deployment_is_a_row_too() -> None:
    row = home_row(
        env="prod", service="api", deployment=None, container="api", deployed=None,
        lock=None, approvals=[], incidents=[],
    )  # fmt: skip
    assert row.missing
