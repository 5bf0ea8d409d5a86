"""bot.kube against the sandbox API server: verbs, compare-and-swap, error translation, watches.

Covers: get/list/patch/create/update round trips; lists in chunks (`limit`/`continue`);
writes named `deckhand` in managedFields; a 409 on `update` retried with a
fresh read; 403 naming verb, resource and namespace; 404; an unreachable server named
with its URL; pod logs; access reviews; the watch listing first, reconnecting after
server timeouts and re-listing after 410.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import BadKubeconfig, Forbidden, NotFound, Unreachable
from bot.kube.kinds import CONFIGMAPS, DEPLOYMENTS, KubeObject
from bot.kube.transport import ApiTransport
from bot.kube.watch import WatchEvent, watch
from sandbox.cluster import resources
from sandbox.cluster.server import SandboxCluster
from tests.fixtures.cluster import watches


def configmap(name: str, **data: str) -> KubeObject:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_create_get_list_delete(kube: KubeClient) -> None:
    await kube.create(CONFIGMAPS, configmap("a", x="1"), namespace="deckhand")
    got = await kube.get(CONFIGMAPS, "a", namespace="deckhand")
    assert got["data"] == {"x": "1"}
    listed = await kube.list(CONFIGMAPS, namespace="deckhand")
    assert [i["metadata"]["name"] for i in listed.items] == ["a"]
    assert listed.resource_version
    await kube.delete(CONFIGMAPS, "a", namespace="deckhand")
    with pytest.raises(NotFound) as caught:
        await kube.get(CONFIGMAPS, "a", namespace="deckhand")
    assert caught.value.sentence() == 'configmap "a" not found in deckhand'


async def test_writes_are_recorded_under_the_deckhand_field_manager(kube: KubeClient) -> None:
    await kube.create(CONFIGMAPS, configmap("m", x="1"), namespace="deckhand")
    patched = await kube.patch(CONFIGMAPS, "m", {"data": {"x": "2"}}, namespace="deckhand")
    assert {e["manager"] for e in patched["metadata"]["managedFields"]} == {"deckhand"}


async def test_big_lists_arrive_in_chunks_with_the_first_chunks_version(
    kube: KubeClient,
) -> None:
    for n in range(7):
        await kube.create(CONFIGMAPS, configmap(f"c{n}", x=str(n)), namespace="deckhand")
    pages = [p async for p in kube.pages(CONFIGMAPS, namespace="deckhand", limit=3)]
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert len({p.resource_version for p in pages}) == 1
    listed = await kube.list(CONFIGMAPS, namespace="deckhand")
    names = [i["metadata"]["name"] for i in listed.items]
    assert names == [f"c{n}" for n in range(7)]
    assert listed.resource_version == pages[0].resource_version


async def test_update_retries_a_conflict_with_a_fresh_read(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.create(CONFIGMAPS, configmap("c", n="0"), namespace="deckhand")
    calls = 0

    def bump(obj: KubeObject) -> KubeObject:
        nonlocal calls
        calls += 1
        if calls == 1:  # someone else writes between our read and our write

            def other(o: dict[str, Any]) -> None:
                o["data"]["n"] = "10"

            kube_cluster.store.mutate(resources.CONFIGMAPS, "deckhand", "c", other)
        obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
        return obj

    updated = await kube.update(CONFIGMAPS, "c", bump, namespace="deckhand")
    assert calls == 2
    assert updated["data"]["n"] == "11"


async def test_forbidden_names_verb_resource_namespace(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    kube_cluster.deny("patch", "deployments", "honeydue")
    with pytest.raises(Forbidden) as caught:
        await kube.patch(DEPLOYMENTS, "api", {"spec": {}}, namespace="honeydue")
    assert caught.value.sentence() == (
        "Deckhand's service account may not patch deployments in honeydue"
    )
    assert not await kube.can_i("patch", "deployments", namespace="honeydue", group="apps")
    assert await kube.can_i("get", "deployments", namespace="honeydue", group="apps")


async def test_unreachable_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from kubernetes_asyncio.client import ApiClient, Configuration

    configuration = type.__call__(Configuration)
    configuration.host = f"http://127.0.0.1:{port}"
    async with ApiClient(configuration) as api:
        kube = KubeClient(ApiTransport(api), KubeOptions(request_timeout_s=2))
        with pytest.raises(Unreachable) as caught:
            await kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    sentence = caught.value.sentence()
    assert sentence.startswith(f"can't reach the Kubernetes API at http://127.0.0.1:{port}: ")


async def _collect(events: Any, until: int, out: list[WatchEvent]) -> None:
    async with contextlib.aclosing(events):
        async for event in events:
            out.append(event)
            if len(out) >= until:
                return


async def test_watch_lists_then_follows_across_reconnects(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.create(CONFIGMAPS, configmap("w", n="0"), namespace="deckhand")
    seen: list[WatchEvent] = []
    events = watch(kube, CONFIGMAPS, namespace="deckhand", field_selector="metadata.name=w")
    async with asyncio.timeout(15):
        collector = asyncio.ensure_future(_collect(events, 3, seen))
        try:
            # The server ends each watch after 2 s: wait until the watch was opened again.
            while watches(kube_cluster, "configmaps") < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            for n in ("1", "2"):
                await kube.patch(
                    CONFIGMAPS,
                    "w",
                    {"data": {"n": n}},
                    namespace="deckhand",
                    content_type="application/merge-patch+json",
                )
            await collector
        finally:
            collector.cancel()
    assert [(e.type, e.object["data"]["n"]) for e in seen] == [
        ("ADDED", "0"),
        ("MODIFIED", "1"),
        ("MODIFIED", "2"),
    ]


async def test_watch_relists_after_410(kube: KubeClient, kube_cluster: SandboxCluster) -> None:
    first = await kube.create(CONFIGMAPS, configmap("g", n="0"), namespace="deckhand")
    old_rv = first["metadata"]["resourceVersion"]
    kube_cluster.store._history_limit = 2  # a tiny history: old resourceVersions expire
    for n in range(5):
        await kube.create(CONFIGMAPS, configmap(f"filler{n}"), namespace="deckhand")
    seen: list[WatchEvent] = []
    events = watch(kube, CONFIGMAPS, namespace="deckhand", resource_version=old_rv)
    async with asyncio.timeout(10):
        await _collect(events, 6, seen)
    assert {e.object["metadata"]["name"] for e in seen} == {"g", *(f"filler{n}" for n in range(5))}


async def test_missing_kubeconfig_is_named(tmp_path: Any) -> None:
    path = tmp_path / "nope"
    with pytest.raises(BadKubeconfig) as caught:
        async with KubeClient.from_kubeconfig(path):
            pass
    assert caught.value.sentence().startswith(
        f"Deckhand can't load its Kubernetes credentials from {path}: "
    )
