"""Recording core/v1 Events the way client-go's recorder does, with repeat counting.

A repeat of the same event (same object, field path, type, reason, message and
source) bumps `count` and `lastTimestamp` of the existing Event instead of making a
new one, as client-go's `EventCorrelator` does; `kubectl get events` then shows
`(x4 over 40s)`. The recorder keeps an index of the events it made, so a repeat
costs one lookup (no scan of every event in the namespace).

Event names are `<object name>.<hex nanoseconds>`, unique and increasing.
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import EVENTS
from sandbox.cluster.store import Store

Obj = dict[str, Any]
_Key = tuple[str, str, str, str, str, str, str, str]


class EventRecorder:
    """`record()` an event about an object; the texts come from `texts`."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._index: dict[_Key, str] = {}
        self._by_uid: dict[str, set[_Key]] = {}
        self._last_stamp = 0

    def record(
        self,
        involved: Obj,
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        component: str,
        host: str = "",
        field_path: str = "",
    ) -> None:
        """Create the event, or count a repeat of it. Never raises for a vanished event."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        uid = meta.get("uid") or ""
        key: _Key = (namespace, uid, field_path, type, reason, message, component, host)
        now = self.clock.timestamp()
        name = self._index.get(key)
        if name is not None:

            def bump(event: Obj) -> None:
                event["count"] = int(event.get("count") or 1) + 1
                event["lastTimestamp"] = now

            try:
                self.store.mutate(EVENTS, namespace, name, bump)
                return
            except ApiError as e:
                if e.code != 404:
                    raise
        name = f"{meta['name']}.{self._stamp()}"
        involved_ref: Obj = {
            "kind": involved.get("kind"),
            "namespace": namespace,
            "name": meta["name"],
            "uid": uid,
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        if field_path:
            involved_ref["fieldPath"] = field_path
        source: Obj = {"component": component}
        if host:
            source["host"] = host
        event: Obj = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved_ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        try:
            self.store.create(EVENTS, event, namespace=namespace)
        except ApiError as e:
            if e.code == 404:  # the namespace is being deleted: nothing to record into
                return
            raise
        self._index[key] = name
        self._by_uid.setdefault(uid, set()).add(key)

    def forget(self, uid: str) -> None:
        """Stop counting repeats for a deleted object (its events stay in the store)."""
        for key in self._by_uid.pop(uid, set()):
            self._index.pop(key, None)

    def _stamp(self) -> str:
        nanos = int(self.clock.now().timestamp() * 1e9)
        self._last_stamp = max(nanos, self._last_stamp + 1)
        return format(self._last_stamp, "x")
