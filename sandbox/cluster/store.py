"""The sandbox cluster's object store: an in-memory etcd plus the apiserver's registry logic.

Objects are plain JSON dicts, keyed by (resource, namespace, name). Every call
returns deep copies, so callers may modify what they get. One event loop only:
methods are synchronous and never yield, so each call is atomic.

What it models from the real apiserver:

* one global, monotonically increasing `resourceVersion` (as etcd's revision);
  a list's resourceVersion is the current revision;
* `create`: `uid`, `creationTimestamp` (from the `Clock`), `generateName`,
  `metadata.generation=1` for objects with a `spec`, server-side defaults and the
  small validation in `validation.py`; `AlreadyExists`; a namespaced object needs
  an existing namespace (404 `namespaces "x" not found`);
* `replace` (PUT): optimistic concurrency (409 Conflict on a stale
  `resourceVersion`; none means "unconditional"); the main resource ignores
  `status` and bumps `metadata.generation` when `spec` changes; the `status`
  subresource changes `status` only; a no-op write changes nothing (no new
  resourceVersion, no watch event);
* `delete`: objects with `metadata.finalizers` only get a `deletionTimestamp`
  (they go when the last finalizer is removed); then garbage collection deletes
  the dependents whose `ownerReferences` all point at deleted objects
  (background cascade: Deployment → ReplicaSets → Pods), or strips the
  reference with `propagation="Orphan"`; an object created when all its owners
  are already gone is collected at once; deleting a namespace deletes its
  contents. Pods are removed at once (no graceful termination period);
* `watch`: ADDED/MODIFIED/DELETED from a resourceVersion, from a bounded history
  (`history_limit` changes); an older resourceVersion raises `ApiError` 410
  Expired `too old resource version: N (M)`; with no resourceVersion (or "0")
  the watch starts with a synthetic ADDED for every existing object. With a
  label or field selector an object that starts matching arrives as ADDED and
  one that stops matching as DELETED, as in the real watch cache;
* `subscribe`: every change of every resource, for the controllers;
* pod logs: `append_log` (the kubelet stand-in writes), `read_log`.

* `metadata.managedFields` on every write (`fields.py`): the writer is the `manager`
  the HTTP layer passes (controllers write as `k3s`, as on a k3s server).

Not modelled: admission, RBAC (the HTTP layer has `deny`), server-side apply,
field-level immutability beyond names and uids.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sandbox.cluster import fields, validation
from sandbox.cluster.clock import Clock
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import EVENTS, NAMESPACES, PODS, RESOURCES, SERVICES, Resource
from sandbox.cluster.selectors import Matcher, matcher

Obj = dict[str, Any]
WatchEvent = tuple[str, Obj]
Change = tuple[str, Resource, Obj]

_T = TypeVar("_T")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # as apimachinery's utilrand.String
_NO_GENERATION = frozenset({"namespaces", "nodes"})
# Resources whose create ignores the status sent (the real strategies' PrepareForCreate).
_STATUS_SET_BY_SERVER = frozenset({"deployments", "replicasets", "pods", "services", "namespaces"})
CONTROLLER_MANAGER = "k3s"  # how k3s's embedded controllers and kubelet appear in managedFields


def clone(value: _T) -> _T:
    """A deep copy of a JSON value (faster than `copy.deepcopy` for dicts, lists, scalars)."""
    return cast(_T, _clone(value))


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _typed(resource: Resource, obj: Obj) -> Obj:
    """The object with the resource's apiVersion and kind, first (as the server prints them)."""
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": resource.api_version, "kind": resource.kind, **rest}


@dataclass(frozen=True)
class _Entry:
    """One change in the history: the object after it and, for MODIFIED, before it."""

    rv: int
    type: str
    resource: Resource
    obj: Obj
    old: Obj | None


