"""Texts: workload alerts: image pulls, crashes, scheduling, evictions (commands.incidents,
commands.health, bot.alerts).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


_ALERT_LABELS = {
    "tag_not_found": "tag not found",
    "pull_auth": "pull secret rejected",
    "platform_mismatch": "wrong platform",
    "registry_unreachable": "registry unreachable",
    "invalid_image": "invalid image",
}


def alert_cause_label(cause: str) -> str:
    """`tag not found`, `pull secret rejected`, … for a `Cause` value."""
    return _ALERT_LABELS.get(cause, "cause unknown")


def _pods_on(pods: int, nodes: Iterable[str]) -> str:
    names = sorted(nodes)
    where = f" on {len(names)} node{'s' if len(names) != 1 else ''} ({', '.join(names)})"
    return f"{pods} pod{'s' if pods != 1 else ''}" + (where if names else "")


def pull_alert_title(namespace: str, workload: str, label: str, *, resolved: bool) -> str:
    """The alert's first line (also the notification text)."""
    if resolved:
        return f":white_check_mark: Resolved: image pull for `{namespace}/{workload}` ({label})"
    return f":rotating_light: Image pull failing for `{namespace}/{workload}`: {label}"


def _details(
    image: str,
    affected: str,
    source: str,
    message: str,
    diagnosis: str,
    fix: str,
    *,
    resolved: bool,
) -> str:
    lines = [f"*Image:* `{image}`", affected]
    if message:
        lines.append(f"*{source}:* {message}")
    if diagnosis:
        lines.append(f"*Diagnosis:* {diagnosis}")
    if fix and not resolved:
        lines.append(f"*Fix:* {fix}")
    return "\n".join(lines)


def pull_resolved_followup(image: str, peak_pods: int, minutes: float) -> str:
    """The thread reply when an incident resolves."""
    took = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
    were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
    return (
        f"Resolved: no pod is failing to pull `{image}` any more: they pulled it, or the "
        f"workload moved on ({were}; {took} after the alert)."
    )


def pull_summary_title(count: int, limit: int) -> str:
    """The rate-limit summary's first line."""
    return (
        f":rotating_light: {count} more image-pull incident{'s' if count != 1 else ''} "
        f"(over {limit} alerts a minute in this channel, so summarized here):"
    )


def pull_summary_line(
    namespace: str, workload: str, image: str, label: str, pods: int, *, resolved: bool
) -> str:
    """One incident of the summary."""
    state = "resolved" if resolved else f"{pods} pod{'s' if pods != 1 else ''}"
    mark = ":white_check_mark:" if resolved else "•"
    return f"{mark} `{namespace}/{workload}` `{image}`: {label} ({state})"


def pull_tag_confirmed_missing() -> str:
    """The lead of a tag-not-found diagnosis the registry re-check confirmed."""
    return "The registry, asked with the namespace's pull secret, has no such tag"


# ---- workload alerts beyond pulls (commands.health, bot.alerts.workload) ----

_WORKLOAD_LABELS = {
    "crash_loop": "crash loop",
    "oom_killed": "OOMKilled",
    "probe_failed": "failing probe",
    "unschedulable": "can't be scheduled",
    "evicted": "evicted",
}
_TROUBLE = {
    "crash_loop": ("Crash loop in", "are crash-looping", "is crash-looping"),
    "oom_killed": ("Out of memory in", "are OOMKilled", "is OOMKilled"),
    "probe_failed": ("Failing probe in", "are killed by a probe", "is killed by a probe"),
    "unschedulable": ("Pods can't be scheduled for", "are pending", "is pending"),
    "evicted": ("Pods evicted from", "were evicted", "was evicted"),
}


def workload_cause_label(
    cause: str, *, exit_code: int | None, verdict: str | None, scheduler: str = ""
) -> str:
    """`exec format error (exit code 255)`, `OOMKilled (exit code 137)`, `3 Insufficient cpu`
    (the reasons of the scheduler's `0/3 nodes are available: …` message)."""
    if cause == "unschedulable" and "nodes are available: " in scheduler:
        return scheduler.partition("nodes are available: ")[2].partition(".")[0]
    label = verdict or _WORKLOAD_LABELS.get(cause, "cause unknown")
    return f"{label} (exit code {exit_code})" if exit_code is not None else label


def workload_alert_title(
    namespace: str, workload: str, cause: str, label: str, *, resolved: bool
) -> str:
    lead = _TROUBLE.get(cause, _TROUBLE["crash_loop"])[0]
    if resolved:
        return f":white_check_mark: Resolved: {lead.lower()} `{namespace}/{workload}` ({label})"
    return f":rotating_light: {lead} `{namespace}/{workload}`: {label}"


