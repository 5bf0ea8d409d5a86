"""A watch connection that goes silent (a dead TCP path: no FIN, no data) is detected
by the client read timeout and reopened from the last resourceVersion; nothing hangs.

The server here is a minimal stand-in that can do what the sandbox never does on
purpose: accept a watch and then say nothing at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.kinds import PODS
from bot.kube.watch import watch


def pod(name: str, rv: str) -> dict[str, object]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class SilentThenLively:
    """Lists one pod; the first watch goes silent forever, the next one sends an event."""

    def __init__(self) -> None:
        self.watches: list[str] = []
        self.release = asyncio.Event()

    async def pods(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") not in ("1", "true"):
            return web.json_response(
                {"kind": "PodList", "metadata": {"resourceVersion": "5"}, "items": [pod("a", "5")]}
            )
        self.watches.append(request.query.get("resourceVersion", ""))
        response = web.StreamResponse()
        await response.prepare(request)
        if len(self.watches) == 1:
            await self.release.wait()  # silent: headers sent, then nothing
            return response
        event = {"type": "ADDED", "object": pod("b", "6")}
        await response.write(json.dumps(event).encode() + b"\n")
        await self.release.wait()
        return response


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[SilentThenLively, Path]]:
    stand_in = SilentThenLively()
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/ns/pods", stand_in.pods)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    try:
        yield stand_in, kubeconfig
    finally:
        stand_in.release.set()
        await runner.cleanup()


async def test_a_silent_watch_is_reopened_from_the_last_resource_version(
    server: tuple[SilentThenLively, Path],
) -> None:
    stand_in, kubeconfig = server
    options = KubeOptions(watch_read_timeout_s=0.3, reconnect_backoff_s=(0.05,) * 5)
    seen: list[str] = []
    async with (
        KubeClient.from_kubeconfig(kubeconfig, options=options) as kube,
        asyncio.timeout(10),
        contextlib.aclosing(watch(kube, PODS, namespace="ns")) as events,
    ):
        async for event in events:
            seen.append(event.object["metadata"]["name"])
            if len(seen) == 2:
                break
    assert seen == ["a", "b"]
    assert stand_in.watches[:2] == ["5", "5"]  # reopened from the listed resourceVersion
