"""A persistent watch across an API outage (`sandbox.faults.FaultyProxy` between the
client and the sandbox API server): it never raises while the API is unreachable (reset,
then refused), tells `on_contact` why and then that the API is back, re-lists, and
reports what changed meanwhile, a deletion included (as DELETED, from the re-list).
A watch that isn't persistent still gives up after its back-off list.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import Unreachable
from bot.kube.kinds import PODS, meta
from bot.kube.watch import WatchEvent, watch
from sandbox.cluster.resources import PODS as STORED_PODS
from sandbox.cluster.server import SandboxCluster
from sandbox.faults import FaultyProxy, point_kubeconfig


@pytest.fixture
async def proxied(
    kube_cluster: SandboxCluster, tmp_path: Path
) -> AsyncIterator[tuple[FaultyProxy, KubeClient]]:
    direct = kube_cluster.write_kubeconfig(tmp_path / "direct")
    async with FaultyProxy("127.0.0.1", kube_cluster.port) as proxy:
        path = point_kubeconfig(direct, proxy.url, into=tmp_path / "proxied")
        options = KubeOptions(
            request_timeout_s=2, watch_timeout_s=2, reconnect_backoff_s=(0.05, 0.1, 0.2)
        )
        async with KubeClient.from_kubeconfig(path, options=options) as kube:
            yield proxy, kube


def pod(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "honeydue", "labels": {"app": "api"}},
        "spec": {"containers": [{"name": "api", "image": "r/api:1"}]},
    }


async def test_a_persistent_watch_waits_out_an_outage_and_reports_what_changed(
    kube_cluster: SandboxCluster, proxied: tuple[FaultyProxy, KubeClient]
) -> None:
    proxy, kube = proxied
    store = kube_cluster.store
    store.create(STORED_PODS, pod("a"), namespace="honeydue")
    store.create(STORED_PODS, pod("b"), namespace="honeydue")
    told: list[str | None] = []
    failing = asyncio.Event()
    seen: asyncio.Queue[WatchEvent] = asyncio.Queue()

    def on_contact(why: str | None) -> None:
        told.append(why)
        if len([w for w in told if w]) >= 2:  # failed attempts, each told
            failing.set()

    async def read() -> None:
        events = watch(
            kube,
            PODS,
            namespace="honeydue",
            label_selector="app=api",
            persistent=True,
            on_contact=on_contact,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                await seen.put(event)

    async def next_event() -> tuple[str, str]:
        async with asyncio.timeout(10):
            event = await seen.get()
        return event.type, str(meta(event.object)["name"])

    async with asyncio.TaskGroup() as group:
        reader = group.create_task(read())
        assert {await next_event(), await next_event()} == {("ADDED", "a"), ("ADDED", "b")}
        await proxy.cut("reset")
        await proxy.cut("refuse")
        store.delete(STORED_PODS, "honeydue", "a")
        store.create(STORED_PODS, pod("c"), namespace="honeydue")
        async with asyncio.timeout(10):
            await failing.wait()
        assert all("can't reach the Kubernetes API" in str(w) for w in told)
        assert seen.empty()  # nothing invented while out of contact
        await proxy.restore()
        after = {await next_event() for _ in range(3)}
        assert after == {("DELETED", "a"), ("ADDED", "b"), ("ADDED", "c")}
        assert told[-1] is None  # back in contact
        reader.cancel()


async def test_a_watch_that_is_not_persistent_gives_up(
    proxied: tuple[FaultyProxy, KubeClient],
) -> None:
    proxy, kube = proxied
    await proxy.cut("refuse")
    events = watch(kube, PODS, namespace="honeydue")
    async with contextlib.aclosing(events):
        with pytest.raises(Unreachable):
            await anext(events)
