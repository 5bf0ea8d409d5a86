"""What the alerts know about the cluster, kept current by watches (never polls).

`ClusterView` holds, per watched namespace, every pod's pull state (`read_pod`) and
the latest kubelet pull-failure event per pod and image; and, in Deckhand's own
namespace, the deploy records still rolling out. Contract:

- `sync()` lists everything once (pods, events, deploy records) and returns when the
  view is complete: nothing is decided on a half-read cluster (a restarted Deckhand
  would otherwise "resolve" open incidents it simply hasn't seen yet).
- `streams()` are the coroutines that keep it current, each watching from its list's
  resourceVersion through `bot.kube.watch` (reconnects, 410 re-lists, read timeout). A
  stream whose watch gives up lists again (replacing its part of the view, so pods
  deleted meanwhile are forgotten) and watches on. A pod ADDED twice means the watch
  re-listed after a 410: the namespace's pods are listed once more and the ones gone
  are forgotten. Every change sets `changed`. The view keeps what it read, not the JSON
  (and the watch underneath remembers only identities), so a DELETED after a re-list,
  which carries only the object's identity, is handled by name.
- `failures()`: the containers failing to pull, and (`commands.health`) the ones
  crash-looping, OOMKilled or killed by a probe, the pods the scheduler can't place or
  the kubelet evicted (each kind unless switched off in `alerts`), except pods of
  rollouts Deckhand is following (their ReplicaSet's `deckhand.dev/deploy-id` is in
  flight, or namespace, Deployment and image match an in-flight record's target) or
  whose failed deploy Deckhand reported (the Deployment's latest record failed with
  that image): those report in their deploy thread. `pulling()`: the (namespace,
  workload, image) scopes with a pod not pulled yet. `settles_at()`: when the next
  crash stops counting (a crash counts `alerts.settle_s` after it was last seen).

A pod's workload is its ReplicaSet's controlling owner (a Deployment), read once per
ReplicaSet and cached; if it can't be read, the ReplicaSet name minus its
`pod-template-hash` suffix.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock, SystemClock
from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import (
    CONFIGMAPS,
    EVENTS,
    PODS,
    REPLICASETS,
    Kind,
    KubeObject,
    annotations_of,
    meta,
    uid_of,
)
from bot.kube.watch import watch
from bot.rollout.records import DeployRecord, RecordPhase, from_configmap, record_name
from commands.config import AlertsConfig
from commands.diagnosis import Cause, classify_message
from commands.health import (
    Crash,
    PodHealth,
    crash_cause,
    kind_enabled,
    read_health,
    still_failing,
)
from commands.incidents import (
    Failure,
    IncidentKey,
    PodPulls,
    PullState,
    is_pull_failure_event,
    pull_cause,
    read_pod,
    workload_from_names,
)
from commands.probes import parse_kill, parse_unhealthy

log = logging.getLogger(__name__)

DEPLOY_ID = "deckhand.dev/deploy-id"
DEPLOY_RECORDS = "deckhand.dev/record=deploy"
_IMAGE_IN_EVENT = 'Failed to pull image "'


@dataclass
class WatchedPod:
    pulls: PodPulls
    workload: str
    deploy_id: str
    since: dict[str, datetime] = field(default_factory=dict)
    """Failing container → when it was first seen failing."""
    causes: dict[str, Cause] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    """Failing container → the most telling message seen (a back-off says little)."""
    health: PodHealth | None = None
    crash_since: dict[str, datetime] = field(default_factory=dict)
    """Crashed container (or `<unschedulable>`, `<evicted>`) → when first seen so."""
    crash_seen: dict[str, datetime] = field(default_factory=dict)
    """Crashed container → when a crash was last seen (restart count grew, back-off)."""


@dataclass
class ClusterView:
    """The alerts' picture of the watched namespaces (see the module contract)."""

    kube: KubeClient
    namespaces: tuple[str, ...]
    deckhand_namespace: str
    clock: Clock = field(default_factory=SystemClock)
    relist_backoff_s: float = 1.0
    pods: dict[str, WatchedPod] = field(default_factory=dict)
    pull_events: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(namespace, pod, image) → the latest `Failed to pull image` message."""
    in_flight: dict[str, DeployRecord] = field(default_factory=dict)
    latest: dict[tuple[str, str], DeployRecord] = field(default_factory=dict)
    """(namespace, Deployment) → Deckhand's latest deploy record of it."""
    probe_kills: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    """(namespace, pod, container) → the probe kinds a `Killing … failed <kind> probe` named."""
    unhealthy: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, pod) → the latest `Unhealthy` probe message."""
    probe_failures: dict[tuple[str, str], list[tuple[str, str, int]]] = field(default_factory=dict)
    """(namespace, pod) → (kind, output, count) of its `Unhealthy` events, oldest first."""
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _owners: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    _versions: dict[str, str] = field(default_factory=dict)
    _relisted: set[str] = field(default_factory=set)

    # ---- reading the cluster ----

    async def sync(self) -> None:
        """List every source once (see the module contract)."""
        for namespace in self.namespaces:
            self._versions[f"pods/{namespace}"] = await self._list_pods(namespace)
            self._versions[f"events/{namespace}"] = await self._list_events(namespace)
        self._versions["records"] = await self._list_records()

    def streams(self) -> dict[str, Coroutine[Any, Any, None]]:
        """The watch loops, by task name; run them beside the code that reads the view."""
        loops: dict[str, Coroutine[Any, Any, None]] = {}
        for namespace in self.namespaces:
            loops[f"alerts-pods-{namespace}"] = self._follow(
                f"pods/{namespace}",
                PODS,
                namespace,
                None,
                self._on_pod,
                functools.partial(self._list_pods, namespace),
            )
            loops[f"alerts-events-{namespace}"] = self._follow(
                f"events/{namespace}",
                EVENTS,
                namespace,
                None,
                self._on_event,
                functools.partial(self._list_events, namespace),
            )
        loops["alerts-deploy-records"] = self._follow(
            "records",
            CONFIGMAPS,
            self.deckhand_namespace,
            DEPLOY_RECORDS,
            self._on_record,
            self._list_records,
        )
        return loops

    async def _follow(
        self,
        source: str,
        kind: Kind,
        namespace: str,
        selector: str | None,
        handle: Callable[[str, KubeObject], Coroutine[Any, Any, None]],
        relist: Callable[[], Coroutine[Any, Any, str]],
    ) -> None:
        while True:
            try:
                if source not in self._versions:
                    self._versions[source] = await relist()
                    self.changed.set()
                events = watch(
                    self.kube,
                    kind,
                    namespace=namespace,
                    label_selector=selector,
                    resource_version=self._versions[source],
                )
                async with contextlib.aclosing(events):
                    async for event in events:
                        await handle(event.type, event.object)
                        if kind is PODS and namespace in self._relisted:
                            await self._prune(namespace)
                        self.changed.set()
            except KubeError as e:
                log.warning("alerts: watching %s failed (%s); listing again", source, e.sentence())
            self._versions.pop(source, None)
            await self.clock.sleep(self.relist_backoff_s)

    async def _list_pods(self, namespace: str) -> str:
        # Page by page: 5,000 pods (with their managedFields) never sit in memory at once.
        seen: set[str] = set()
        version = ""
        async for page in self.kube.pages(PODS, namespace=namespace):
            version = page.resource_version
            for obj in page.items:
                seen.add(uid_of(obj))
                await self._on_pod("ADDED", obj)
        for uid in [u for u, p in self.pods.items() if p.pulls.namespace == namespace]:
            if uid not in seen:
                del self.pods[uid]
        return version

    async def _list_events(self, namespace: str) -> str:
        version = ""
        async for page in self.kube.pages(EVENTS, namespace=namespace):
            version = page.resource_version
            for obj in page.items:
                await self._on_event("ADDED", obj)
        return version

    async def _list_records(self) -> str:
        listed = await self.kube.list(
            CONFIGMAPS, namespace=self.deckhand_namespace, label_selector=DEPLOY_RECORDS
        )
        self.in_flight.clear()
        self.latest.clear()
        for obj in listed.items:
            await self._on_record("ADDED", obj)
        return listed.resource_version

    # ---- changes ----

    async def _prune(self, namespace: str) -> None:
        """Forget pods deleted while the watch was away (it re-listed after a 410)."""
        self._relisted.discard(namespace)
        alive: set[str] = set()
        async for page in self.kube.pages(PODS, namespace=namespace):  # never all at once
            alive.update(uid_of(o) for o in page.items)
        for uid in [u for u, p in self.pods.items() if p.pulls.namespace == namespace]:
            if uid not in alive:
                del self.pods[uid]

    async def _on_pod(self, kind: str, obj: KubeObject) -> None:
        uid = uid_of(obj)
        if kind == "DELETED":
            gone = self.pods.pop(uid, None)
            if gone is not None:  # its events' messages are of no use any more
                where = (gone.pulls.namespace, gone.pulls.name)
                for key in [k for k in self.pull_events if k[:2] == where]:
                    del self.pull_events[key]
                self.unhealthy.pop(where, None)
                self.probe_failures.pop(where, None)
                for key in [k for k in self.probe_kills if k[:2] == where]:
                    del self.probe_kills[key]
            return
        pulls = read_pod(obj)
        old = self.pods.get(uid)
        if kind == "ADDED" and old is not None:
            # A watch never adds a pod twice: this is `bot.kube.watch` re-listing after
            # a 410, which can't tell us about pods deleted meanwhile. Check once.
            self._relisted.add(pulls.namespace)
        if old is None:
            workload, deploy_id = await self._owner(pulls)
            old = WatchedPod(pulls, workload, deploy_id)
            self.pods[uid] = old
        now = self.clock.now()
        since: dict[str, datetime] = {}
        causes: dict[str, Cause] = {}
        messages: dict[str, str] = {}
        for container in pulls.failing:
            since[container.container] = old.since.get(container.container, now)
            event = self.pull_events.get((pulls.namespace, pulls.name, container.image), "")
            causes[container.container] = pull_cause(
                container.reason,
                container.message,
                event_message=event,
                previous=old.causes.get(container.container),
            )
            telling = classify_message(container.message) is not Cause.UNKNOWN
            messages[container.container] = (
                container.message
                if telling
                else event or old.messages.get(container.container) or container.message
            )
        old.pulls, old.since, old.causes, old.messages = pulls, since, causes, messages
        self._on_health(old, read_health(obj), now)

    @staticmethod
    def _on_health(pod: WatchedPod, health: PodHealth, now: datetime) -> None:
        """Track when each crash (and the pod's scheduling / eviction trouble) began and
        was last seen (`commands.health.still_failing`)."""
        before = {c.container: c for c in pod.health.crashes} if pod.health else {}
        since: dict[str, datetime] = {}
        seen: dict[str, datetime] = {}
        for crash in health.crashes:
            name = crash.container
            since[name] = pod.crash_since.get(name, now)
            previous = before.get(name)
            fresh = previous is None or crash.restarts > previous.restarts or crash.backing_off
            seen[name] = now if fresh else pod.crash_seen.get(name, now)
        for marker, present in (
            ("<unschedulable>", health.unschedulable is not None),
            ("<evicted>", health.evicted is not None),
        ):
            if present:
                since[marker] = pod.crash_since.get(marker, now)
                seen[marker] = since[marker]
        pod.health, pod.crash_since, pod.crash_seen = health, since, seen

    async def _on_event(self, kind: str, obj: KubeObject) -> None:
        if kind == "DELETED":
            return
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        message = str(obj.get("message") or obj.get("note") or "")
        if involved.get("kind") == "Pod":
            namespace = str(involved.get("namespace") or meta(obj).get("namespace", ""))
            where = (namespace, str(involved.get("name", "")))
            reason = str(obj.get("reason", ""))
            kill = parse_kill(message) if reason == "Killing" else None
            failed = parse_unhealthy(message) if reason == "Unhealthy" else None
            if kill is not None:
                self.probe_kills.setdefault((*where, kill[0]), set()).add(kill[1])
            elif failed is not None:
                self.unhealthy[where] = message
                count = int(obj.get("count") or 1)
                seen = self.probe_failures.setdefault(where, [])
                seen[:] = [*[f for f in seen if f[:2] != failed][-20:], (*failed, count)]
        if involved.get("kind") != "Pod" or not is_pull_failure_event(
            str(obj.get("reason", "")), message
        ):
            return
        image = message[len(_IMAGE_IN_EVENT) :].partition('"')[0]
        namespace = str(involved.get("namespace") or meta(obj).get("namespace", ""))
        self.pull_events[(namespace, str(involved.get("name", "")), image)] = message
        for pod in self.pods.values():  # a back-off the event now explains
            if pod.pulls.namespace == namespace and pod.pulls.name == involved.get("name"):
                for container in pod.pulls.failing:
                    if container.image == image and pod.causes.get(container.container) in (
                        None,
                        Cause.UNKNOWN,
                    ):
                        pod.causes[container.container] = pull_cause(
                            container.reason, container.message, event_message=message
                        )
                        pod.messages[container.container] = message

    async def _on_record(self, kind: str, obj: KubeObject) -> None:
        if kind == "DELETED":  # by name: after a re-list it carries only its identity
            name = meta(obj).get("name")
            for gone in [i for i in self.in_flight if record_name(i) == name]:
                del self.in_flight[gone]
            return
        try:
            record = from_configmap(obj)
        except (ValueError, KeyError, TypeError):
            return
        if record.phase is not RecordPhase.ROLLING_OUT:
            self.in_flight.pop(record.id, None)
        else:
            self.in_flight[record.id] = record
        for target in record.targets:
            where = (record.namespace, target.deployment)
            known = self.latest.get(where)
            if known is None or known.id == record.id or known.when <= record.when:
                self.latest[where] = record

    async def _owner(self, pulls: PodPulls) -> tuple[str, str]:
        """(workload, deploy id) of a pod; the ReplicaSet is read once and cached."""
        if pulls.owner_kind != "ReplicaSet":
            return workload_from_names(pulls), ""
        cache_key = (pulls.namespace, pulls.owner_name)
        if cache_key not in self._owners:
            try:
                rs = await self.kube.get(REPLICASETS, pulls.owner_name, namespace=pulls.namespace)
            except KubeError as e:
                log.info("alerts: ReplicaSet %s unreadable (%s)", pulls.owner_name, e.sentence())
                return workload_from_names(pulls), ""
            workload = workload_from_names(pulls)
            for ref in meta(rs).get("ownerReferences") or []:
                if isinstance(ref, dict) and ref.get("controller"):
                    workload = str(ref.get("name") or workload)
            self._owners[cache_key] = (workload, annotations_of(rs).get(DEPLOY_ID, ""))
        return self._owners[cache_key]

    # ---- what the service reads ----

    def followed_by_deckhand(self, pod: WatchedPod, image: str) -> bool:
        """A pod of a rollout Deckhand follows (it reports in the deploy's thread)."""
        if pod.deploy_id and pod.deploy_id in self.in_flight:
            return True
        return any(
            record.namespace == pod.pulls.namespace
            and target.deployment == pod.workload
            and target.image == image
            for record in self.in_flight.values()
            for target in record.targets
        )

    def reported_by_deckhand(self, pod: WatchedPod, image: str) -> bool:
        """A pod of Deckhand's own failed deploy (its thread told the failure)."""
        record = self.latest.get((pod.pulls.namespace, pod.workload))
        return (
            record is not None
            and record.phase is RecordPhase.FAILED
            and any(t.deployment == pod.workload and t.image == image for t in record.targets)
        )

    def _deckhands(self, pod: WatchedPod, image: str) -> bool:
        return self.followed_by_deckhand(pod, image) or self.reported_by_deckhand(pod, image)

    def crash_of(self, key: IncidentKey) -> tuple[WatchedPod, Crash | None] | None:
        """A pod showing `key`'s trouble (and its crash, the most restarted first)."""
        best: tuple[WatchedPod, Crash | None] | None = None
        for pod in self.pods.values():
            health = pod.health
            if health is None or (pod.pulls.namespace, pod.workload) != key.scope[:2]:
                continue
            if key.cause is Cause.UNSCHEDULABLE or key.cause is Cause.EVICTED:
                trouble = (
                    health.unschedulable if key.cause is Cause.UNSCHEDULABLE else health.evicted
                )
                if trouble is not None and health.image == key.image:
                    return (pod, None)
                continue
            for crash in health.crashes:
                if crash.image == key.image and (
                    best is None or best[1] is None or crash.restarts > best[1].restarts
                ):
                    best = (pod, crash)
        return best

    def _health_failures(self, pod: WatchedPod, now: datetime) -> list[Failure]:
        health = pod.health
        if health is None:
            return []
        settle = float(self.alerts.settle_s)
        found = []
        for crash in health.crashes:
            cause = crash_cause(
                crash,
                probe_killed=bool(
                    self.probe_kills.get((health.namespace, health.name, crash.container))
                ),
            )
            last = pod.crash_seen.get(crash.container, now)
            if (
                not kind_enabled(self.alerts, cause)
                or self._deckhands(pod, crash.image)
                or not still_failing(
                    backing_off=crash.backing_off, last_seen=last, now=now, settle_s=settle
                )
            ):
                continue
            if cause is Cause.OOM_KILLED:
                said = f"OOMKilled (exit code {crash.exit_code})"
            elif cause is Cause.PROBE_FAILED:
                said = self.unhealthy.get((health.namespace, health.name), "")
            else:
                said = f"exit code {crash.exit_code}, restarted {crash.restarts} times"
            key = IncidentKey(health.namespace, pod.workload, crash.image, cause)
            since = pod.crash_since.get(crash.container, now)
            found.append(Failure(key, health.name, health.node, said, since))
        troubles = (
            (Cause.UNSCHEDULABLE, health.unschedulable, "<unschedulable>"),
            (Cause.EVICTED, health.evicted, "<evicted>"),
        )
        for cause, words, marker in troubles:
            if words is None or not kind_enabled(self.alerts, cause):
                continue
            if self._deckhands(pod, health.image):
                continue
            since = pod.crash_since.get(marker, now)
            if cause is Cause.EVICTED and not still_failing(
                backing_off=False, last_seen=since, now=now, settle_s=settle
            ):
                continue
            key = IncidentKey(health.namespace, pod.workload, health.image, cause)
            found.append(Failure(key, health.name, health.node, words, since))
        return found

    def settles_at(self) -> datetime | None:
        """When the next crash or eviction stops counting (None: none is settling)."""
        now = self.clock.now()
        settle = timedelta(seconds=self.alerts.settle_s)
        ends = [
            seen + settle
            for pod in self.pods.values()
            for seen in pod.crash_seen.values()
            if seen + settle > now
        ]
        return min(ends, default=None)

    def failures(self) -> list[Failure]:
        found = []
        now = self.clock.now()
        for pod in self.pods.values():
            found.extend(self._health_failures(pod, now))
            for container in pod.pulls.failing:
                if self._deckhands(pod, container.image):
                    continue
                cause = pod.causes.get(container.container, Cause.UNKNOWN)
                key = IncidentKey(pod.pulls.namespace, pod.workload, container.image, cause)
                since = pod.since.get(container.container, self.clock.now())
                message = pod.messages.get(container.container, container.message)
                found.append(Failure(key, pod.pulls.name, pod.pulls.node, message, since))
        return found

    def pulling(self) -> set[tuple[str, str, str]]:
        """(namespace, workload, image) with a pod whose container hasn't pulled yet."""
        return {
            (pod.pulls.namespace, pod.workload, c.image)
            for pod in self.pods.values()
            for c in pod.pulls.containers
            if c.state is not PullState.PULLED
        }

    def pull_secrets(self, key: IncidentKey) -> Iterable[str]:
        """The image pull secrets the key's pods name (first seen first)."""
        for pod in self.pods.values():
            if (pod.pulls.namespace, pod.workload) == (key.namespace, key.workload):
                yield from pod.pulls.pull_secrets
