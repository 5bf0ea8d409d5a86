"""The diagnosis of a workload alert beyond pulls: read what the cluster and registry say.

    cause, label, sentence, fix = await diagnose_workload(kube, registry, config, view, key)

For a crash loop: the last log lines of its most-restarted pod (`commands.health.
log_verdict`); an `exec format error` there means the image is built for other CPUs:
the registry is asked (with the namespace's pull secret, as `bot.rollout.recheck` does
for pulls) which platforms the image has, the pod's node for its
`status.nodeInfo.architecture` (the configured node platform when Deckhand may not read
nodes), and the fix is a buildx build. OOMKilled: the container's memory limit (usage is
not known without a metrics API). A probe kill: the probes diagnosis (`commands.probes`:
which probe, doing what, what the kubelet saw, and the fix for it).
Unschedulable and evicted pods: the scheduler's / kubelet's words. API and registry
failures never fail the alert: the words then say less.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.alerts.watcher import ClusterView
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import NODES, PODS
from bot.registry.client import RegistryClient
from bot.rollout.recheck import PullRecheck, recheck_pull
from commands import texts
from commands.config import DeckhandConfig
from commands.diagnosis import Cause, Finding, explain, redact
from commands.health import Crash, log_verdict
from commands.incidents import IncidentKey
from commands.probes import evidence_by_kind, probes_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkloadDiagnosis:
    cause: Cause
    label: str
    message: str
    """The cluster's words: last log lines, the scheduler's or kubelet's message."""
    sentence: str
    fix: str


async def _platforms(
    kube: KubeClient,
    registry: RegistryClient,
    config: DeckhandConfig,
    *,
    namespace: str,
    secret: str | None,
    image: str,
    timeout_s: float,
) -> str:
    """The image's platforms as the registry lists them ('' when it can't be asked)."""
    try:
        async with asyncio.timeout(timeout_s):
            result = await recheck_pull(
                kube,
                registry,
                namespace=namespace,
                secret_name=secret,
                image=image,
                platform=config.tag_policy.node_platform(),
            )
    except TimeoutError:
        return ""
    if result.outcome is PullRecheck.PLATFORM_MISSING and "(only " in result.detail:
        return result.detail.partition("(only ")[2].partition(")")[0]
    if result.outcome is PullRecheck.IMAGE_OK:
        return config.tag_policy.platform
    return ""


async def _node_platform(kube: KubeClient, node: str, fallback: str) -> str:
    if not node:
        return fallback
    try:
        obj = await kube.get(NODES, node, namespace=None)
    except KubeError as e:
        log.info("alerts: node %s unreadable (%s); using the configured platform", node, e)
        return fallback
    info = (obj.get("status") or {}).get("nodeInfo") or {}
    arch, system = info.get("architecture"), info.get("operatingSystem") or "linux"
    return f"{system}/{arch}" if arch else fallback


async def _probe_explanation(
    kube: KubeClient,
    view: ClusterView,
    key: IncidentKey,
    pod: str,
    crash: Crash | None,
    *,
    timeout_s: float,
) -> tuple[str, str] | None:
    """The probes diagnosis (`commands.probes`, `commands.diagnosis.explain`): which probe,
    doing what, what the kubelet saw, the fix. None when the pod or its events are gone."""
    if not pod or crash is None:
        return None
    try:
        async with asyncio.timeout(timeout_s):
            obj = await kube.get(PODS, pod, namespace=key.namespace)
    except (KubeError, TimeoutError):
        return None
    spec = next(
        (
            c
            for c in (obj.get("spec") or {}).get("containers") or []
            if c.get("name") == crash.container
        ),
        None,
    )
    if spec is None:
        return None
    evidence = evidence_by_kind(
        probes_of(spec),
        crash.container,
        started=None,
        failures=view.probe_failures.get((key.namespace, pod), []),
        killed=view.probe_kills.get((key.namespace, pod, crash.container), set()),
    )
    chosen = next((e for e in evidence.values() if e.killed), None) or next(
        iter(evidence.values()), None
    )
    if chosen is None:
        return None
    said = explain(
        Finding(Cause.PROBE_FAILED, True, pod=pod, container=crash.container, probe=chosen),
        image=key.image,
        namespace=key.namespace,
    )
    return said.sentence, said.next_step


async def diagnose_workload(
    kube: KubeClient,
    registry: RegistryClient,
    config: DeckhandConfig,
    view: ClusterView,
    key: IncidentKey,
    *,
    secret: str | None,
    timeout_s: float,
) -> WorkloadDiagnosis:
    found = view.crash_of(key)
    pod, crash = found if found is not None else (None, None)
    pod_name = pod.pulls.name if pod is not None else ""
    node = pod.pulls.node if pod is not None else ""
    cause = key.cause
    exit_code = crash.exit_code if crash is not None else None
    message, verdict = "", None
    if cause is Cause.UNSCHEDULABLE:
        said = pod.health.unschedulable if pod is not None and pod.health else ""
        message = redact(said or "")
        return WorkloadDiagnosis(
            cause,
            texts.workload_cause_label(
                cause.value, exit_code=None, verdict=None, scheduler=message
            ),
            message,
            *texts.unschedulable_advice(message),
        )
    if cause is Cause.EVICTED:
        said = pod.health.evicted if pod is not None and pod.health else ""
        message = redact(said or "")
        return WorkloadDiagnosis(
            cause,
            texts.workload_cause_label(cause.value, exit_code=None, verdict=None),
            message,
            *texts.eviction_advice(message),
        )
    lines: list[str] = []
    if pod is not None and crash is not None:
        try:
            async with asyncio.timeout(timeout_s):
                raw = await kube.read_log(
                    pod_name, namespace=key.namespace, container=crash.container, tail_lines=10
                )
            lines = [redact(line) for line in raw.splitlines() if line.strip()]
        except (KubeError, TimeoutError) as e:
            log.info("alerts: logs of %s unreadable (%s)", pod_name, e)
    verdict = log_verdict(lines)
    message = texts.last_log_lines(lines)
    if verdict is not None:
        wanted = config.tag_policy.platform
        platforms = await _platforms(
            kube,
            registry,
            config,
            namespace=key.namespace,
            secret=secret,
            image=key.image,
            timeout_s=timeout_s,
        )
        nodes = await _node_platform(kube, node, wanted)
        sentence = texts.exec_format_diagnosis(
            key.image, platforms or "another platform (the registry could not say which)", nodes
        )
        fix = texts.exec_format_fix(nodes)
    elif cause is Cause.OOM_KILLED:
        sentence, fix = texts.oom_advice(
            crash.memory_limit if crash else "",
            None,
            namespace=key.namespace,
            workload=key.workload,
        )
    elif cause is Cause.PROBE_FAILED:
        probe = view.unhealthy.get((key.namespace, pod_name), "")
        message = message or redact(probe)
        explained = await _probe_explanation(kube, view, key, pod_name, crash, timeout_s=timeout_s)
        if explained is not None:
            sentence, fix = explained
        else:
            sentence, fix = texts.probe_advice(
                redact(probe), namespace=key.namespace, workload=key.workload
            )
    else:
        sentence, fix = texts.crash_advice(
            exit_code, namespace=key.namespace, pod=pod_name or "<pod>"
        )
    label = texts.workload_cause_label(cause.value, exit_code=exit_code, verdict=verdict)
    return WorkloadDiagnosis(cause, label, message, sentence, fix)