def alert_body(
    *,
    cause: str | None,
    image: str,
    pods: int,
    peak_pods: int,
    nodes: Iterable[str],
    message: str,
    diagnosis: str,
    fix: str,
    resolved: bool,
) -> str:
    """An alert's details: image, who is affected, the cluster's words (the kubelet's, last
    log lines, the scheduler's reason), the diagnosis and the fix. `cause`: the workload
    cause (`crash_loop`, `unschedulable`, ...), None for an image pull failing."""
    were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
    if cause is None:
        affected = (
            f"No pod is failing to pull it any more ({were})."
            if resolved
            else f"*Affected:* {_pods_on(pods, nodes)} can't pull."
        )
    else:
        _, many, one = _TROUBLE.get(cause, _TROUBLE["crash_loop"])
        affected = (
            f"No pod has the problem any more ({were})."
            if resolved
            else f"*Affected:* {_pods_on(pods, nodes)} {many if pods != 1 else one}."
        )
    source = "Scheduler" if cause == "unschedulable" else "Kubelet"
    return _details(image, affected, source, message, diagnosis, fix, resolved=resolved)


def workload_resolved_followup(image: str, peak_pods: int, minutes: float) -> str:
    took = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
    were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
    return (
        f"Resolved: no pod of `{image}` has the problem any more: they recovered, or the "
        f"workload moved on ({were}; {took} after the alert)."
    )


def last_log_lines(lines: Iterable[str]) -> str:
    """The container's last log lines, quoted."""
    shown = [line for line in lines if line.strip()][-5:]
    return "last log lines:\n```" + "\n".join(shown) + "```" if shown else ""


def exec_format_diagnosis(image: str, platforms: str, nodes: str) -> str:
    """The image is built for other CPUs than the nodes'."""
    return (
        f"`{image}` is built for {platforms}, but the nodes run {nodes}: the kernel can't "
        "execute its binaries (`exec format error`)."
    )


def exec_format_fix(platform: str) -> str:
    return (
        f"Rebuild for the nodes: `docker buildx build --platform {platform} -t <image> --push .` "
        "(or a multi-arch build: `--platform linux/amd64,linux/arm64`), then deploy that tag."
    )


def crash_advice(exit_code: int | None, *, namespace: str, pod: str) -> tuple[str, str]:
    """(diagnosis, fix) of a container that keeps exiting."""
    code = f" with exit code {exit_code}" if exit_code is not None else ""
    return (
        f"The container starts, then exits{code}; the kubelet restarts it with a growing back-off.",
        f"Read the logs: `kubectl logs -n {namespace} {pod} --previous`; roll back with "
        "`/deploy rollback SERVICE ENV` if the last change broke it.",
    )


def oom_advice(limit: str, usage: str | None, *, namespace: str, workload: str) -> tuple[str, str]:
    """(diagnosis, fix) of a container the kernel killed for its memory."""
    where = f"its memory limit of `{limit}`" if limit else "the node's memory (no limit is set)"
    used = f" (last seen using {usage})" if usage else ""
    return (
        f"The kernel killed the container for using more than {where}{used}.",
        f"Raise `resources.limits.memory` of `{namespace}/{workload}` (and the request with it), "
        "or find what grew: a leak, a bigger input, a cache without bounds.",
    )


def probe_advice(message: str, *, namespace: str, workload: str) -> tuple[str, str]:
    """(diagnosis, fix) of a probe kill the probes diagnosis could not explain further."""
    said = f": {message}" if message else ""
    return (
        f"The kubelet kills the container because a liveness or startup probe fails{said}.",
        f"Check the probe's path, port and timings in `{namespace}/{workload}` against what the "
        "app serves (`kubectl describe pod` shows the probe and its failures).",
    )


_UNSCHEDULABLE = (
    (
        "Insufficient",
        "No node has room for the pods' resource requests.",
        "Lower the requests, scale something else down, or add a node.",
    ),
    (
        "affinity/selector",
        "No node matches the pods' node selector or affinity.",
        "Fix the `nodeSelector` / affinity, or label a node to match.",
    ),
    (
        "taint",
        "Every node has a taint the pods don't tolerate.",
        "Add a toleration for the taint, or untaint a node.",
    ),
)
"""The scheduler's words → (diagnosis, fix), first match wins."""


def unschedulable_advice(message: str) -> tuple[str, str]:
    """(diagnosis, fix) of pods the scheduler can't place, read from its `message`."""
    for said, diagnosis, fix in _UNSCHEDULABLE:
        if said in message:
            return diagnosis, fix
    return (
        "The scheduler found no node for the pods.",
        "`kubectl describe pod` shows the scheduler's full reason.",
    )


def eviction_advice(message: str) -> tuple[str, str]:
    """(diagnosis, fix) of pods the kubelet evicted under node pressure."""
    said = f": {message}" if message else "."
    return (
        f"The kubelet evicted the pods under node pressure{said}",
        "Set requests close to real usage (pods over their requests are evicted first) "
        "and check the node's memory and disk.",
    )
