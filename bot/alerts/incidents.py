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

from bot.clock import parse_time
from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, NotFound
from bot.kube.kinds import KubeObject
from bot.state import Codec, ConfigMapStore
from commands.diagnosis import Cause
from commands.incidents import Incident, IncidentKey, Phase

_A = "deckhand.dev/"
RECORD_SELECTOR = f"{_A}record=incident"


def _to_data(incident: Incident) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and data of the ConfigMap that stores `incident` (pure)."""
    key = incident.key
    labels = {f"{_A}record": "incident", f"{_A}phase": incident.phase.value}
    return labels, {
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


CODEC: Codec[Incident] = Codec(lambda i: i.key.name, _to_data, from_configmap)
to_configmap = CODEC.to_configmap


@dataclass
class IncidentStore:
    """The incident ConfigMaps of Deckhand's namespace."""

    kube: KubeClient
    namespace: str

    @property
    def _store(self) -> ConfigMapStore[Incident]:
        return ConfigMapStore(self.kube, self.namespace, CODEC)

    async def load(self) -> dict[IncidentKey, Incident]:
        """Every stored incident (open and resolved), by key."""
        return {incident.key: incident for incident in await self._store.select(RECORD_SELECTOR)}

    async def claim(self, incident: Incident) -> tuple[Incident, bool]:
        """Store a new incident; (stored, True) if this call created it, else the one stored
        already and False. A resolved one in the way is replaced (compare-and-swap)."""
        with contextlib.suppress(Conflict):
            return await self._store.create(incident), True
        replaced = False

        def renew(stored: Incident) -> Incident | None:
            nonlocal replaced
            replaced = stored.phase is Phase.RESOLVED
            return incident if replaced else None

        return await self._store.update(incident.key.name, renew), replaced

    async def save(self, incident: Incident) -> Incident:
        """Write `incident` over the stored one (compare-and-swap, re-read on conflict)."""
        return await self._store.update(incident.key.name, lambda _: incident)

    async def forget(self, key: IncidentKey) -> None:
        """Delete the incident's ConfigMap (gone already is fine)."""
        with contextlib.suppress(NotFound):
            await self._store.delete(key.name)

    async def expire_resolved(self, *, before: datetime) -> int:
        """Delete incidents resolved before `before`; how many were deleted."""
        count = 0
        for incident in (await self.load()).values():
            resolved = incident.resolved_at
            if incident.phase is Phase.RESOLVED and resolved is not None and resolved < before:
                await self.forget(incident.key)
                count += 1
        return count
