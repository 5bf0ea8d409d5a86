"""What the alerts' `ClusterView` leaves behind of the objects it watches:

- memory: pods watched as they change are not kept whole (with their managedFields)
  by the watch underneath, which remembers only their identity (measured with
  tracemalloc: bytes still allocated by `bot.kube.watch`'s JSON parsing);
- a DELETED told by the watch after a `410 Gone` re-list, which carries only the
  object's identity, still forgets the pod and the in-flight deploy record
  (canned answers at the network seam, `bot.kube.transport.MockTransport`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.alerts.watcher import ClusterView
from bot.kube.client import KubeClient
from bot.kube.kinds import CONFIGMAPS, EVENTS, PODS
from bot.kube.transport import Canned, MockTransport, Sent, gone, listed, not_found
from bot.rollout.records import DeployRecord, TargetRecord, to_configmap
from bot.tasks import background
from sandbox.cluster.resources import PODS as STORED_PODS
from sandbox.cluster.server import SandboxCluster
from tests.bot.alerts.harness import wait_until
from tests.bot.alerts.test_watcher import IMAGE, NOT_FOUND, NS, put_pod, put_rs

WATCHED = 40


def _kept_by_the_watch(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated under `bot/kube/watch.py` (its `json.loads` of each event)."""
    kept = snapshot.filter_traces(
        [tracemalloc.Filter(True, "*/bot/kube/watch.py", all_frames=True)]
    )
    return sum(stat.size for stat in kept.statistics("filename"))


def _says_not_found(pod: dict[str, Any]) -> None:
    pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = NOT_FOUND


async def test_pods_watched_as_they_change_are_not_kept_whole(
    kube_cluster: SandboxCluster, kube: KubeClient
) -> None:
    view = ClusterView(kube, namespaces=(NS,), deckhand_namespace="deckhand")
    put_rs(kube_cluster, "api-7d9c", "api")
    names = [f"api-7d9c-{i:02d}" for i in range(WATCHED)]
    for name in names:
        put_pod(kube_cluster, name, "api-7d9c", message="Back-off pulling image")
    await view.sync()
    tracemalloc.start(8)
    try:
        parsed = _parsed_size(kube_cluster.store.get(STORED_PODS, NS, names[0]))
        async with background(view.streams()):
            for name in names:  # each pod changes once: a MODIFIED the watch parses
                kube_cluster.store.mutate(
                    STORED_PODS, NS, name, _says_not_found, subresource="status"
                )
            await wait_until(
                lambda: sum(f.message == NOT_FOUND for f in view.failures()) == WATCHED,
                within_s=10,
                what="every change handled",
            )
            gc.collect()
            kept = _kept_by_the_watch(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    # What the view keeps on purpose (names, image, node, the message: ~1.5 KB) was
    # parsed there too; whole, each pod would be all of `parsed` (~13 KB here, most of
    # it managedFields).
    assert kept / WATCHED < parsed / 4, f"{kept / WATCHED:.0f} B a pod kept of {parsed}"


def _parsed_size(obj: dict[str, Any]) -> int:
    """Bytes one parsed copy of `obj` takes (tracemalloc is running)."""
    before = tracemalloc.get_traced_memory()[0]
    copy = json.loads(json.dumps(obj))
    size = tracemalloc.get_traced_memory()[0] - before
    del copy
    return size


def _pod(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "resourceVersion": version,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "api-7d9c", "controller": True}],
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "api", "image": IMAGE}]},
        "status": {
            "containerStatuses": [
                {
                    "name": "api",
                    "image": IMAGE,
                    "state": {"waiting": {"reason": "ErrImagePull", "message": NOT_FOUND}},
                }
            ]
        },
    }


class Script:
    """Per path: the lists in order (the last repeats), then the watch connections in
    order; once those are used up a watch stays open and silent."""

    def __init__(self, table: Mapping[str, tuple[list[Canned], list[Canned]]]) -> None:
        self.table = {
            path: (list(lists), list(watches)) for path, (lists, watches) in table.items()
        }

    async def __call__(self, sent: Sent) -> Canned:
        if sent.path not in self.table:
            return not_found(sent.path)
        lists, watches = self.table[sent.path]
        if "watch" not in sent.query:
            return lists.pop(0) if len(lists) > 1 else lists[0]
        if watches:
            return watches.pop(0)
        await asyncio.Event().wait()  # silent until the test ends
        raise AssertionError("unreachable")


def _world(
    pods: tuple[list[Canned], list[Canned]], records: tuple[list[Canned], list[Canned]]
) -> KubeClient:
    quiet: tuple[list[Canned], list[Canned]] = ([listed([], "1")], [])
    script = Script(
        {
            PODS.path(NS): pods,
            EVENTS.path(NS): quiet,
            CONFIGMAPS.path("deckhand"): records,
        }
    )
    return KubeClient(MockTransport(script))


async def test_a_pod_deleted_during_a_410_is_forgotten_from_what_the_view_left_of_it() -> None:
    kube = _world(
        (
            [listed([_pod("api-7d9c-a", "5")], "5"), listed([], "9")],
            [
                Canned(events=[{"type": "MODIFIED", "object": _pod("api-7d9c-a", "6")}]),
                Canned(events=[gone("6")]),
            ],
        ),
        ([listed([], "1")], []),
    )
    view = ClusterView(kube, namespaces=(NS,), deckhand_namespace="deckhand")
    await view.sync()
    assert [f.pod for f in view.failures()] == ["api-7d9c-a"]
    async with background(view.streams()):
        await wait_until(lambda: not view.pods, within_s=5, what="the pod forgotten")


def _record(version: str) -> dict[str, Any]:
    record = DeployRecord(
        id="d42",
        who="U1",
        when=datetime(2026, 12, 4, tzinfo=UTC),
        env="prod",
        namespace=NS,
        tag="deadbee",
        targets=(TargetRecord("api", "api", "api", IMAGE),),
    )
    obj = to_configmap(record, namespace="deckhand")
    obj["metadata"]["resourceVersion"] = version
    return obj


async def test_a_record_deleted_during_a_410_is_no_longer_in_flight() -> None:
    kube = _world(
        ([listed([], "1")], []),
        (
            [listed([_record("5")], "5"), listed([], "9")],
            [
                Canned(events=[{"type": "MODIFIED", "object": _record("6")}]),
                Canned(events=[gone("6")]),
            ],
        ),
    )
    view = ClusterView(kube, namespaces=(NS,), deckhand_namespace="deckhand")
    await view.sync()
    assert list(view.in_flight) == ["d42"]
    async with background(view.streams()):
        await wait_until(lambda: not view.in_flight, within_s=5, what="the record gone")