class Watch:
    """An async iterator of `(type, object)` for one watch; `close()` ends it.

    Made by `Store.watch`, which raises ApiError (410 Expired, 400) before
    returning, so the caller knows about a too-old resourceVersion at once.
    """

    _CLOSED: Any = object()

    def __init__(
        self, store: Store, resource: Resource, namespace: str | None, match: Matcher
    ) -> None:
        self._store = store
        self.resource = resource
        self.namespace = namespace
        self._match = match
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._closed = False

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is self._CLOSED:
            self._closed = True
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Stop the watch; the iterator ends after the events already queued."""
        if not self._closed:
            self._closed = True
            self._store._watches.discard(self)
            self._queue.put_nowait(self._CLOSED)

    async def aclose(self) -> None:
        self.close()

    def _offer(self, entry: _Entry) -> None:
        event = self._translate(entry)
        if event is not None:
            self._queue.put_nowait(event)

    def _translate(self, entry: _Entry) -> WatchEvent | None:
        if entry.resource != self.resource:
            return None
        if self.namespace and entry.obj["metadata"].get("namespace") != self.namespace:
            return None
        now = self._match(entry.obj)
        if entry.type == "MODIFIED":
            before = entry.old is not None and self._match(entry.old)
            if now and before:
                return ("MODIFIED", clone(entry.obj))
            if now:
                return ("ADDED", clone(entry.obj))
            if before:
                return ("DELETED", clone(entry.obj))
            return None
        return (entry.type, clone(entry.obj)) if now else None


class Store:
    """In-memory objects of every resource, with watches and garbage collection."""

    def __init__(self, clock: Clock, *, history_limit: int = 10_000) -> None:
        self.clock = clock
        self._objects: dict[Resource, dict[tuple[str, str], Obj]] = {r: {} for r in RESOURCES}
        self._rv = 1
        self._history: deque[_Entry] = deque()
        self._history_limit = history_limit
        self._dropped_rv = 0  # newest resourceVersion that fell out of the history
        self._watches: set[Watch] = set()
        self._subscribers: list[asyncio.Queue[Change]] = []
        self._logs: dict[tuple[str, str, str], list[str]] = {}
        self._uids: set[str] = set()  # of the stored objects, for garbage collection
        self._random = random.Random()

    # ------------------------------------------------------------------ reads

    @property
    def resource_version(self) -> str:
        """The current revision (what a list returns as its resourceVersion)."""
        return str(self._rv)

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        """The object, or ApiError 404 NotFound."""
        return clone(self._get(resource, namespace, name))

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        copy: bool = True,
    ) -> tuple[builtins.list[Obj], str]:
        """Matching objects sorted by namespace and name, and the list's resourceVersion.

        `copy=False`: the stored objects themselves (the caller must not change them)."""
        match = matcher(resource.plural, label_selector, field_selector)
        if not resource.namespaced:
            namespace = None
        items = [
            clone(obj) if copy else obj
            for (ns, _), obj in sorted(self._objects[resource].items())
            if (not namespace or ns == namespace) and match(obj)
        ]
        return items, self.resource_version

    def _get(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        key = ((namespace or "") if resource.namespaced else "", name)
        obj = self._objects[resource].get(key)
        if obj is None:
            raise ApiError.not_found(resource.group_resource, name)
        return obj

    # ------------------------------------------------------------------ writes

    def create(
        self,
        resource: Resource,
        obj: Obj,
        *,
        namespace: str | None = None,
        dry_run: bool = False,
        manager: str = CONTROLLER_MANAGER,
    ) -> Obj:
        """Store a new object (see the module docstring); returns it as stored.

        `dry_run`: validate and return what would be stored (without a resourceVersion),
        changing nothing (`?dryRun=All`); the same for `replace` and `delete`.
        `manager`: who writes, for `managedFields`."""
        new = clone(obj)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        validation.check_types(resource, new)
        if resource.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
            namespace = ""
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(resource, namespace, meta["generateName"])
        new = _typed(resource, new)
        meta = new["metadata"]
        if resource.plural in _STATUS_SET_BY_SERVER:
            new.pop("status", None)
        validation.default(resource, new)
        validation.validate(resource, new, None)
        if resource == SERVICES:
            self._allocate_cluster_ip(new)
        name = meta["name"]
        if resource.namespaced and namespace not in self._namespaces():
            raise ApiError.not_found(NAMESPACES.group_resource, namespace)
        if (namespace, name) in self._objects[resource]:
            raise ApiError.already_exists(resource.group_resource, name)
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.clock.timestamp()
        if "spec" in new and resource.plural not in _NO_GENERATION:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        meta["managedFields"] = fields.record(
            None,
            new,
            manager=manager,
            api_version=resource.api_version,
            time=self.clock.timestamp(),
        )
        if dry_run:
            return clone(new)
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._objects[resource][(namespace, name)] = new
        self._uids.add(meta["uid"])
        self._publish(_Entry(self._rv, "ADDED", resource, new, None))
        refs = meta.get("ownerReferences") or []
        if refs and not any(ref.get("uid") in self._uids for ref in refs):
            # Every owner is already gone: the garbage collector deletes it right away.
            self._remove(resource, new, "Background")
        return clone(new)

    def replace(
        self,
        resource: Resource,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        manager: str = CONTROLLER_MANAGER,
        fields_subresource: str | None = None,
    ) -> Obj:
        """PUT the object named in `obj.metadata`; 409 Conflict on a stale resourceVersion.

        `fields_subresource`: the subresource managedFields name for this write (`scale`
        writes the main resource)."""
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        namespace = meta.get("namespace") if resource.namespaced else ""
        old = self._get(resource, namespace, name)
        wanted = meta.get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(resource.group_resource, name)
        if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
            raise ApiError.conflict(
                resource.group_resource,
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                f"{old['metadata']['uid']}",
            )
        return self._update(
            resource, old, obj, subresource, dry_run, manager, fields_subresource or subresource
        )

    def mutate(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        fn: Callable[[Obj], object],
        *,
        subresource: str | None = None,
        manager: str = CONTROLLER_MANAGER,
    ) -> Obj:
        """Read-modify-write without a conflict check (for controllers): `fn` edits a copy."""
        old = self._get(resource, namespace, name)
        new = clone(old)
        fn(new)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(resource, old, new, subresource, manager=manager)

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Delete (or, with finalizers, mark for deletion); returns the object's last state.

        `uid` / `resource_version` are DeleteOptions preconditions (409 Conflict on mismatch).
        """
        obj = self._get(resource, namespace, name)
        meta = obj["metadata"]
        if uid and uid != meta["uid"]:
            raise ApiError.conflict(
                resource.group_resource,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{meta['uid']}",
            )
        if resource_version and resource_version != meta["resourceVersion"]:
            raise ApiError.conflict(
                resource.group_resource,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{resource_version}, ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return clone(obj)
            marked = clone(obj)
            marked["metadata"]["deletionTimestamp"] = self.clock.timestamp()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            return clone(marked) if dry_run else self._write(resource, obj, marked)
        return clone(obj) if dry_run else self._remove(resource, obj, propagation)

    def _update(
        self,
        resource: Resource,
        old: Obj,
        new: Obj,
        subresource: str | None,
        dry_run: bool = False,
        manager: str = CONTROLLER_MANAGER,
        fields_subresource: str | None = None,
    ) -> Obj:
        new = clone(new)
        if subresource == "status":
            candidate = clone(old)
            if "status" in new:
                candidate["status"] = new["status"]
            else:
                candidate.pop("status", None)
        elif subresource is None:
            candidate = new
            if "status" in resource.subresources:
                if "status" in old:
                    candidate["status"] = clone(old["status"])
                else:
                    candidate.pop("status", None)
        else:
            raise ApiError.no_route()
        if not isinstance(candidate.get("metadata"), dict):
            candidate["metadata"] = {}
        meta = candidate["metadata"]
        for field in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "managedFields",
        ):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        candidate = _typed(resource, candidate)
        meta = candidate["metadata"]
        if subresource is None:
            validation.check_types(resource, candidate)
            validation.default(resource, candidate)
            validation.validate(resource, candidate, old)
        if "generation" in meta and candidate.get("spec") != old.get("spec"):
            meta["generation"] = int(meta["generation"]) + 1
        if candidate != old:
            meta["managedFields"] = fields.record(
                old,
                candidate,
                manager=manager,
                api_version=resource.api_version,
                time=self.clock.timestamp(),
                subresource=fields_subresource or subresource,
            )
        if candidate == old or dry_run:
            return clone(candidate)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(resource, candidate, "Background")
        return self._write(resource, old, candidate)

    def _write(self, resource: Resource, old: Obj, new: Obj) -> Obj:
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        key = (new["metadata"].get("namespace", ""), new["metadata"]["name"])
        self._objects[resource][key] = new
        self._publish(_Entry(self._rv, "MODIFIED", resource, new, old))
        return clone(new)

    def _remove(self, resource: Resource, obj: Obj, propagation: str) -> Obj:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if self._objects[resource].pop(key, None) is None:
            return clone(obj)
        self._uids.discard(meta["uid"])
        self._rv += 1
        gone = clone(obj)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._publish(_Entry(self._rv, "DELETED", resource, gone, None))
        if resource == PODS:
            for log_key in [k for k in self._logs if k[:2] == key]:
                del self._logs[log_key]
        if resource == NAMESPACES:
            for other, objects in self._objects.items():
                for (ns, _), child in sorted(objects.items()):
                    if ns == meta["name"] and other.namespaced:
                        self._remove(other, child, "Background")
        self._collect_dependents(meta["uid"], propagation)
        return clone(gone)

    def _collect_dependents(self, uid: str, propagation: str) -> None:
        """The garbage collector, run at once: a deleted owner's dependents go (or are orphaned)."""
        for resource, objects in self._objects.items():
            for obj in list(objects.values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == uid for ref in refs):
                    continue
                if propagation == "Orphan" or any(ref.get("uid") in self._uids for ref in refs):
                    kept = [ref for ref in refs if ref.get("uid") != uid]
                    orphan = clone(obj)
                    orphan["metadata"]["ownerReferences"] = kept
                    if not kept:
                        del orphan["metadata"]["ownerReferences"]
                    self._write(resource, obj, orphan)
                else:
                    current = self._objects[resource].get(
                        (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                    )
                    if current is not None:
                        self.delete(
                            resource,
                            current["metadata"].get("namespace"),
                            current["metadata"]["name"],
                        )

    def _allocate_cluster_ip(self, service: Obj) -> None:
        """Give a ClusterIP/NodePort/LoadBalancer Service a free 10.96.0.0/16 address."""
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        if not spec.get("clusterIP"):
            used = {s.get("spec", {}).get("clusterIP") for s in self._objects[SERVICES].values()}
            for n in range(1, 65535):
                ip = f"10.96.{n // 256}.{n % 256}"
                if ip not in used and n % 256 != 0:
                    spec["clusterIP"] = ip
                    break
        spec["clusterIPs"] = [spec["clusterIP"]]

    def _namespaces(self) -> set[str]:
        return {name for _, name in self._objects[NAMESPACES]}

    def _generate_name(self, resource: Resource, namespace: str, prefix: str) -> str:
        for _ in range(100):
            name = prefix + "".join(self._random.choice(_NAME_CHARS) for _ in range(5))
            if (namespace, name) not in self._objects[resource]:
                return name
        raise ApiError(
            409,
            "AlreadyExists",
            f'{resource.group_resource} "{prefix}" already exists, the server was not '
            "able to generate a unique name for the object",
        )

    # ------------------------------------------------------------------ changes

    def _publish(self, entry: _Entry) -> None:
        self._history.append(entry)
        while len(self._history) > self._history_limit:
            self._dropped_rv = self._history.popleft().rv
        for watch in list(self._watches):
            watch._offer(entry)
        for queue in self._subscribers:
            queue.put_nowait((entry.type, entry.resource, clone(entry.obj)))

    def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watch:
        """Changes of one resource after `resource_version` (see the module docstring).

        Raises at once: ApiError 410 Expired for a resourceVersion older than the
        history, 400 for a malformed selector or resourceVersion.
        """
        match = matcher(resource.plural, label_selector, field_selector)
        if not resource.namespaced:
            namespace = None
        watch = Watch(self, resource, namespace, match)
        if resource_version in (None, "", "0"):
            items, _ = self.list(
                resource, namespace, label_selector=label_selector, field_selector=field_selector
            )
            for item in items:
                watch._queue.put_nowait(("ADDED", item))
        else:
            assert resource_version is not None
            try:
                since = int(resource_version)
            except ValueError:
                raise ApiError.bad_request(
                    f'invalid resource version "{resource_version}"'
                ) from None
            if since < self._dropped_rv:
                oldest = self._history[0].rv if self._history else self._rv
                raise ApiError.expired(f"too old resource version: {since} ({oldest - 1})")
            for entry in self._history:
                if entry.rv > since:
                    watch._offer(entry)
        self._watches.add(watch)
        return watch

    def subscribe(self) -> asyncio.Queue[Change]:
        """A queue of `(type, resource, object)` for every later change of every resource."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def wait_until(self, predicate: Callable[[], bool], *, within_s: float) -> None:
        """Until `predicate()` holds, re-checked after every change of any resource (the
        cluster's twin of `LocalSlack.wait_until`). Raises `TimeoutError` after `within_s`."""
        changes = self.subscribe()
        try:
            async with asyncio.timeout(within_s):
                while not predicate():
                    await changes.get()
        finally:
            self.unsubscribe(changes)

    def close(self) -> None:
        """End every open watch (at server shutdown)."""
        for watch in list(self._watches):
            watch.close()

    # ------------------------------------------------------------------ helpers

    def record_event(
        self,
        involved: Obj,
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        component: str = "sandbox",
    ) -> Obj:
        """Create a core/v1 Event about `involved`, or count a repeat of the same one."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        now = self.clock.timestamp()
        for (ns, _), event in self._objects[EVENTS].items():
            ref = event.get("involvedObject", {})
            if (
                ns == namespace
                and ref.get("uid") == meta.get("uid")
                and event.get("reason") == reason
                and event.get("message") == message
                and event.get("type") == type
            ):

                def bump(ev: Obj) -> None:
                    ev["count"] = int(ev.get("count", 1)) + 1
                    ev["lastTimestamp"] = now

                return self.mutate(EVENTS, ns, event["metadata"]["name"], bump)
        stamp = format(int(self.clock.now().timestamp() * 1e9), "x")
        event = {
            "metadata": {"name": f"{meta['name']}.{stamp}", "namespace": namespace},
            "involvedObject": {
                "kind": involved.get("kind"),
                "namespace": namespace,
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": involved.get("apiVersion"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        return self.create(EVENTS, event, namespace=namespace)

    def append_log(self, namespace: str, pod: str, container: str, line: str) -> None:
        """Add one line to a container's log (what `kubectl logs` shows)."""
        self._logs.setdefault((namespace, pod, container), []).append(line.rstrip("\n"))

    def read_log(
        self, namespace: str, pod: str, container: str | None = None, *, tail: int | None = None
    ) -> builtins.list[str]:
        """A container's log lines (the pod's first container when `container` is None).

        ApiError 404 for a missing pod, 400 for a container the pod does not have
        (with the real server's texts).
        """
        obj = self._get(PODS, namespace, pod)
        names = [c.get("name") for c in obj.get("spec", {}).get("containers", [])]
        if container is None:
            if len(names) > 1:
                raise ApiError.bad_request(
                    f"a container name must be specified for pod {pod}, choose one of: "
                    f"[{' '.join(names)}]"
                )
            container = names[0] if names else ""
        elif container not in names:
            raise ApiError.bad_request(f"container {container} is not valid for pod {pod}")
        lines = self._logs.get((namespace, pod, container), [])
        if tail is not None and tail >= 0:
            lines = lines[len(lines) - tail :] if tail else []
        return list(lines)
