"""commands.incidents, table-driven: reading pods, classifying causes, grouping,
open/update/resolve decisions, grace deadlines and the per-channel rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.diagnosis import Cause
from commands.incidents import (
    Act,
    Failure,
    Group,
    Incident,
    IncidentKey,
    Phase,
    PullState,
    admit,
    adopt_unknown,
    aggregate,
    current_summary,
    decide,
    is_pull_failure_event,
    next_deadline,
    pull_cause,
    read_pod,
    workload_from_names,
)

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
IMAGE = "gitea.example.com/admin/honeydue-api:deadbee"
KEY = IncidentKey("honeydue", "api", IMAGE, Cause.TAG_NOT_FOUND)
NOT_FOUND = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "X": failed to '
    'resolve reference "X": X: not found'
)
UNAUTHORIZED = (
    "rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve "
    "reference: failed to authorize: failed to fetch oauth token: 401 Unauthorized"
)


def pod(
    *statuses: dict[str, Any],
    init: tuple[dict[str, Any], ...] = (),
    phase: str = "Pending",
    containers: tuple[str, ...] = ("api",),
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "api-7d9c-x1",
            "namespace": "honeydue",
            "uid": "u1",
            "labels": {"pod-template-hash": "7d9c"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "api-7d9c", "controller": True}],
        },
        "spec": {
            "nodeName": "node-a",
            "imagePullSecrets": [{"name": "gitea-credentials"}],
            "initContainers": [{"name": s["name"], "image": "init:1"} for s in init],
            "containers": [{"name": c, "image": IMAGE} for c in containers],
        },
        "status": {
            "phase": phase,
            "containerStatuses": list(statuses),
            "initContainerStatuses": list(init),
        },
    }


def waiting(reason: str, message: str = "", name: str = "api") -> dict[str, Any]:
    return {"name": name, "state": {"waiting": {"reason": reason, "message": message}}}


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((waiting("ErrImagePull", NOT_FOUND),), PullState.FAILING),
        ((waiting("ImagePullBackOff", 'Back-off pulling image "X"'),), PullState.FAILING),
        ((waiting("InvalidImageName"),), PullState.FAILING),
        ((waiting("ErrImageNeverPull"),), PullState.FAILING),
        ((waiting("RegistryUnavailable"),), PullState.FAILING),
        ((waiting("ContainerCreating"),), PullState.WAITING),
        ((), PullState.WAITING),  # no status yet
        (({"name": "api", "state": {"running": {}}},), PullState.PULLED),
        (({"name": "api", "state": {"terminated": {"exitCode": 1}}},), PullState.PULLED),
        (
            (
                {
                    "name": "api",
                    "imageID": "sha256:1",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                },
            ),
            PullState.PULLED,
        ),
    ],
)
def test_read_pod_pull_state(statuses: tuple[dict[str, Any], ...], expected: PullState) -> None:
    pulls = read_pod(pod(*statuses))
    assert [c.state for c in pulls.containers] == [expected]
    assert (pulls.node, pulls.owner_name, pulls.pull_secrets) == (
        "node-a",
        "api-7d9c",
        ("gitea-credentials",),
    )


def test_read_pod_init_container_failing() -> None:
    pulls = read_pod(
        pod({"name": "api", "state": {}}, init=(waiting("ErrImagePull", NOT_FOUND, "init"),))
    )
    assert [(c.container, c.image, c.state) for c in pulls.failing] == [
        ("init", "init:1", PullState.FAILING)
    ]


@pytest.mark.parametrize(
    ("owner", "template_hash", "expected"),
    [
        ("api-7d9c", "7d9c", "api"),
        ("my-api-7d9c", "7d9c", "my-api"),
        ("weird", "7d9c", "weird"),
    ],
)
def test_workload_from_names(owner: str, template_hash: str, expected: str) -> None:
    data = pod()
    data["metadata"]["ownerReferences"][0]["name"] = owner
    data["metadata"]["labels"]["pod-template-hash"] = template_hash
    assert workload_from_names(read_pod(data)) == expected


@pytest.mark.parametrize(
    ("reason", "message", "event", "previous", "expected"),
    [
        ("ErrImagePull", NOT_FOUND, "", None, Cause.TAG_NOT_FOUND),
        ("ErrImagePull", UNAUTHORIZED, "", None, Cause.PULL_AUTH),
        (
            "ErrImagePull",
            "no match for platform in manifest: not found",
            "",
            None,
            Cause.PLATFORM_MISMATCH,
        ),
        (
            "ErrImagePull",
            "dial tcp 10.0.0.1:443: connect: connection refused",
            "",
            None,
            Cause.REGISTRY_UNREACHABLE,
        ),
        ("ImagePullBackOff", 'Back-off pulling image "X"', NOT_FOUND, None, Cause.TAG_NOT_FOUND),
        ("ImagePullBackOff", 'Back-off pulling image "X"', "", Cause.PULL_AUTH, Cause.PULL_AUTH),
        ("ImagePullBackOff", 'Back-off pulling image "X"', "", None, Cause.UNKNOWN),
        ("InvalidImageName", "whatever", "", None, Cause.INVALID_IMAGE),
        ("RegistryUnavailable", "", "", None, Cause.REGISTRY_UNREACHABLE),
    ],
)
def test_pull_cause(
    reason: str, message: str, event: str, previous: Cause | None, expected: Cause
) -> None:
    assert pull_cause(reason, message, event_message=event, previous=previous) is expected


@pytest.mark.parametrize(
    ("reason", "message", "expected"),
    [
        ("Failed", f'Failed to pull image "{IMAGE}": {NOT_FOUND}', True),
        ("Failed", "Error: ErrImagePull", False),
        ("BackOff", f'Back-off pulling image "{IMAGE}"', False),
        ("Pulling", f'Pulling image "{IMAGE}"', False),
    ],
)
def test_is_pull_failure_event(reason: str, message: str, expected: bool) -> None:
    assert is_pull_failure_event(reason, message) is expected


def test_key_name_is_a_stable_object_name() -> None:
    assert KEY.name == IncidentKey("honeydue", "api", IMAGE, Cause.TAG_NOT_FOUND).name
    assert KEY.name != IncidentKey("honeydue", "api", IMAGE, Cause.PULL_AUTH).name
    assert len(KEY.name) <= 63
    assert KEY.name.startswith("deckhand-incident-")


def test_aggregate_counts_pods_once_and_keeps_oldest_since() -> None:
    other = IncidentKey("honeydue", "admin", IMAGE, Cause.TAG_NOT_FOUND)
    failures = [
        Failure(
            KEY, f"api-{n}", f"node-{n % 3}", "token=abc123 not found", T0 + timedelta(seconds=n)
        )
        for n in range(50)
    ]
    failures.append(Failure(KEY, "api-0", "node-0", "init also fails", T0))  # 2nd container
    failures.append(Failure(other, "admin-0", "", "x", T0))
    groups = aggregate(failures)
    assert len(groups[KEY].pods) == 50
    assert groups[KEY].nodes == {"node-0", "node-1", "node-2"}
    assert groups[KEY].since == T0
    assert "abc123" not in groups[KEY].message  # redacted
    assert groups[other].nodes == frozenset()


def group(pods: int = 1, since: datetime = T0, nodes: tuple[str, ...] = ("node-a",)) -> Group:
    return Group(KEY, frozenset(f"p{n}" for n in range(pods)), frozenset(nodes), "m", since)


def stored(
    phase: Phase = Phase.OPEN, pods: int = 1, nodes: tuple[str, ...] = ("node-a",)
) -> Incident:
    return Incident(KEY, phase, T0, "C1", ts="1.0", pods=pods, peak_pods=pods, nodes=nodes)


@pytest.mark.parametrize(
    ("incident", "grp", "still_pulling", "elapsed", "expected"),
    [
        (None, None, False, 100, Act.NOTHING),
        (None, group(), True, 29, Act.NOTHING),  # within grace: a retry may still succeed
        (None, group(), True, 30, Act.OPEN),
        (stored(Phase.RESOLVED), group(), True, 31, Act.OPEN),  # it came back: a new alert
        (stored(Phase.RESOLVED), None, False, 31, Act.NOTHING),
        (stored(), group(), True, 100, Act.NOTHING),  # open, nothing changed
        (stored(), group(pods=50), True, 100, Act.UPDATE),
        (stored(), group(nodes=("node-a", "node-b")), True, 100, Act.UPDATE),
        (stored(), None, True, 100, Act.NOTHING),  # pods not pulled yet (e.g. recreated)
        (stored(), None, False, 100, Act.RESOLVE),  # every pod pulled, or gone
    ],
)
def test_decide(
    incident: Incident | None, grp: Group | None, still_pulling: bool, elapsed: int, expected: Act
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    assert (
        decide(stored=incident, group=grp, still_pulling=still_pulling, now=now, grace_s=30)
        is expected
    )


def test_incident_observed_tracks_peak() -> None:
    incident = stored(pods=50).observed(group(pods=3))
    assert (incident.pods, incident.peak_pods) == (3, 50)


@pytest.mark.parametrize(
    ("groups", "alerted", "elapsed", "expected"),
    [
        ([], [], 0, None),
        ([group(since=T0)], [], 0, T0 + timedelta(seconds=30)),
        ([group(since=T0)], [KEY], 0, None),
        ([group(since=T0)], [], 30, None),  # its grace ended: decided now, no wake-up
    ],
)
def test_next_deadline(
    groups: list[Group], alerted: list[IncidentKey], elapsed: int, expected: datetime | None
) -> None:
    now = T0 + timedelta(seconds=elapsed)
    assert next_deadline(groups, alerted=alerted, now=now, grace_s=30) == expected


def test_adopt_unknown_joins_the_open_incident_of_its_scope() -> None:
    unknown = IncidentKey("honeydue", "api", IMAGE, Cause.UNKNOWN)
    elsewhere = IncidentKey("honeydue", "admin", IMAGE, Cause.UNKNOWN)
    failures = [Failure(unknown, "p1", "n", "", T0), Failure(elsewhere, "p2", "n", "", T0)]
    adopted = adopt_unknown(failures, [KEY])
    assert [f.key for f in adopted] == [KEY, elsewhere]


@pytest.mark.parametrize(
    ("ages_s", "limit", "expected"),
    [
        ([], 1, True),
        ([10], 1, False),
        ([61], 1, True),  # out of the window
        ([1, 2, 3], 4, True),
        ([1, 2, 3, 4], 4, False),
    ],
)
def test_admit(ages_s: list[int], limit: int, expected: bool) -> None:
    now = T0 + timedelta(minutes=5)
    posted = [now - timedelta(seconds=a) for a in ages_s]
    assert admit(posted, now=now, limit_per_minute=limit) is expected


@pytest.mark.parametrize(
    ("summaries", "expected"),
    [
        ({}, None),
        ({"1.0": T0 - timedelta(seconds=90)}, None),
        ({"1.0": T0 - timedelta(seconds=30)}, "1.0"),
        ({"1.0": T0 - timedelta(seconds=50), "2.0": T0 - timedelta(seconds=10)}, "2.0"),
    ],
)
def test_current_summary(summaries: dict[str, datetime], expected: str | None) -> None:
    assert current_summary(summaries, now=T0) == expected
