"""ClusterView against the sandbox apiserver, with pods written straight into its store
on a node no kubelet runs (so their statuses are exactly what the test says):

- the first sync reads pods, events and deploy records; the view is complete after it;
- the workload is the ReplicaSet's owning Deployment; a ReplicaSet that can't be read
  falls back to its name minus the pod-template-hash;
- a back-off without words takes its cause from the pod's `Failed` pull event;
- watch robustness in this context: changes after the server ended the watch connection
  (timeoutSeconds) are seen; after a `410 Gone` re-list, pods deleted while the watch
  was away are forgotten; pods of in-flight deploy records are skipped, and so are the
  pods of Deckhand's own failed deploy (its thread told it) until a newer record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.watcher import ClusterView
from bot.kube.client import KubeClient
from bot.rollout.records import DeployRecord, Records, TargetRecord
from bot.tasks import background
from commands.diagnosis import Cause
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import CONFIGMAPS, EVENTS, PODS, REPLICASETS
from sandbox.cluster.server import SandboxCluster
from tests.bot.alerts.harness import wait_until
from tests.fixtures.cluster import watches

NS = "honeydue"
IMAGE = "127.0.0.1:1/admin/honeydue-api:deadbee"
NOT_FOUND = f'failed to resolve reference "{IMAGE}": {IMAGE}: not found'


def anchor(cluster: SandboxCluster) -> str:
    """The uid of an object that stays: owners must exist, or the store's garbage
    collector deletes their dependents at once."""
    try:
        return str(cluster.store.get(CONFIGMAPS, NS, "anchor")["metadata"]["uid"])
    except ApiError:
        made = cluster.store.create(CONFIGMAPS, {"metadata": {"name": "anchor"}}, namespace=NS)
        return str(made["metadata"]["uid"])


def put_rs(cluster: SandboxCluster, name: str, deployment: str, deploy_id: str = "") -> None:
    annotations = {"deckhand.dev/deploy-id": deploy_id} if deploy_id else {}
    cluster.store.create(
        REPLICASETS,
        {
            "metadata": {
                "name": name,
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": deployment,
                        "uid": anchor(cluster),
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": deployment}},
                "template": {
                    "metadata": {"labels": {"app": deployment}},
                    "spec": {"containers": [{"name": "api", "image": IMAGE}]},
                },
            },
        },
        namespace=NS,
    )


def put_pod(
    cluster: SandboxCluster, name: str, rs: str, reason: str = "ErrImagePull", message: str = ""
) -> dict[str, Any]:
    # Owned by name only (the uid is the anchor's): the ReplicaSet controller leaves it be.
    owner = anchor(cluster)
    cluster.store.create(
        PODS,
        {
            "metadata": {
                "name": name,
                "labels": {"pod-template-hash": rs.rsplit("-", 1)[1]},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs,
                        "uid": owner,
                        "controller": True,
                    }
                ],
            },
            "spec": {"nodeName": "ghost-node", "containers": [{"name": "api", "image": IMAGE}]},
        },
        namespace=NS,
    )
    status = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "api",
                "image": IMAGE,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ],
    }
    return cluster.store.mutate(
        PODS, NS, name, lambda p: p.__setitem__("status", status), subresource="status"
    )


def put_event(cluster: SandboxCluster, pod: str, message: str) -> None:
    cluster.store.create(
        EVENTS,
        {
            "metadata": {"name": f"{pod}.1"},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": NS},
            "reason": "Failed",
            "type": "Warning",
            "message": message,
        },
        namespace=NS,
    )


@pytest.fixture
def view(kube: KubeClient) -> ClusterView:
    return ClusterView(kube, namespaces=(NS,), deckhand_namespace="deckhand")


async def test_sync_reads_the_cluster_and_names_workloads(
    kube_cluster: SandboxCluster, view: ClusterView
) -> None:
    put_rs(kube_cluster, "api-7d9c", "api")
    put_pod(kube_cluster, "api-7d9c-a", "api-7d9c", message=NOT_FOUND)
    put_pod(kube_cluster, "orphan-5f5f-a", "orphan-5f5f", message=NOT_FOUND)  # no such RS
    await view.sync()
    keys = sorted((f.key.workload, f.key.cause, f.pod, f.node) for f in view.failures())
    assert keys == [
        ("api", Cause.TAG_NOT_FOUND, "api-7d9c-a", "ghost-node"),
        ("orphan", Cause.TAG_NOT_FOUND, "orphan-5f5f-a", "ghost-node"),
    ]
    assert view.pulling() == {(NS, "api", IMAGE), (NS, "orphan", IMAGE)}


async def test_backoff_cause_comes_from_the_failed_event(
    kube_cluster: SandboxCluster, view: ClusterView
) -> None:
    put_rs(kube_cluster, "api-7d9c", "api")
    put_event(kube_cluster, "api-7d9c-a", f'Failed to pull image "{IMAGE}": 401 Unauthorized')
    put_pod(kube_cluster, "api-7d9c-a", "api-7d9c", "ImagePullBackOff", "Back-off pulling image")
    await view.sync()
    [failure] = view.failures()
    assert failure.key.cause is Cause.PULL_AUTH
    assert "401 Unauthorized" in failure.message


async def test_changes_after_the_server_ends_the_watch_are_seen(
    kube_cluster: SandboxCluster, view: ClusterView
) -> None:
    put_rs(kube_cluster, "api-7d9c", "api")
    await view.sync()
    async with background(view.streams()):
        # The `kube` fixture asks for 2 s watches: once the server ended the first one,
        # the view watches again (a second pods watch opened).
        await wait_until(
            lambda: watches(kube_cluster, "pods") >= 2,
            within_s=20,
            what="the pods watch reconnected",
        )
        put_pod(kube_cluster, "api-7d9c-a", "api-7d9c", message=NOT_FOUND)
        await wait_until(lambda: len(view.failures()) == 1, within_s=5, what="the new pod")
        kube_cluster.store.delete(PODS, NS, "api-7d9c-a")
        await wait_until(lambda: not view.failures(), within_s=5, what="the pod gone")


async def test_after_410_pods_deleted_meanwhile_are_forgotten(
    kube_cluster: SandboxCluster, view: ClusterView
) -> None:
    put_rs(kube_cluster, "api-7d9c", "api")
    put_pod(kube_cluster, "api-7d9c-a", "api-7d9c", message=NOT_FOUND)
    put_pod(kube_cluster, "api-7d9c-b", "api-7d9c", message=NOT_FOUND)
    await view.sync()
    assert len(view.failures()) == 2
    # While nobody watches: one pod goes, and the history the watch would resume from
    # is compacted away, so resuming answers 410 Gone and `bot.kube.watch` re-lists.
    kube_cluster.store._history_limit = 1
    kube_cluster.store.delete(PODS, NS, "api-7d9c-a")
    kube_cluster.store.create(EVENTS, {"metadata": {"name": "x"}, "reason": "y"}, namespace=NS)
    async with background(view.streams()):
        await wait_until(
            lambda: [f.pod for f in view.failures()] == ["api-7d9c-b"],
            within_s=5,
            what="the deleted pod forgotten after the re-list",
        )


async def test_pods_of_in_flight_deploys_are_skipped(
    kube_cluster: SandboxCluster, kube: KubeClient, view: ClusterView
) -> None:
    put_rs(kube_cluster, "api-7d9c", "api", deploy_id="d42")
    put_rs(kube_cluster, "admin-5f5f", "admin")
    put_pod(kube_cluster, "api-7d9c-a", "api-7d9c", message=NOT_FOUND)
    put_pod(kube_cluster, "admin-5f5f-a", "admin-5f5f", message=NOT_FOUND)
    records = Records(kube, "deckhand")
    record = DeployRecord(
        id="d42",
        who="U1",
        when=datetime.now(UTC),
        env="prod",
        namespace=NS,
        tag="deadbee",
        targets=(TargetRecord("api", "api", "api", IMAGE),),
    )
    await records.create(record)
    await view.sync()
    assert [f.key.workload for f in view.failures()] == ["admin"]
    async with background(view.streams()):
        await records.finish("d42", phase=record.phase.FAILED, result="", cause="", duration_s=1)
        await wait_until(
            lambda: not view.in_flight and (NS, "api") in view.latest,
            within_s=5,
            what="the record finished",
        )
        # Deckhand's own failed deploy was told in its thread: no separate alert.
        assert [f.key.workload for f in view.failures()] == ["admin"]
        await records.create(replace(record, id="d43", phase=record.phase.SUCCEEDED))
        await wait_until(
            lambda: view.latest[(NS, "api")].id == "d43", within_s=5, what="a newer record"
        )
        assert len(view.failures()) == 2  # a later change made it someone else's failure
