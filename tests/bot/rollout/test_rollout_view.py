"""`RolloutView.apply`: how the rollout follower merges its watches' events.

A DELETED told by `bot.kube.watch` after a `410 Gone` re-list carries only the object's
identity (name, namespace, uid, resourceVersion), so every source forgets by name; an
event DELETED so, with no `involvedObject` to say its pod, still leaves its pod's list.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.kube.watch import WatchEvent
from bot.rollout.observe import MAX_EVENTS_PER_POD, RolloutView

NS = "honeydue"


def identity(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "resourceVersion": "9"}
    }


def whole(name: str, **fields: Any) -> dict[str, Any]:
    return {"metadata": {**identity(name)["metadata"], "labels": {"app": "api"}}, **fields}


def event(name: str, pod: str) -> dict[str, Any]:
    return whole(name, involvedObject={"kind": "Pod", "name": pod}, reason="BackOff")


def names(view: RolloutView) -> dict[str, Any]:
    return {
        "deployment": view.deployment and view.deployment["metadata"]["name"],
        "deleted": view.deleted,
        "replicasets": sorted(view.replicasets),
        "pods": sorted(view.pods),
        "events": {pod: [e["metadata"]["name"] for e in es] for pod, es in view.events.items()},
    }


EMPTY = {"deployment": None, "deleted": False, "replicasets": [], "pods": [], "events": {}}

CASES: list[tuple[str, list[tuple[str, str, dict[str, Any]]], dict[str, Any]]] = [
    (
        "the deployment seen, then deleted (identity only)",
        [("deployment", "ADDED", whole("api")), ("deployment", "DELETED", identity("api"))],
        {**EMPTY, "deleted": True},
    ),
    (
        "a replicaset and a pod forgotten by name",
        [
            ("replicasets", "ADDED", whole("api-7d9c")),
            ("replicasets", "ADDED", whole("api-5f6b")),
            ("pods", "ADDED", whole("api-7d9c-a")),
            ("replicasets", "DELETED", identity("api-5f6b")),
            ("pods", "DELETED", identity("api-7d9c-a")),
        ],
        {**EMPTY, "replicasets": ["api-7d9c"]},
    ),
    (
        "an event modified replaces itself, in its pod's list",
        [
            ("events", "ADDED", event("e1", "api-7d9c-a")),
            ("events", "ADDED", event("e2", "api-7d9c-b")),
            ("events", "MODIFIED", event("e1", "api-7d9c-a")),
        ],
        {**EMPTY, "events": {"api-7d9c-a": ["e1"], "api-7d9c-b": ["e2"]}},
    ),
    (
        "an event deleted after a re-list (identity only) leaves its pod's list",
        [
            ("events", "ADDED", event("e1", "api-7d9c-a")),
            ("events", "ADDED", event("e2", "api-7d9c-a")),
            ("events", "DELETED", identity("e1")),
        ],
        {**EMPTY, "events": {"api-7d9c-a": ["e2"]}},
    ),
    (
        "an event deleted whole leaves its pod's list too",
        [
            ("events", "ADDED", event("e1", "api-7d9c-a")),
            ("events", "DELETED", event("e1", "api-7d9c-a")),
        ],
        {**EMPTY, "events": {"api-7d9c-a": []}},
    ),
]


@pytest.mark.parametrize(
    ("told", "expected"), [(t, e) for _, t, e in CASES], ids=[c[0] for c in CASES]
)
def test_apply(told: list[tuple[str, str, dict[str, Any]]], expected: dict[str, Any]) -> None:
    view = RolloutView()
    for source, kind, obj in told:
        view.apply(source, WatchEvent(kind, obj))
    assert names(view) == expected


def test_a_pods_events_keep_the_latest() -> None:
    view = RolloutView()
    for i in range(MAX_EVENTS_PER_POD + 5):
        view.apply("events", WatchEvent("ADDED", event(f"e{i:02d}", "api-7d9c-a")))
    kept = [e["metadata"]["name"] for e in view.events["api-7d9c-a"]]
    assert kept == [f"e{i:02d}" for i in range(5, MAX_EVENTS_PER_POD + 5)]
