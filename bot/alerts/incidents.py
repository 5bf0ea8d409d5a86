"""Incident state in the cluster: one ConfigMap per incident in Deckhand's namespace.

    ConfigMap deckhand-incident-<hash of the key>
      labels:  deckhand.dev/record=incident, deckhand.dev/phase=open|resolved
      data:    namespace, workload, image, cause, phase, opened_at, channel, ts,
               summarized, pods, peak_pods, nodes (JSON), message, diagnosis, fix,
               cause_label, resolved_at

The ConfigMap is written before the Slack message is posted (`claim`, ts empty) and
updated with its ts right after: a restarted Deckhand reads every open incident back
(`load`), so it neither posts a second alert nor forgets to resolve one. `claim` is the
dedup point: a 409 AlreadyExists means the incident is already known (it is returned
as stored), unless that one is resolved, which is then replaced by the new one
(compare-and-swap on its resourceVersion). Messages are redacted before they get here.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, NotFound
from bot.kube.kinds import CONFIGMAPS, KubeObject, meta
from bot.rollout.clock import parse_time
from commands.diagnosis import Cause
from commands.incidents import Incident, IncidentKey, Phase

_A = "deckhand.dev/"
RECORD_SELECTOR = f"{_A}record=incident"


def to_configmap(incident: Incident, *, namespace: str) -> KubeObject:
    """The ConfigMap that stores `incident` (pure)."""
    key = incident.key
    data = {
        "namespace": key.namespace,
        "workload": key.workload,
        "image": key.image,
        "cause": key.cause.value,
        "phase": incident.phase.value,
        "opened_at": incident.opened_at.isoformat(),
        "channel": incident.channel,
        "ts": incident.ts,
        "summarized": "true" if incident.summarized else "false",
        "pods": str(incident.pods),
        "peak_pods": str(incident.peak_pods),
        "nodes": json.dumps(list(incident.nodes)),
        "message": incident.message,
        "diagnosis": incident.diagnosis,
        "fix": incident.fix,
        "cause_label": incident.cause_label,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else "",
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": key.name,
            "namespace": namespace,
            "labels": {f"{_A}record": "incident", f"{_A}phase": incident.phase.value},
        },
        "data": data,
    }


def from_configmap(obj: KubeObject) -> Incident:
    """The incident a ConfigMap stores (pure); `ValueError` if it isn't one."""
    data: dict[str, str] = obj.get("data") or {}
    opened = parse_time(data.get("opened_at"))
    if opened is None or not data.get("namespace"):
        raise ValueError("not a Deckhand incident")
    key = IncidentKey(data["namespace"], data["workload"], data["image"], Cause(data["cause"]))
    return Incident(
        key=key,
        phase=Phase(data.get("phase", Phase.OPEN.value)),
        opened_at=opened,
        channel=data.get("channel", ""),
        ts=data.get("ts", ""),
        summarized=data.get("summarized") == "true",
        pods=int(data.get("pods") or 0),
        peak_pods=int(data.get("peak_pods") or 0),
        nodes=tuple(json.loads(data.get("nodes") or "[]")),
        message=data.get("message", ""),
        diagnosis=data.get("diagnosis", ""),
        fix=data.get("fix", ""),
        cause_label=data.get("cause_label", ""),
        resolved_at=parse_time(data.get("resolved_at")),
    )


@dataclass
class IncidentStore:
    """The incident ConfigMaps of Deckhand's namespace."""

    kube: KubeClient
    namespace: str

    async def load(self) -> dict[IncidentKey, Incident]:
        """Every stored incident (open and resolved), by key."""
        listed = await self.kube.list(
            CONFIGMAPS, namespace=self.namespace, label_selector=RECORD_SELECTOR
        )
        found = {}
        for obj in listed.items:
            try:
                incident = from_configmap(obj)
            except (ValueError, KeyError, TypeError):
                continue  # not ours to read
            found[incident.key] = incident
        return found

    async def claim(self, incident: Incident) -> tuple[Incident, bool]:
        """Store a new incident; (stored, True) if this call created it, else the one stored
        already and False. A resolved one in the way is replaced (compare-and-swap)."""
        body = to_configmap(incident, namespace=self.namespace)
        try:
            created = await self.kube.create(CONFIGMAPS, body, namespace=self.namespace)
            return from_configmap(created), True
        except Conflict:
            pass
        existing = await self.kube.get(CONFIGMAPS, incident.key.name, namespace=self.namespace)
        stored = from_configmap(existing)
        if stored.phase is not Phase.RESOLVED:
            return stored, False
        body["metadata"]["resourceVersion"] = meta(existing).get("resourceVersion")
        try:
            replaced = await self.kube.replace(CONFIGMAPS, body, namespace=self.namespace)
        except Conflict:
            latest = await self.kube.get(CONFIGMAPS, incident.key.name, namespace=self.namespace)
            return from_configmap(latest), False
        return from_configmap(replaced), True

    async def save(self, incident: Incident) -> Incident:
        """Write `incident` over the stored one (compare-and-swap, re-read on conflict)."""

        def change(obj: KubeObject) -> KubeObject:
            fresh = to_configmap(incident, namespace=self.namespace)
            fresh["metadata"] = {**obj["metadata"], "labels": fresh["metadata"]["labels"]}
            return fresh

        saved = await self.kube.update(
            CONFIGMAPS, incident.key.name, change, namespace=self.namespace
        )
        return from_configmap(saved)

    async def forget(self, key: IncidentKey) -> None:
        """Delete the incident's ConfigMap (gone already is fine)."""
        with contextlib.suppress(NotFound):
            await self.kube.delete(CONFIGMAPS, key.name, namespace=self.namespace)

    async def expire_resolved(self, *, before: datetime) -> int:
        """Delete incidents resolved before `before`; how many were deleted."""
        count = 0
        for incident in (await self.load()).values():
            resolved = incident.resolved_at
            if incident.phase is Phase.RESOLVED and resolved is not None and resolved < before:
                await self.forget(incident.key)
                count += 1
        return count
