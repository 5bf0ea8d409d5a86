"""bot.kube.client's compare-and-swap from the last version seen, and the list-free watch,
against the sandbox API server (requests counted by route, `ApiServer.served`).

Covers: a second `update` of an object this client wrote is one PUT (no GET); a version
someone else changed since is a 409, then a fresh read and the change asked again; a
change that declines (None) or refuses (raises) on a remembered version is asked again on
a fresh read before it counts; `missing=` creates what isn't there (one POST when the
client's last read said it wasn't); a patch carrying a stale resourceVersion is refused
(409, not retried); `watch(list_first=False)` opens with no list and no resourceVersion,
its first events the current state.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, NotFound
from bot.kube.kinds import CONFIGMAPS, KubeObject
from bot.kube.watch import WatchEvent, watch
from sandbox.cluster import resources
from sandbox.cluster.server import SandboxCluster

NS = "deckhand"


def configmap(name: str, **data: str) -> KubeObject:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def routes(cluster: SandboxCluster) -> Counter[str]:
    return Counter({route: n for (_, route), n in cluster.api.served.items()})


def since(cluster: SandboxCluster, before: Counter[str]) -> dict[str, int]:
    now = routes(cluster)
    now.subtract(before)
    return dict(+now)


def bump(obj: KubeObject) -> KubeObject:
    obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
    return obj


async def test_an_update_after_a_write_is_one_put(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.create(CONFIGMAPS, configmap("c", n="0"), namespace=NS)
    before = routes(kube_cluster)
    await kube.update(CONFIGMAPS, "c", bump, namespace=NS)
    updated = await kube.update(CONFIGMAPS, "c", bump, namespace=NS)
    assert updated["data"]["n"] == "2"
    assert since(kube_cluster, before) == {"PUT configmaps": 2}


async def test_a_version_changed_since_is_read_again(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.create(CONFIGMAPS, configmap("c", n="0"), namespace=NS)

    def other(o: dict[str, Any]) -> None:
        o["data"]["n"] = "10"

    kube_cluster.store.mutate(resources.CONFIGMAPS, NS, "c", other)  # someone else writes
    before = routes(kube_cluster)
    updated = await kube.update(CONFIGMAPS, "c", bump, namespace=NS)
    assert updated["data"]["n"] == "11"  # nothing lost
    assert since(kube_cluster, before) == {"PUT configmaps": 2, "GET configmaps": 1}


@pytest.mark.parametrize("declines", ["none", "raises"])
async def test_a_decision_on_a_remembered_version_is_made_again_on_a_fresh_read(
    kube: KubeClient, kube_cluster: SandboxCluster, declines: str
) -> None:
    await kube.create(CONFIGMAPS, configmap("c", n="0", owner="me"), namespace=NS)

    def other(o: dict[str, Any]) -> None:
        o["data"]["owner"] = "them"

    kube_cluster.store.mutate(resources.CONFIGMAPS, NS, "c", other)
    asked: list[str] = []

    def take(obj: KubeObject) -> KubeObject | None:
        asked.append(obj["data"]["owner"])
        if obj["data"]["owner"] == "me":  # what this client last saw: stale
            if declines == "raises":
                raise LookupError("mine already")
            return None
        obj["data"]["owner"] = "me"
        return obj

    taken = await kube.update(CONFIGMAPS, "c", take, namespace=NS)
    assert asked == ["me", "them"]
    assert taken["data"]["owner"] == "me"


async def test_missing_creates_what_is_not_there(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    with pytest.raises(NotFound):
        await kube.get(CONFIGMAPS, "new", namespace=NS)
    before = routes(kube_cluster)
    made = await kube.update(CONFIGMAPS, "new", bump, namespace=NS, missing=configmap("new", n="0"))
    assert made["data"]["n"] == "0"
    assert since(kube_cluster, before) == {"POST configmaps": 1}
    again = await kube.update(
        CONFIGMAPS, "new", bump, namespace=NS, missing=configmap("new", n="0")
    )
    assert again["data"]["n"] == "1"
    with pytest.raises(NotFound):
        await kube.update(CONFIGMAPS, "absent", bump, namespace=NS)


async def test_a_patch_on_a_stale_version_is_refused(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    first = await kube.create(CONFIGMAPS, configmap("p", n="0"), namespace=NS)
    await kube.update(CONFIGMAPS, "p", bump, namespace=NS)
    before = routes(kube_cluster)
    merge = "application/merge-patch+json"
    with pytest.raises(Conflict):
        await kube.patch(
            CONFIGMAPS,
            "p",
            {"data": {"n": "9"}},
            namespace=NS,
            content_type=merge,
            resource_version=first["metadata"]["resourceVersion"],
        )
    assert since(kube_cluster, before) == {"PATCH configmaps": 1}  # refused once, not retried
    current = kube.known(CONFIGMAPS, "p", namespace=NS)
    assert current is not None
    patched = await kube.patch(
        CONFIGMAPS,
        "p",
        {"data": {"n": "9"}},
        namespace=NS,
        content_type=merge,
        resource_version=current["metadata"]["resourceVersion"],
    )
    assert patched["data"]["n"] == "9"


async def test_a_watch_without_a_list_starts_with_the_current_state(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.create(CONFIGMAPS, configmap("w1", n="0"), namespace=NS)
    await kube.create(CONFIGMAPS, configmap("w2", n="0"), namespace=NS)
    before = routes(kube_cluster)
    seen: list[WatchEvent] = []
    events = watch(kube, CONFIGMAPS, namespace=NS, list_first=False)
    async with asyncio.timeout(10):
        async for event in events:
            seen.append(event)
            if len(seen) == 2:
                await kube.update(CONFIGMAPS, "w1", bump, namespace=NS)
            if len(seen) == 3:
                break
    await events.aclose()
    assert [(e.type, e.object["metadata"]["name"]) for e in seen] == [
        ("ADDED", "w1"),
        ("ADDED", "w2"),
        ("MODIFIED", "w1"),
    ]
    assert since(kube_cluster, before) == {"GET configmaps watch": 1, "PUT configmaps": 1}
