"""kubernetes-asyncio (the bot's client library) against the sandbox apiserver.

Covers: loading the sandbox's kubeconfig, list/get/create/delete with typed
models, ApiException codes, all three patch types (a dict body is a strategic
merge patch, a list is a JSON patch, a merge patch needs `_content_type`),
the status and scale subresources, pod logs, watches that the server ends after
`timeout_seconds` and that the client resumes from the last resourceVersion
without losing or repeating events, and the 410-then-relist recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.cluster.resources import CONFIGMAPS, DEPLOYMENTS, PODS
from sandbox.cluster.server import SandboxCluster


@pytest.fixture
def sandbox_controllers() -> bool:
    """API only: no controller changes the store behind the test's back."""
    return False


def deployment_body(name: str = "api") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "api", "image": "api:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "proxy", "image": "proxy:1"},
                    ]
                },
            },
        },
    }


async def api_client(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture
async def api(sandbox_cluster: SandboxCluster, kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    async with await api_client(kubeconfig) as api_client_:
        yield api_client_


async def test_list_get_create_delete(
    api: client.ApiClient, sandbox_cluster: SandboxCluster
) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespaces = await core.list_namespace()
    assert [n.metadata.name for n in namespaces.items] == ["default", "kube-public", "kube-system"]
    created = await apps.create_namespaced_deployment("default", deployment_body())
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    got = await apps.read_namespaced_deployment("api", "default")
    assert got.metadata.uid == created.metadata.uid
    listed = await apps.list_namespaced_deployment("default", label_selector="app=api")
    assert [d.metadata.name for d in listed.items] == ["api"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)

    with pytest.raises(ApiException) as caught:
        await apps.create_namespaced_deployment("default", deployment_body())
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        await apps.read_namespaced_deployment("nope", "default")
    assert caught.value.status == 404

    status = await apps.delete_namespaced_deployment("api", "default")
    assert status.status == "Success"
    assert sandbox_cluster.store.list(DEPLOYMENTS)[0] == []


async def test_the_three_patch_types(
    api: client.ApiClient, sandbox_cluster: SandboxCluster
) -> None:
    apps = client.AppsV1Api(api)
    await apps.create_namespaced_deployment("default", deployment_body())

    # a dict body is a strategic merge patch: containers merge by name
    strategic = await apps.patch_namespaced_deployment(
        "api",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:2"}]}}}},
    )
    images = [(c.name, c.image) for c in strategic.spec.template.spec.containers]
    assert images == [("api", "api:2"), ("proxy", "proxy:1")]
    assert strategic.spec.template.spec.containers[0].env[0].name == "A"
    assert strategic.metadata.generation == 2

    # a list body is a JSON patch
    json_patched = await apps.patch_namespaced_deployment(
        "api",
        "default",
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/annotations", "value": {"team": "core"}},
        ],
    )
    assert json_patched.spec.replicas == 3
    assert json_patched.metadata.annotations == {"team": "core"}

    # a merge patch replaces lists whole and deletes with null
    merged = await apps.patch_namespaced_deployment(
        "api",
        "default",
        {
            "metadata": {"annotations": {"team": None}},
            "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:3"}]}}},
        },
        _content_type="application/merge-patch+json",
    )
    assert [c.name for c in merged.spec.template.spec.containers] == ["api"]
    assert merged.metadata.annotations is None

    with pytest.raises(ApiException) as caught:
        await apps.patch_namespaced_deployment(
            "api", "default", [{"op": "test", "path": "/spec/replicas", "value": 99}]
        )
    assert caught.value.status == 422
    stored = sandbox_cluster.store.get(DEPLOYMENTS, "default", "api")
    assert stored["spec"]["replicas"] == 3


async def test_status_and_scale_subresources(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    await apps.create_namespaced_deployment("default", deployment_body())
    status = await apps.patch_namespaced_deployment_status(
        "api", "default", {"status": {"observedGeneration": 1, "replicas": 1}}
    )
    assert status.status.observed_generation == 1
    assert status.metadata.generation == 1
    scale = await apps.patch_namespaced_deployment_scale(
        "api", "default", {"spec": {"replicas": 5}}
    )
    assert scale.spec.replicas == 5
    assert (await apps.read_namespaced_deployment_scale("api", "default")).status.selector == (
        "app=api"
    )
    assert (await apps.read_namespaced_deployment("api", "default")).spec.replicas == 5


async def test_pod_logs(api: client.ApiClient, sandbox_cluster: SandboxCluster) -> None:
    core = client.CoreV1Api(api)
    await core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "api-1"},
            "spec": {"containers": [{"name": "api", "image": "api:1"}]},
        },
    )
    for line in ("starting", "listening on :8080"):
        sandbox_cluster.store.append_log("default", "api-1", "api", line)
    text = await core.read_namespaced_pod_log("api-1", "default")
    assert text == "starting\nlistening on :8080\n"
    tail = await core.read_namespaced_pod_log("api-1", "default", container="api", tail_lines=1)
    assert tail == "listening on :8080\n"
    assert sandbox_cluster.store.get(PODS, "default", "api-1")["status"]["phase"] == "Pending"


