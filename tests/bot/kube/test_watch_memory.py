"""What `bot.kube.watch` remembers of the objects it yielded: only their identity.

It must remember something (after a `410 Gone` re-list it tells what vanished as
DELETED), but never the whole JSON: a pod with its managedFields is ~17 KB parsed, and
5,000 pods held whole for the watch's life were most of the process under churn
(docs/benchmarks.md). Canned answers at the network seam
(`bot.kube.transport.MockTransport`), no server: list a and b, a MODIFIED of a, a 410,
a re-list without a: the DELETED told for a carries its name, namespace, uid and
resourceVersion, and nothing of what it was yielded with.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.kinds import PODS
from bot.kube.transport import Canned, MockTransport, Sent, gone, listed
from bot.kube.watch import WatchEvent, watch

NS = "honeydue"
BULK = {"f:metadata": {"f:labels": {f"f:l{i}": {} for i in range(50)}}}


def pod(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "resourceVersion": version,
            "labels": {"app": "api"},
            "managedFields": [{"manager": "kubelet", "fieldsV1": BULK}],
        },
        "spec": {"containers": [{"name": "api", "image": "r/api:1"}]},
        "status": {"phase": "Running"},
    }


def script() -> MockTransport:
    lists = [listed([pod("a", "5"), pod("b", "5")], "5"), listed([pod("b", "5")], "9")]
    watches = [
        Canned(events=[{"type": "MODIFIED", "object": pod("a", "6")}]),
        Canned(events=[gone("6")]),
    ]

    def answer(sent: Sent) -> Canned:
        assert sent.path == PODS.path(NS)
        if "watch" not in sent.query:
            return lists.pop(0)
        return watches.pop(0)

    return MockTransport(answer)


async def test_a_delete_after_a_re_list_carries_only_the_identity_it_remembered() -> None:
    kube = KubeClient(script(), KubeOptions(reconnect_backoff_s=(0.0,)))
    got: list[WatchEvent] = []
    events = watch(kube, PODS, namespace=NS)
    async with contextlib.aclosing(events):
        async for event in events:
            got.append(event)
            if event.type == "DELETED":
                break
    assert [(e.type, e.object["metadata"]["name"]) for e in got] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    # What the watch kept of `a` is what names it, as last seen (the MODIFIED's version).
    assert got[-1].object == {
        "metadata": {"name": "a", "namespace": NS, "uid": "uid-a", "resourceVersion": "6"}
    }
    # What it yielded went out whole and is the caller's, untouched.
    assert "managedFields" in got[2].object["metadata"]
    assert got[2].object["status"] == {"phase": "Running"}
