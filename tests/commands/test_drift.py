"""commands.drift: who wrote the image/replicas (managedFields), what counts as drift,
stale images and the tag policy (tables)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.drift import Observed, detect, is_stale, observe, tag_allowed

IMG = {
    "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"api"}': {"f:image": {}}}}}}
}
REPLICAS = {"f:spec": {"f:replicas": {}}}


def deployment(*entries: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api",
            "namespace": "ns",
            "annotations": {"kubernetes.io/change-cause": "hotfix"},
            "managedFields": [
                {"manager": m, "operation": "Update", "time": t, "fieldsV1": f}
                for m, t, f in entries
            ],
        },
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "api", "image": "r/a:2"}]}},
        },
    }


def test_observe_names_the_writers_of_image_and_replicas() -> None:
    got = observe(
        deployment(
            ("kubectl-client-side-apply", "2026-01-01T00:00:00Z", {**IMG, **REPLICAS}),
            ("kubectl-set", "2026-01-02T00:00:00Z", IMG),
        ),
        container="api",
    )
    assert got == Observed(
        "ns", "api", "api", "r/a:2", 2, "kubectl-set", "kubectl-client-side-apply", "hotfix"
    )
    assert observe(deployment(), container="other") is None


def seen(image: str = "r/a:1", replicas: int = 1, **kw: Any) -> Observed:
    return Observed("ns", "api", "api", image, replicas, **kw)


@pytest.mark.parametrize(
    ("before", "now", "max_replicas", "fields"),
    [
        (None, seen("r/a:2", image_manager="kubectl-set"), None, []),  # first sight: baseline
        (seen(), seen("r/a:2", image_manager="kubectl-set"), None, ["image"]),
        (seen(), seen("r/a:2", image_manager="deckhand"), None, []),
        (seen(), seen(replicas=3, replicas_manager="kubectl"), None, []),
        (seen(), seen(replicas=3, replicas_manager="kubectl"), 1, ["replicas"]),
        (seen(), seen(replicas=3, replicas_manager="deckhand"), 1, []),
        (seen(), seen("r/a:2", 3, image_manager="helm", replicas_manager="helm"), 1,
         ["image", "replicas"]),
    ],
)  # fmt: skip
def test_detect(
    before: Observed | None, now: Observed, max_replicas: int | None, fields: list[str]
) -> None:
    changes = detect(before, now, max_replicas=max_replicas)
    assert [c.field for c in changes] == fields
    assert len({c.key for c in changes}) == len(changes)


D1, D2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("new", "deployed", "stale"),
    [(D1, D2, True), (D2, D1, False), (D1, D1, False), (None, D2, False), (D1, None, False)],
)
def test_is_stale(new: datetime | None, deployed: datetime | None, stale: bool) -> None:
    assert is_stale(new, deployed) is stale


@pytest.mark.parametrize(
    ("tag", "allowed"),
    [("237c6b8", True), ("latest", False), ("v1.2", False), (None, False)],
)
def test_tag_allowed(tag: str | None, allowed: bool) -> None:
    assert tag_allowed(tag, pattern=r"^[0-9a-f]{7,40}$", refused=frozenset({"latest"})) is allowed
