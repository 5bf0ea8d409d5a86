"""The Deployment controller's arithmetic (pure): maxSurge / maxUnavailable and pod counts.

Covers: percentage rounding (surge up, unavailable down, never both zero), the
size the new ReplicaSet may grow to, old ReplicaSets shrinking within
maxUnavailable (unavailable pods first), whole rolling updates step by step for
several strategies, proportional scaling during a rollout, revisionHistoryLimit
cleanup, revisions and the revision-history annotation, the pod-template-hash, and
the annotations copied to a ReplicaSet.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.cluster.controllers import rollout, texts

Obj = dict[str, Any]


def deploy(
    replicas: int = 3,
    surge: int | str = "25%",
    unavailable: int | str = "25%",
    *,
    strategy: str = "RollingUpdate",
    **spec: Any,
) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {
        "metadata": {"name": "api", "generation": 1, "annotations": {}},
        "spec": {"replicas": replicas, "strategy": strat, "template": {"spec": {}}, **spec},
        "status": {},
    }


def rs(
    name: str,
    replicas: int,
    available: int | None = None,
    *,
    created: str = "",
    revision: int = 1,
    notes: dict[str, str] | None = None,
) -> Obj:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created or f"2026-01-01T00:00:0{revision}Z",
            "annotations": {texts.REVISION: str(revision), **(notes or {})},
            "generation": 1,
        },
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "availableReplicas": replicas if available is None else available,
            "observedGeneration": 1,
        },
    }


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        ("25%", 3, True, 1),
        ("25%", 3, False, 0),
        ("25%", 4, True, 1),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("50%", 1, True, 1),
        ("50%", 1, False, 0),
        ("100%", 7, False, 7),
        ("0%", 5, True, 0),
        (2, 10, True, 2),
        ("3", 10, False, 3),
        (None, 10, True, 0),
    ],
)
def test_scaled_value_rounds_like_intstr(
    value: Any, total: int, round_up: bool, expected: int
) -> None:
    assert rollout.scaled_value(value, total, round_up=round_up) == expected


def test_scaled_value_rejects_a_malformed_percentage() -> None:
    with pytest.raises(ValueError, match="invalid value"):
        rollout.scaled_value("x%", 10, round_up=True)


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 3, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),
        ("10%", "10%", 5, (1, 0)),
        ("0%", "0%", 3, (0, 1)),  # both zero: maxUnavailable becomes 1
        (0, "20%", 3, (0, 1)),  # 20% of 3 rounds down to 0: then 1
        (1, 0, 3, (1, 0)),
        (0, 1, 3, (0, 1)),
        (2, "100%", 3, (2, 3)),
        ("50%", "50%", 1, (1, 0)),
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert rollout.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_is_capped_at_replicas_and_zero_for_recreate() -> None:
    assert rollout.max_unavailable(deploy(2, 0, 5)) == 2
    assert rollout.max_unavailable(deploy(0, 1, 1)) == 0
    assert rollout.max_unavailable(deploy(3, strategy="Recreate")) == 0
    assert rollout.max_surge(deploy(3, strategy="Recreate")) == 0
    # Defaults (no rollingUpdate block): 25% / 25%.
    bare = {"metadata": {"name": "api"}, "spec": {"replicas": 4}}
    assert (rollout.max_surge(bare), rollout.max_unavailable(bare)) == (1, 1)


def simulate(d: Obj, old_sizes: list[int], *, max_steps: int = 50) -> list[tuple[int, ...]]:
    """Roll `d` out over old ReplicaSets; every pod becomes available at once.

    Returns the (new, old...) sizes after each scaling action of the controller.
    """
    olds = [rs(f"old{i}", n, revision=i + 1) for i, n in enumerate(old_sizes)]
    new = rs("new", 0, revision=len(old_sizes) + 1)
    new["spec"]["replicas"] = rollout.new_rs_new_replicas(d, olds, 0)
    steps = []

    def settle() -> None:
        for r in [new, *olds]:
            r["status"]["availableReplicas"] = r["spec"]["replicas"]
        steps.append((new["spec"]["replicas"], *(r["spec"]["replicas"] for r in olds)))

    settle()
    for _ in range(max_steps):
        everything = [*olds, new]
        grow = rollout.reconcile_new(d, everything, new)
        if grow is not None:
            new["spec"]["replicas"] = grow.replicas
            settle()
            continue
        shrink = rollout.reconcile_old(d, everything, olds, new)
        if not shrink:
            break
        for step in shrink:
            next(r for r in olds if r["metadata"]["name"] == step.name)["spec"]["replicas"] = (
                step.replicas
            )
        settle()
    return steps


@pytest.mark.parametrize(
    ("d", "old", "expected"),
    [
        # 3 replicas, 25%/25% → surge 1, unavailable 0: one pod at a time, never below 3.
        (deploy(3), [3], [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]),
        # maxSurge 0, maxUnavailable 1: take one down first.
        (deploy(3, 0, 1), [3], [(0, 3), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)]),
        # 4 replicas, 25%/25% → surge 1, unavailable 1.
        (deploy(4), [4], [(1, 4), (1, 2), (3, 2), (3, 0), (4, 0)]),
        # 100% surge: everything new at once, then all old go.
        (deploy(3, "100%", 0), [3], [(3, 3), (3, 0)]),
        # Two old ReplicaSets: the oldest shrinks first.
        (
            deploy(4, 1, 0),
            [2, 2],
            [
                (1, 2, 2),
                (1, 1, 2),
                (2, 1, 2),
                (2, 0, 2),
                (3, 0, 2),
                (3, 0, 1),
                (4, 0, 1),
                (4, 0, 0),
            ],
        ),
    ],
)
def test_rolling_update_steps(d: Obj, old: list[int], expected: list[tuple[int, ...]]) -> None:
    assert simulate(d, old) == expected


def test_old_unavailable_pods_go_first_and_do_not_count_against_max_unavailable() -> None:
    d = deploy(3, 1, 0)
    old = rs("old", 3, available=1)
    new = rs("new", 1, available=1, revision=2)
    # 4 pods, 2 available, minAvailable 3: one pod may go, and it is an unavailable one
    # (taking it costs no availability); no available pod may go.
    assert rollout.reconcile_old(d, [old, new], [old], new) == [rollout.Scale("old", 2)]
    # While the new pod is not available yet, nothing old goes.
    waiting = rs("new", 1, available=0, revision=2)
    assert rollout.reconcile_old(d, [rs("old", 3), waiting], [rs("old", 3)], waiting) == []


def test_scaling_a_rollout_in_flight_is_proportional() -> None:
    # 10 → 20 replicas in the middle of a rollout (surge 3 → 5 on the new size).
    d = deploy(20)
    notes = {texts.DESIRED_REPLICAS: "10", texts.MAX_REPLICAS: "13"}
    old = rs("old", 8, revision=1, notes=notes)
    new = rs("new", 5, revision=2, notes=notes)
    scales = rollout.scale(d, new, [old])
    # 12 more pods (25 allowed - 13): old 8·25/13 ≈ 15 (+7), new 5·25/13 ≈ 10 (+5).
    assert {s.name: s.replicas for s in scales} == {"old": 15, "new": 10}
    assert sum(s.replicas for s in scales) == 20 + rollout.max_surge(d)
    assert rollout.is_scaling_event(d, [old, new])
    # One active ReplicaSet simply takes the new size.
    assert rollout.scale(deploy(5), rs("only", 3, notes=notes), [rs("gone", 0)]) == [
        rollout.Scale("only", 5)
    ]


def test_cleanup_keeps_revision_history_limit_and_skips_live_replica_sets() -> None:
    d = deploy(3, revisionHistoryLimit=2)
    old = [rs(f"r{i}", 0, revision=i) for i in range(1, 6)]
    old[0]["spec"]["replicas"] = 1  # still has pods: never deleted
    assert rollout.cleanup(d, old) == ["r2", "r3"]
    assert rollout.cleanup(deploy(3), old) == []


def test_new_replica_set_is_found_ignoring_the_hash_label() -> None:
    d = deploy(3)
    d["spec"]["template"] = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": []}}
    hashed = rs("api-abc", 3)
    hashed["spec"]["template"] = {
        "metadata": {"labels": {"app": "api", texts.POD_TEMPLATE_HASH: "abc"}},
        "spec": {"containers": []},
    }
    other = rs("api-def", 0)
    other["spec"]["template"] = {"metadata": {"labels": {"app": "web"}}, "spec": {}}
    assert rollout.find_new_rs(d, [other, hashed]) is hashed


def test_template_hash_is_stable_safe_and_changes_with_the_template_and_collisions() -> None:
    template = {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"image": "a:1"}]}}
    first = rollout.template_hash(template)
    assert first == rollout.template_hash(template)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(first) <= 10
    changed = {**template, "spec": {"containers": [{"image": "a:2"}]}}
    assert rollout.template_hash(changed) != first
    assert rollout.template_hash(template, 1) != first
    with_label = {
        "metadata": {"labels": {"app": "api", texts.POD_TEMPLATE_HASH: first}},
        "spec": template["spec"],
    }
    assert rollout.template_hash(with_label) == first


@pytest.mark.parametrize(
    ("old", "history", "limit", "expected"),
    [
        ("1", "", 2000, "1"),
        ("3", "1", 2000, "1,3"),
        ("5", "1,3", 4, "3,5"),  # the oldest entries make room
        ("12345", "1", 3, "1"),  # no room at all: unchanged
    ],
)
def test_revision_history(old: str, history: str, limit: int, expected: str) -> None:
    assert rollout.revision_history_after(old, history, limit_chars=limit) == expected


def test_annotations_copied_to_replica_sets() -> None:
    d = deploy(3, 1, 0)
    d["metadata"]["annotations"] = {
        "kubernetes.io/change-cause": "deploy 5d6e7f8",
        "team": "honeydue",
        texts.LAST_APPLIED: "{}",
        texts.REVISION: "4",
        texts.DESIRED_REPLICAS: "3",
    }
    assert rollout.copyable_annotations(d) == {
        "kubernetes.io/change-cause": "deploy 5d6e7f8",
        "team": "honeydue",
    }
    assert rollout.replica_annotations(d) == {texts.DESIRED_REPLICAS: "3", texts.MAX_REPLICAS: "4"}
