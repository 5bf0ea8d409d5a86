"""The scheduler and the kubelet stand-in on a running sandbox cluster (speed 50).

Covers: pull events and texts (Pulling, Pulled with size, already present on the
node for IfNotPresent, a re-resolve for Always); a missing tag going ErrImagePull →
ImagePullBackOff with the kubelet's events and a growing back-off; InvalidImageName;
the test knobs (crash → CrashLoopBackOff with restartCount, lastState and logs;
never-ready; CreateContainerConfigError; a readiness probe on an unhealthy path);
an arm64 image on amd64 nodes (index: no match for platform; single manifest: exec
format error); an OOM kill; Insufficient cpu; an eviction (Failed/Evicted, replaced);
nodeSelector on an arm64 node (Unschedulable, then scheduled when
`add_node` adds one); graceful pod deletion; container logs; init containers.
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster.controllers import knobs
from sandbox.cluster.controllers.conditions import parse_time
from sandbox.cluster.resources import NODES, PODS
from tests.sandbox.controllers_harness import (
    ARM_INDEX,
    ARM_SINGLE,
    GOOD,
    MISSING,
    MULTI,
    Harness,
    container_status,
    harness,
    waiting_reason,
)

Obj = dict[str, Any]


def one_pod(h: Harness, check: Any = None) -> Obj | None:
    pods = h.pods()
    if len(pods) != 1:
        return None
    return pods[0] if check is None or check(pods[0]) else None


def messages(h: Harness, reason: str) -> list[str]:
    return [e["message"] for e in h.events(reason=reason)]


def ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", [])
    )


async def test_pull_events_and_the_nodes_image_cache() -> None:
    async with harness() as h:
        h.deploy(replicas=3)
        await h.until(h.rolled_out)
        h.deploy("again", replicas=3)  # same image: every node has it now
        await h.until(lambda: h.rolled_out("again"))
        image = h.image(GOOD)
        pulled = messages(h, "Pulled")
        fresh = [m for m in pulled if m.startswith(f'Successfully pulled image "{image}" in ')]
        present = [
            m for m in pulled if m == f'Container image "{image}" already present on machine'
        ]
        assert (len(fresh), len(present)) == (3, 3), pulled
        assert all(m.endswith("bytes.") and "including waiting" in m for m in fresh)
        assert messages(h, "Pulling") == [f'Pulling image "{image}"'] * 3  # not for "again"
        pod = h.pods()[0]
        status = container_status(pod)
        assert status["imageID"].startswith(f"{h.registry.host}/admin/api@sha256:")
        assert status["containerID"].startswith("containerd://")
        assert (status["ready"], status["started"], status["restartCount"]) == (True, True, 0)
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"].startswith("10.42.")
        assert messages(h, "Created")[0] == "Created container: api"
        assert messages(h, "Started")[0] == "Started container api"
        # Always re-resolves on each start (Pulling again) but downloads nothing new.
        h.deploy("always", replicas=3, container={"imagePullPolicy": "Always"})
        await h.until(lambda: h.rolled_out("always"))
        assert len([e for e in h.events(reason="Pulling", about="always")]) == 3


async def test_missing_tag_backs_off_between_pulls() -> None:
    async with harness() as h:
        h.deploy(replicas=1, tag=MISSING)
        image = h.image(MISSING)
        pod = await h.until(lambda: one_pod(h, lambda p: waiting_reason(p) == "ErrImagePull"))
        state = container_status(pod)["state"]["waiting"]
        assert state["message"].startswith("rpc error: code = NotFound desc = failed to pull and ")
        assert state["message"].endswith(f"{image}: not found")
        pod = await h.until(lambda: one_pod(h, lambda p: waiting_reason(p) == "ImagePullBackOff"))
        assert container_status(pod)["state"]["waiting"]["message"] == (
            f'Back-off pulling image "{image}"'
        )
        assert pod["status"]["phase"] == "Pending"

        def pulled_three_times() -> list[Obj] | None:
            (pulling,) = h.events(reason="Pulling") or [{"count": 0}]
            return h.events() if pulling["count"] >= 3 else None

        events = await h.until(pulled_three_times)
        by_reason = {(e["type"], e["reason"], e["message"]): e for e in events}
        failed = by_reason[
            ("Warning", "Failed", f'Failed to pull image "{image}": ' + state["message"])
        ]
        assert failed["count"] >= 2
        assert ("Warning", "Failed", "Error: ErrImagePull") in by_reason
        assert ("Normal", "BackOff", f'Back-off pulling image "{image}"') in by_reason
        assert ("Warning", "Failed", "Error: ImagePullBackOff") in by_reason
        assert failed["source"] == {"component": "kubelet", "host": pod["spec"]["nodeName"]}
        assert failed["involvedObject"]["fieldPath"] == "spec.containers{api}"
        # 10 s then 20 s (scaled) between pulls: the third pull comes >= 30 s after the first.
        pulling = h.events(reason="Pulling")[0]
        waited = parse_time(pulling["lastTimestamp"]) - parse_time(pulling["firstTimestamp"])
        assert waited.total_seconds() >= 29


async def test_invalid_image_name() -> None:
    async with harness() as h:
        h.deploy(replicas=1, container={"image": "Bad Image"})
        pod = await h.until(lambda: one_pod(h, lambda p: waiting_reason(p) == "InvalidImageName"))
        text = (
            'Failed to apply default image tag "Bad Image": couldn\'t parse image name '
            '"Bad Image": invalid reference format'
        )
        assert container_status(pod)["state"]["waiting"]["message"] == text
        assert messages(h, "InspectFailed") == [text]


async def test_crash_knob_makes_a_crash_loop() -> None:
    async with harness() as h:
        knob = {knobs.CRASH: "exit-code=3,after=2,message=panic: no DATABASE_URL"}
        h.deploy(replicas=1, pod_annotations=knob)

        def looping(p: Obj) -> bool:
            return (
                waiting_reason(p) == "CrashLoopBackOff" and container_status(p)["restartCount"] >= 2
            )

        pod = await h.until(lambda: one_pod(h, looping), seconds=20)
        status = container_status(pod)
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        assert status["lastState"]["terminated"]["exitCode"] == 3
        assert status["lastState"]["terminated"]["reason"] == "Error"
        assert "finishedAt" in status["lastState"]["terminated"]
        assert status["state"]["waiting"]["message"].startswith("back-off ")
        assert status["state"]["waiting"]["message"].endswith(
            f"restarting failed container=api pod={name}_default({uid})"
        )
        assert pod["status"]["phase"] == "Running"
        assert not ready(pod)
        backoff = h.events(reason="BackOff")[0]
        assert (backoff["type"], backoff["message"]) == (
            "Warning",
            f"Back-off restarting failed container api in pod {name}_default({uid})",
        )
        log = h.store.read_log("default", name, "api")
        assert log[-1] == "panic: no DATABASE_URL"
        assert "listening on :8080" in log


async def test_never_ready_config_error_and_unhealthy_probe() -> None:
    async with harness() as h:
        h.deploy("never", replicas=1, pod_annotations={knobs.NEVER_READY: "true"})
        h.deploy(
            "config", replicas=1, pod_annotations={knobs.CONFIG_ERROR: 'secret "db" not found'}
        )
        h.deploy(
            "probe",
            replicas=1,
            pod_annotations={knobs.HEALTHY_PATHS: "/healthz"},
            container={
                "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 5}
            },
        )

        def settled() -> bool:
            never, config = h.pods("never"), h.pods("config")
            return bool(
                never
                and never[0]["status"].get("phase") == "Running"
                and config
                and waiting_reason(config[0]) == "CreateContainerConfigError"
                and any(
                    e["count"] >= 2 and "statuscode" in e["message"]
                    for e in h.events(reason="Unhealthy")
                )
            )

        await h.until(settled)
        (never,), (config,), (probe,) = h.pods("never"), h.pods("config"), h.pods("probe")
        assert not ready(never)
        assert not ready(probe)
        assert container_status(config)["state"]["waiting"]["message"] == 'secret "db" not found'
        assert 'Error: secret "db" not found' in messages(h, "Failed")
        (unhealthy,) = [e for e in h.events(reason="Unhealthy") if "statuscode" in e["message"]]
        assert (unhealthy["type"], unhealthy["message"]) == (
            "Warning",
            "Readiness probe failed: HTTP probe failed with statuscode: 404",
        )
        assert h.deployment("never")["status"].get("availableReplicas", 0) == 0


async def test_arm64_images_on_amd64_nodes() -> None:
    async with harness() as h:
        h.deploy("index", replicas=1, tag=ARM_INDEX)
        h.deploy("single", replicas=1, tag=ARM_SINGLE)

        def both() -> bool:
            index, single = h.pods("index"), h.pods("single")
            return bool(
                index
                and waiting_reason(index[0]) in ("ErrImagePull", "ImagePullBackOff")
                and single
                and container_status(single[0]).get("lastState")
            )

        await h.until(both)
        failed = [m for m in messages(h, "Failed") if h.image(ARM_INDEX) in m]
        assert failed[0].endswith("no match for platform in manifest: not found")
        (single,) = h.pods("single")
        assert container_status(single)["lastState"]["terminated"]["exitCode"] == 255
        log = h.store.read_log("default", single["metadata"]["name"], "api")
        assert set(log) == {"exec /bin/true: exec format error"}


async def test_node_selector_waits_for_an_arm64_node() -> None:
    async with harness() as h:
        h.deploy(replicas=1, tag=MULTI, pod_spec={"nodeSelector": {"kubernetes.io/arch": "arm64"}})

        def unschedulable() -> Obj | None:
            pending = [p for p in h.pods() if not p["spec"].get("nodeName")]
            conds = pending[0]["status"].get("conditions", []) if pending else []
            return pending[0] if any(c.get("reason") == "Unschedulable" for c in conds) else None

        pod = await h.until(unschedulable)
        text = (
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        )
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (cond["status"], cond["message"]) == ("False", text)
        assert messages(h, "FailedScheduling")[0] == text
        h.controllers.add_node("arm-1", arch="arm64")
        d = await h.until(h.rolled_out)
        (running,) = h.pods()
        assert running["spec"]["nodeName"] == "arm-1"
        node = h.store.get(NODES, None, "arm-1")
        assert node["status"]["nodeInfo"]["architecture"] == "arm64"
        assert d["status"]["availableReplicas"] == 1


async def test_deleted_pods_terminate_gracefully() -> None:
    async with harness(termination_seconds=5.0) as h:
        h.deploy(replicas=1)
        await h.until(h.rolled_out)
        (pod,) = h.pods()
        h.store.delete(PODS, "default", pod["metadata"]["name"])
        marked = h.store.get(PODS, "default", pod["metadata"]["name"])
        assert marked["metadata"]["deletionTimestamp"]
        gone = await h.until(
            lambda: (
                not any(
                    p["metadata"]["uid"] == pod["metadata"]["uid"] for p in h.pods(terminating=True)
                )
            )
        )
        assert gone
        assert messages(h, "Killing") == ["Stopping container api"]
        # The ReplicaSet replaced it.
        await h.until(h.rolled_out)


async def test_init_containers_run_to_completion_first() -> None:
    async with harness() as h:
        init = {"name": "migrate", "image": h.image(GOOD)}
        h.deploy(replicas=1, pod_spec={"initContainers": [init]})
        await h.until(h.rolled_out)
        (pod,) = h.pods()
        (done,) = pod["status"]["initContainerStatuses"]
        assert done["state"]["terminated"]["reason"] == "Completed"
        assert done["state"]["terminated"]["exitCode"] == 0
        started = [e["involvedObject"]["fieldPath"] for e in h.events(reason="Started")]
        assert started == ["spec.initContainers{migrate}", "spec.containers{api}"]
        initialized = next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")
        assert initialized["status"] == "True"


async def test_an_oom_kill_shows_as_oomkilled_137_without_a_log_line() -> None:
    async with harness() as h:
        h.deploy(
            replicas=1,
            pod_annotations={knobs.CRASH: "exit-code=137,reason=OOMKilled,after=0.5"},
            container={"resources": {"limits": {"memory": "128Mi"}}},
        )

        def oom_killed() -> Obj | None:
            pod = one_pod(h)
            last = container_status(pod).get("lastState", {}) if pod else {}
            return pod if "terminated" in last else None

        pod = await h.until(oom_killed)
        terminated = container_status(pod)["lastState"]["terminated"]
        assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
        log = h.store.read_log("default", pod["metadata"]["name"], "api")
        assert not any("fatal error" in line for line in log)


async def test_requests_beyond_the_nodes_room_are_insufficient_cpu() -> None:
    async with harness() as h:
        h.deploy(replicas=1, container={"resources": {"requests": {"cpu": "6", "memory": "1Gi"}}})

        def unschedulable() -> Obj | None:
            pending = [p for p in h.pods() if not p["spec"].get("nodeName")]
            conds = pending[0]["status"].get("conditions", []) if pending else []
            return pending[0] if any(c.get("reason") == "Unschedulable" for c in conds) else None

        pod = await h.until(unschedulable)
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert cond["message"] == (
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod."
        )
        assert messages(h, "FailedScheduling")[0] == cond["message"]


async def test_an_eviction_fails_the_pod_and_its_replicaset_replaces_it() -> None:
    async with harness() as h:
        h.deploy(replicas=1, pod_annotations={knobs.EVICT_AFTER: "1"})

        def evicted() -> Obj | None:
            return next((p for p in h.pods() if p["status"].get("reason") == "Evicted"), None)

        pod = await h.until(evicted)
        assert pod["status"]["phase"] == "Failed"
        assert pod["status"]["message"].startswith("The node was low on resource: memory.")
        assert container_status(pod)["state"]["terminated"]["exitCode"] == 137
        assert any(c["type"] == "DisruptionTarget" for c in pod["status"]["conditions"])
        assert messages(h, "Evicted")[0] == pod["status"]["message"]
        await h.until(lambda: len(h.pods()) >= 2 or None)  # a replacement was made
