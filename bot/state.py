"""State kept in the cluster: typed records stored as ConfigMaps in Deckhand's namespace.

Deploy records (`bot.rollout.records`), approval requests (`bot.approvals.store`) and
alert incidents (`bot.alerts.incidents`) share this one mechanism, `ConfigMapStore[T]`;
a `Codec[T]` maps one kind of record to a ConfigMap: `name(record)` (stable for the
record's life), `to_data(record)` → (labels, data), and `from_configmap(obj)` → the
record, raising `ValueError` (or `KeyError`/`TypeError`) for a ConfigMap that isn't one.

Why ConfigMaps: the state must survive restarts and be shared by replicas; they need no
CRD (no cluster-admin), only RBAC on Deckhand's namespace, and `kubectl` shows them.

Compare-and-swap on resourceVersion: `update(name, change)` reads, asks `change(record)`
for the new record (None: keep it, nothing is written) and writes it with the version it
read. If someone wrote in between, the API answers 409; it reads and asks again (bounded,
`KubeOptions.conflict_backoff_s`). No update is lost, and `change` must be a pure
decision on its argument: it may run more than once.

Labels for selection: the API filters by label selector, data is not searchable. Labels
are rewritten from the record on every update (a record changing phase changes
selections); other metadata is kept. `select` skips ConfigMaps with our labels that
don't decode: someone else's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.kube.client import KubeClient
from bot.kube.kinds import CONFIGMAPS, KubeObject

T = TypeVar("T")

Change = Callable[[T], T | None]
"""The stored record → the record to write, or None to keep it as it is."""


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How records of one kind map to ConfigMaps (all three functions pure)."""

    name: Callable[[T], str]
    to_data: Callable[[T], tuple[dict[str, str], dict[str, str]]]
    from_configmap: Callable[[KubeObject], T]

    def to_configmap(self, record: T, *, namespace: str) -> KubeObject:
        """The ConfigMap that stores `record` (pure)."""
        labels, data = self.to_data(record)
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": self.name(record), "namespace": namespace, "labels": labels},
            "data": data,
        }


@dataclass
class ConfigMapStore(Generic[T]):
    """The records of one codec in one namespace (see the module docstring)."""

    kube: KubeClient
    namespace: str
    codec: Codec[T]

    async def create(self, record: T) -> T:
        """Store a new record; `Conflict` if its ConfigMap exists already."""
        body = self.codec.to_configmap(record, namespace=self.namespace)
        created = await self.kube.create(CONFIGMAPS, body, namespace=self.namespace)
        return self.codec.from_configmap(created)

    async def get(self, name: str) -> T:
        """The stored record; `NotFound` if there is none, `ValueError` if it isn't one."""
        obj = await self.kube.get(CONFIGMAPS, name, namespace=self.namespace)
        return self.codec.from_configmap(obj)

    async def update(self, name: str, change: Change[T]) -> T:
        """Compare-and-swap: `change(stored)` → new record (None: keep); what is stored after.
        `change` may run more than once (on 409)."""

        def on_object(obj: KubeObject) -> KubeObject | None:
            new = change(self.codec.from_configmap(obj))
            if new is None:
                return None
            fresh = self.codec.to_configmap(new, namespace=self.namespace)
            fresh["metadata"] = {**obj["metadata"], "labels": fresh["metadata"]["labels"]}
            return fresh

        obj = await self.kube.update(CONFIGMAPS, name, on_object, namespace=self.namespace)
        return self.codec.from_configmap(obj)

    async def select(self, label_selector: str) -> list[T]:
        """The records whose ConfigMaps match `label_selector`, in the API's order."""
        listed = await self.kube.list(
            CONFIGMAPS, namespace=self.namespace, label_selector=label_selector
        )
        found = []
        for obj in listed.items:
            try:
                found.append(self.codec.from_configmap(obj))
            except (ValueError, KeyError, TypeError):
                continue  # someone else's ConfigMap with our label: not ours to read
        return found

    async def delete(self, name: str) -> None:
        """Delete the record's ConfigMap; `NotFound` if there is none."""
        await self.kube.delete(CONFIGMAPS, name, namespace=self.namespace)
