"""The exact reasons and messages the real components put in events and statuses.

Pure: every function formats its arguments and nothing else. Each text is the one
the named Kubernetes component (v1.32) or containerd writes, so `kubectl describe`,
`kubectl get events` and any code that classifies these texts (Deckhand's alerts)
see what they would see on a real cluster. Grouped by component:

* deployment-controller: `ScalingReplicaSet`, the Progressing / Available conditions
* replicaset-controller: `SuccessfulCreate` / `SuccessfulDelete`
* default-scheduler: `Scheduled` / `FailedScheduling`
* kubelet: image pulls, container lifecycle, probes, back-off
"""

from __future__ import annotations

# ---- deployment-controller (pkg/controller/deployment/util) ----

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH = "pod-template-hash"
# Annotations the controller never copies from a Deployment to its ReplicaSets.
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS})

NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"


def scaled_replica_set(direction: str, rs_name: str, old: int, new: int) -> str:
    """`Scaled up replica set api-7d9c from 0 to 3` (event ScalingReplicaSet)."""
    return f"Scaled {direction} replica set {rs_name} from {old} to {new}"


def created_new_rs(rs_name: str) -> str:
    return f'Created new replica set "{rs_name}"'


def found_new_rs(rs_name: str) -> str:
    return f'Found new replica set "{rs_name}"'


def rs_progressing(rs_name: str) -> str:
    return f'ReplicaSet "{rs_name}" is progressing.'


def rs_progressed(rs_name: str) -> str:
    return f'ReplicaSet "{rs_name}" has successfully progressed.'


def rs_timed_out(rs_name: str) -> str:
    return f'ReplicaSet "{rs_name}" has timed out progressing.'


MIN_AVAILABLE = "Deployment has minimum availability."
MIN_UNAVAILABLE = "Deployment does not have minimum availability."
PAUSED = "Deployment is paused"
RESUMED = "Deployment is resumed"

# ---- replicaset-controller ----


def created_pod(pod_name: str) -> str:
    return f"Created pod: {pod_name}"


def deleted_pod(pod_name: str) -> str:
    return f"Deleted pod: {pod_name}"


# ---- default-scheduler ----


def scheduled(namespace: str, pod_name: str, node: str) -> str:
    return f"Successfully assigned {namespace}/{pod_name} to {node}"


def unschedulable(total: int, reasons: dict[str, int]) -> str:
    """`FitError.Error()`: the reasons histogram sorted as strings, then the preemption
    verdict (resources could be freed by preempting lower-priority pods; a selector
    or a missing node can't)."""
    histogram = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    resources = {r: n for r, n in reasons.items() if r.startswith("Insufficient")}
    if resources:
        preemption = f"{sum(resources.values())} No preemption victims found for incoming pod"
        others = total - sum(resources.values())
        if others > 0:
            preemption += f", {others} Preemption is not helpful for scheduling"
    else:
        preemption = f"{total} Preemption is not helpful for scheduling"
    return (
        f"0/{total} nodes are available: {histogram}. preemption: 0/{total} nodes are "
        f"available: {preemption}."
    )


# ---- kubelet ----


def pod_ref(name: str, namespace: str, uid: str) -> str:
    """`format.Pod`: how the kubelet names a pod in its messages."""
    return f"{name}_{namespace}({uid})"


def pulling(image: str) -> str:
    return f'Pulling image "{image}"'


def pulled(image: str, pull_seconds: float, total_seconds: float, size: int) -> str:
    return (
        f'Successfully pulled image "{image}" in {go_duration(pull_seconds)} '
        f"({go_duration(total_seconds)} including waiting). Image size: {size} bytes."
    )


def already_present(image: str) -> str:
    return f'Container image "{image}" already present on machine'


def never_pull(image: str) -> str:
    return f'Container image "{image}" is not present with pull policy of Never'


def failed_pull(image: str, error: str) -> str:
    return f'Failed to pull image "{image}": {error}'


def backoff_pull(image: str) -> str:
    return f'Back-off pulling image "{image}"'


def invalid_image(image: str) -> str:
    return (
        f'Failed to apply default image tag "{image}": couldn\'t parse image name '
        f'"{image}": invalid reference format'
    )


def error_reason(reason_or_message: str) -> str:
    """The Warning `Failed` event after a failed start: `Error: ErrImagePull`."""
    return f"Error: {reason_or_message}"


def created_container(name: str) -> str:
    return f"Created container: {name}"


def started_container(name: str) -> str:
    return f"Started container {name}"


def killing(name: str) -> str:
    return f"Stopping container {name}"


def backoff_restart(container: str, pod: str) -> str:
    """The `BackOff` event of a crash loop; `pod` is `pod_ref(...)`."""
    return f"Back-off restarting failed container {container} in pod {pod}"


def crashloop_waiting(seconds: float, container: str, pod: str) -> str:
    """The waiting message of a container in CrashLoopBackOff."""
    return f"back-off {go_duration(seconds)} restarting failed container={container} pod={pod}"


# ---- kubelet prober (pkg/kubelet/prober/prober.go, pkg/probe/{http,tcp,exec}) ----


def probe_failed(kind: str, output: str) -> str:
    """The `Unhealthy` event: `kind` is `Startup`, `Readiness` or `Liveness`."""
    return f"{kind} probe failed: {output}"


def probe_kill(container: str, probe: str) -> str:
    """The `Killing` event after a liveness or startup failure (`probe`: `liveness`/`startup`)."""
    return f"Container {container} failed {probe} probe, will be restarted"


def http_status_failed(status: int) -> str:
    return f"HTTP probe failed with statuscode: {status}"


def http_refused(url: str, host_port: str) -> str:
    """Go's `net/http` error for a port nobody listens on (the probe's output)."""
    return f'Get "{url}": dial tcp {host_port}: connect: connection refused'


def http_timeout(url: str) -> str:
    return (
        f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    )


def tcp_refused(host_port: str) -> str:
    return f"dial tcp {host_port}: connect: connection refused"


def go_duration(seconds: float) -> str:
    """Go's `time.Duration.String()` of `seconds` truncated to milliseconds.

    `0.5` → `500ms`, `1.25` → `1.25s`, `80` → `1m20s`, `300` → `5m0s`.
    """
    ms = int(seconds * 1000 + 1e-6)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def evicted(container: str) -> str:
    """The eviction manager's message for a pod evicted under memory pressure
    (pkg/kubelet/eviction: `The node was low on resource: %v. ` + per-container usage)."""
    return (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91Mi. "
        f"Container {container} was using 1843Mi, request is 0, has larger consumption of "
        "memory. "
    )
