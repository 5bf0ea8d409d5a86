"""The Deployment and ReplicaSet controllers on a running sandbox cluster (speed 50).

Covers: a first rollout (one ReplicaSet `<deploy>-<hash>` owned by the Deployment,
revision 1, pods `<rs>-<5 chars>` with the hash label, conditions and events); a
rolling update pod by pod within maxSurge 1 / maxUnavailable 0, seen as the real
`ScalingReplicaSet` event sequence; Recreate (old pods gone before a new one is
made); pause and resume; scaling; revisionHistoryLimit; minReadySeconds;
ProgressDeadlineExceeded on a missing tag; deleting a Deployment (its ReplicaSets
and pods go, pods gracefully).
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster.controllers import texts
from sandbox.cluster.resources import DEPLOYMENTS
from tests.sandbox.controllers_harness import GOOD, MISSING, OTHER, THIRD, Harness, harness

Obj = dict[str, Any]


def scaling_messages(h: Harness) -> list[str]:
    return [e["message"] for e in h.events(reason="ScalingReplicaSet")]


def condition(d: Obj, kind: str) -> Obj:
    return next(c for c in d["status"]["conditions"] if c["type"] == kind)


async def test_first_rollout_creates_one_replica_set_and_its_pods() -> None:
    async with harness() as h:
        created = h.deploy(replicas=3)
        d = await h.until(h.rolled_out)
        (rs,) = h.replica_sets()
        pod_hash = rs["metadata"]["labels"][texts.POD_TEMPLATE_HASH]
        assert rs["metadata"]["name"] == f"api-{pod_hash}"
        owner = rs["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Deployment",
            created["metadata"]["uid"],
            True,
        )
        assert rs["metadata"]["annotations"][texts.REVISION] == "1"
        assert rs["metadata"]["annotations"][texts.DESIRED_REPLICAS] == "3"
        assert rs["metadata"]["annotations"][texts.MAX_REPLICAS] == "4"
        assert d["metadata"]["annotations"][texts.REVISION] == "1"
        assert rs["status"] == {
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "observedGeneration": 1,
        }
        pods = h.pods()
        assert len(pods) == 3
        for pod in pods:
            name = pod["metadata"]["name"]
            assert name.startswith(f"api-{pod_hash}-")
            assert len(name) == len(f"api-{pod_hash}-") + 5
            assert pod["metadata"]["labels"][texts.POD_TEMPLATE_HASH] == pod_hash
            assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-2", "node-3"]
        assert {
            k: d["status"][k]
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        } == dict.fromkeys(("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"), 3)
        assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
        progressing = condition(d, "Progressing")
        assert (progressing["reason"], progressing["message"]) == (
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
        )
        assert scaling_messages(h) == [
            f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"
        ]
        created_events = h.events(reason="SuccessfulCreate")
        assert sorted(e["message"] for e in created_events) == sorted(
            f"Created pod: {p['metadata']['name']}" for p in pods
        )


async def test_rolling_update_goes_pod_by_pod_within_surge_and_unavailability() -> None:
    async with harness() as h:
        h.deploy(
            replicas=3,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
        )
        await h.until(h.rolled_out)
        (old,) = h.replica_sets()
        worst: dict[str, int] = {"most_pods": 0, "least_available": 3}

        def watch_rollout() -> Obj | None:
            worst["most_pods"] = max(worst["most_pods"], len(h.pods()))
            ready = sum(
                1
                for p in h.pods()
                for c in p["status"].get("conditions", [])
                if c["type"] == "Ready" and c["status"] == "True"
            )
            worst["least_available"] = min(worst["least_available"], ready)
            return h.rolled_out() if len(h.replica_sets()) == 2 else None

        h.set_image(OTHER)
        d = await h.until(watch_rollout)
        new = next(rs for rs in h.replica_sets() if rs["metadata"]["uid"] != old["metadata"]["uid"])
        o, n = old["metadata"]["name"], new["metadata"]["name"]
        assert scaling_messages(h) == [
            f"Scaled up replica set {o} from 0 to 3",
            f"Scaled up replica set {n} from 0 to 1",
            f"Scaled down replica set {o} from 3 to 2",
            f"Scaled up replica set {n} from 1 to 2",
            f"Scaled down replica set {o} from 2 to 1",
            f"Scaled up replica set {n} from 2 to 3",
            f"Scaled down replica set {o} from 1 to 0",
        ]
        assert worst == {"most_pods": 4, "least_available": 3}
        assert new["metadata"]["annotations"][texts.REVISION] == "2"
        assert d["metadata"]["annotations"][texts.REVISION] == "2"
        assert [c["image"] for p in h.pods() for c in p["spec"]["containers"]] == [
            h.image(OTHER)
        ] * 3
        # Killed pods went gracefully: Killing events from the kubelet.
        assert len(h.events(reason="Killing")) == 3


async def test_recreate_removes_every_old_pod_before_making_new_ones() -> None:
    async with harness() as h:
        h.deploy(replicas=2, strategy={"type": "Recreate"})
        await h.until(h.rolled_out)
        old_names = {p["metadata"]["name"] for p in h.pods()}
        overlap: list[bool] = []

        def watch() -> Obj | None:
            names = {p["metadata"]["name"] for p in h.pods(terminating=True)}
            overlap.append(bool(names & old_names) and bool(names - old_names))
            return h.rolled_out() if len(h.replica_sets()) == 2 else None

        h.set_image(OTHER)
        await h.until(watch)
        assert not any(overlap)
        messages = scaling_messages(h)
        assert messages[1].startswith("Scaled down replica set")
        assert messages[1].endswith("2 to 0")
        assert messages[2].endswith("from 0 to 2")


async def test_pause_holds_a_template_change_until_resumed() -> None:
    async with harness() as h:
        h.deploy(replicas=2)
        await h.until(h.rolled_out)

        def pause(d: Obj) -> None:
            d["spec"]["paused"] = True

        h.store.mutate(DEPLOYMENTS, "default", "api", pause)
        h.set_image(OTHER)

        def paused() -> Obj | None:
            d = h.deployment()
            cond = next(
                (c for c in d["status"].get("conditions", []) if c["type"] == "Progressing"), {}
            )
            return d if cond.get("reason") == "DeploymentPaused" else None

        d = await h.until(paused)
        assert condition(d, "Progressing")["message"] == "Deployment is paused"
        assert len(h.replica_sets()) == 1

        def resume(d: Obj) -> None:
            d["spec"]["paused"] = False

        h.store.mutate(DEPLOYMENTS, "default", "api", resume)
        await h.until(lambda: h.rolled_out() if len(h.replica_sets()) == 2 else None)
        assert {c["image"] for p in h.pods() for c in p["spec"]["containers"]} == {h.image(OTHER)}


async def test_scaling_and_revision_history_limit() -> None:
    async with harness() as h:
        h.deploy(replicas=2, revisionHistoryLimit=1)
        await h.until(h.rolled_out)

        def scale(d: Obj) -> None:
            d["spec"]["replicas"] = 4

        h.store.mutate(DEPLOYMENTS, "default", "api", scale)
        await h.until(lambda: h.rolled_out() if len(h.pods()) == 4 else None)
        (rs,) = h.replica_sets()
        assert (
            scaling_messages(h)[-1] == f"Scaled up replica set {rs['metadata']['name']} from 2 to 4"
        )
        assert rs["metadata"]["annotations"][texts.DESIRED_REPLICAS] == "4"
        for tag in (OTHER, THIRD):
            h.set_image(tag)
            await h.until(
                lambda tag=tag: (
                    h.rolled_out()
                    if all(
                        c["image"] == h.image(tag)
                        for p in h.pods()
                        for c in p["spec"]["containers"]
                    )
                    and len(h.pods()) == 4
                    else None
                )
            )
        # The newest plus one old ReplicaSet stay; revision 1 is gone.
        kept = await h.until(lambda: h.replica_sets() if len(h.replica_sets()) == 2 else None)
        assert sorted(r["metadata"]["annotations"][texts.REVISION] for r in kept) == ["2", "3"]


async def test_min_ready_seconds_delays_availability() -> None:
    async with harness() as h:
        h.deploy(replicas=1, minReadySeconds=20)
        ready = await h.until(
            lambda: (
                h.deployment() if h.deployment().get("status", {}).get("readyReplicas") else None
            )
        )
        assert ready["status"].get("availableReplicas", 0) == 0
        d = await h.until(h.rolled_out)
        assert d["status"]["availableReplicas"] == 1


async def test_missing_tag_times_out_at_the_progress_deadline() -> None:
    async with harness() as h:
        h.deploy(replicas=2, tag=MISSING, progressDeadlineSeconds=30)

        def timed_out() -> Obj | None:
            d = h.deployment()
            conds = d.get("status", {}).get("conditions", [])
            return d if any(c.get("reason") == "ProgressDeadlineExceeded" for c in conds) else None

        d = await h.until(timed_out)
        (rs,) = h.replica_sets()
        progressing = condition(d, "Progressing")
        assert (progressing["status"], progressing["message"]) == (
            "False",
            f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.',
        )
        assert condition(d, "Available")["reason"] == "MinimumReplicasUnavailable"
        # A fix after the deadline rolls out and clears it.
        h.set_image(GOOD)
        d = await h.until(h.rolled_out)
        assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_deleting_a_deployment_takes_its_replica_sets_and_pods() -> None:
    async with harness() as h:
        h.deploy(replicas=2)
        await h.until(h.rolled_out)
        h.store.delete(DEPLOYMENTS, "default", "api")
        terminating = await h.until(
            lambda: (
                h.pods(terminating=True)
                and all(p["metadata"].get("deletionTimestamp") for p in h.pods(terminating=True))
            )
        )
        assert terminating
        await h.until(lambda: not h.pods(terminating=True) and not h.replica_sets())