async def test_pod_logs_follow_streams_new_lines_until_the_pod_goes(
    api: client.ApiClient, sandbox_cluster: SandboxCluster
) -> None:
    core = client.CoreV1Api(api)
    store = sandbox_cluster.store
    await core.create_namespaced_pod(
        "default",
        {"metadata": {"name": "api-1"}, "spec": {"containers": [{"name": "api", "image": "a"}]}},
    )
    store.append_log("default", "api-1", "api", "first")
    response = await core.read_namespaced_pod_log(
        "api-1", "default", follow=True, _preload_content=False
    )
    try:
        async with asyncio.timeout(5):
            assert await response.content.readline() == b"first\n"
            store.append_log("default", "api-1", "api", "second")
            assert await response.content.readline() == b"second\n"
            store.delete(PODS, "default", "api-1")
            assert await response.content.read() == b""  # the stream ends with the pod
    finally:
        response.release()


async def collect(
    api: client.ApiClient, rv: str, server_timeout: int, want: int | None = None
) -> tuple[list[tuple[str, str]], str]:
    """Watch configmaps from `rv` until the server ends the stream; the events and last rv."""
    core = client.CoreV1Api(api)
    seen: list[tuple[str, str]] = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=rv,
            timeout_seconds=server_timeout,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            rv = event["object"].metadata.resource_version
            if want is not None and len(seen) == want:
                break
    return seen, rv


async def test_watch_resumes_from_the_last_resource_version(
    api: client.ApiClient, sandbox_cluster: SandboxCluster
) -> None:
    core = client.CoreV1Api(api)
    store = sandbox_cluster.store
    listed = await core.list_namespaced_config_map("default")
    rv = listed.metadata.resource_version
    store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(30):  # a hang guard: only the server's timeout ends it
        seen, rv = await collect(api, rv, server_timeout=1)  # ended by the server after 1 s
    assert loop.time() - started > 0.9  # not before its timeout
    assert seen == [("ADDED", "a")]

    # changes while no watch is open are not lost: the next watch resumes from rv
    store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="default")
    store.mutate(CONFIGMAPS, "default", "a", lambda o: o.update(data={"k": "v"}))
    store.delete(CONFIGMAPS, "default", "b")
    seen, rv = await collect(api, rv, server_timeout=1)
    assert seen == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


async def test_watch_from_an_expired_resource_version_raises_410_then_relists(
    tmp_path: Path,
) -> None:
    async with SandboxCluster(history_limit=5, controllers=False) as cluster:
        path = cluster.write_kubeconfig(tmp_path / "small-history")
        async with await api_client(path) as api:
            core = client.CoreV1Api(api)
            old_rv = (await core.list_namespaced_config_map("default")).metadata.resource_version
            cluster.store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
            for i in range(10):
                cluster.store.mutate(
                    CONFIGMAPS, "default", "a", lambda o, i=i: o.update(data={"i": str(i)})
                )
            with pytest.raises(ApiException) as caught:
                await collect(api, old_rv, server_timeout=1)
            assert caught.value.status == 410
            assert "Expired: too old resource version" in caught.value.reason

            fresh = await core.list_namespaced_config_map("default")
            assert [c.data for c in fresh.items] == [{"i": "9"}]
            cluster.store.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="default")
            seen, _ = await collect(api, fresh.metadata.resource_version, server_timeout=5, want=1)
            assert seen == [("ADDED", "b")]


async def test_watch_with_a_selector_and_initial_state(
    api: client.ApiClient, sandbox_cluster: SandboxCluster
) -> None:
    store = sandbox_cluster.store
    for name, app in (("api-1", "api"), ("web-1", "web")):
        store.create(
            PODS,
            {
                "metadata": {"name": name, "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            namespace="default",
        )
    core = client.CoreV1Api(api)
    seen: list[tuple[str, str]] = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            core.list_namespaced_pod, "default", label_selector="app=api", timeout_seconds=2
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 1:
                store.create(
                    PODS,
                    {
                        "metadata": {"name": "api-2", "labels": {"app": "api"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                    namespace="default",
                )
            if len(seen) == 2:
                break
    assert seen == [("ADDED", "api-1"), ("ADDED", "api-2")]


async def test_an_idle_watch_that_allows_bookmarks_gets_them(tmp_path: Path) -> None:
    async with SandboxCluster(controllers=False, bookmark_interval=0.2) as cluster:
        path = cluster.write_kubeconfig(tmp_path / "bookmarks")
        cluster.store.create(CONFIGMAPS, {"metadata": {"name": "a"}}, namespace="default")
        async with await api_client(path) as api:
            core = client.CoreV1Api(api)
            seen: list[tuple[str, str]] = []
            async with watch.Watch() as stream:
                async for event in stream.stream(
                    core.list_namespaced_config_map,
                    "default",
                    timeout_seconds=3,
                    allow_watch_bookmarks=True,
                ):
                    rv = event["raw_object"]["metadata"]["resourceVersion"]
                    seen.append((event["type"], rv))
                    if event["type"] == "BOOKMARK":
                        break
            assert seen[0][0] == "ADDED"
            assert seen[-1] == ("BOOKMARK", cluster.store.resource_version)
            assert stream.resource_version == cluster.store.resource_version
