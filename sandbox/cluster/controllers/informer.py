"""The machinery every controller shares: a cache of objects, work queues, supervised tasks.

* `Cache` is what client-go's informers are to a real controller: the latest copy
  of every object the controllers look at, fed by `Store.subscribe()`, plus an index
  of dependents by owner uid so "the pods of this ReplicaSet" costs O(its pods), not
  a scan of every pod. Controllers also `apply()` what their own writes return, so
  a second sync never acts on a view older than its own last write (what client-go
  needs "expectations" for). Objects in the cache are shared: never modify them.
* `WorkQueue` holds dirty keys (set semantics, as client-go's workqueue): a burst of
  100 events about one Deployment is one sync. `add_after()` re-queues a key later
  in scaled time (progress deadlines, minReadySeconds), keeping only the earliest
  pending timer per key.
* `TaskSet` spawns named tasks, keeps the references, logs a task that dies and
  cancels all of them on shutdown, so no task outlives `Controllers.stop()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Any

from sandbox.cluster.clock import Clock
from sandbox.cluster.resources import Resource

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _rv(obj: Obj) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class Cache:
    """Latest objects of some resources, with a controller-owner index (see module doc)."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self._objects: dict[Resource, dict[Key, Obj]] = {r: {} for r in resources}
        self._owned: dict[Resource, dict[str, dict[Key, None]]] = {r: {} for r in resources}

    def watches(self, resource: Resource) -> bool:
        return resource in self._objects

    def get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        return self._objects[resource].get((namespace, name))

    def all(self, resource: Resource) -> list[Obj]:
        return list(self._objects[resource].values())

    def owned(self, resource: Resource, owner_uid: str, namespace: str) -> list[Obj]:
        """Objects of `resource` in `namespace` whose controller is `owner_uid`."""
        keys = self._owned[resource].get(owner_uid, {})
        objects = self._objects[resource]
        return [objects[k] for k in keys if k[0] == namespace and k in objects]

    def apply(self, kind: str, resource: Resource, obj: Obj) -> Obj | None:
        """Take an ADDED/MODIFIED/DELETED object; return the one it replaced (None if new).

        An object older than the cached one (by resourceVersion) is ignored, except
        a deletion, which always wins.
        """
        if resource not in self._objects:
            return None
        objects = self._objects[resource]
        key = key_of(obj)
        old = objects.get(key)
        if kind == "DELETED":
            if old is not None and old["metadata"].get("uid") != obj["metadata"].get("uid"):
                return None  # a newer object of the same name already replaced it
            objects.pop(key, None)
            self._unindex(resource, key, old or obj)
            return old
        if (
            old is not None
            and old["metadata"].get("uid") == obj["metadata"].get("uid")
            and _rv(old) > _rv(obj)
        ):
            return old
        if old is not None:
            self._unindex(resource, key, old)
        objects[key] = obj
        ref = controller_of(obj)
        if ref is not None and ref.get("uid"):
            self._owned[resource].setdefault(ref["uid"], {})[key] = None
        return old

    def _unindex(self, resource: Resource, key: Key, obj: Obj) -> None:
        ref = controller_of(obj)
        if ref is None or not ref.get("uid"):
            return
        bucket = self._owned[resource].get(ref["uid"])
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del self._owned[resource][ref["uid"]]


class TaskSet:
    """Named, referenced tasks; `cancel_all()` ends them and waits (bounded)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox controller task %s died", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self, grace: float = 5.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


class Timers:
    """`loop.call_later` in scaled seconds, every handle kept so `cancel_all()` can end them."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._handles: set[asyncio.TimerHandle] = set()

    def after(self, seconds: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            callback()

        handle = loop.call_later(self.clock.wall(max(0.0, seconds)), fire)
        self._handles.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle) -> None:
        handle.cancel()
        self._handles.discard(handle)

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()


class WorkQueue:
    """Dirty keys for one controller, drained by one worker task (see module doc).

    A key whose last sync took `t` wall seconds is not synced again within
    `HOLD_FACTOR * t`: a ReplicaSet of 5,000 pods, whose every pod change marks it
    dirty, is then synced a few dozen times a second instead of once per change
    (each sync is O(its pods)), while a small one is synced at once.
    """

    HOLD_FACTOR = 4.0

    def __init__(self, name: str, timers: Timers) -> None:
        self.name = name
        self._timers = timers
        self._dirty: dict[Hashable, None] = {}
        self._wake = asyncio.Event()
        self._later: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}
        self._hold: dict[Hashable, float] = {}  # key -> loop time before which it waits
        self._held: dict[Hashable, asyncio.TimerHandle] = {}

    def add(self, key: Hashable) -> None:
        hold = self._hold.get(key)
        if hold is not None:
            wait = hold - asyncio.get_running_loop().time()
            if wait > 0:
                if key not in self._held:
                    self._held[key] = self._timers.after(
                        wait * self._timers.clock.speed, lambda: self._release(key)
                    )
                return
            del self._hold[key]
        self._dirty[key] = None
        self._wake.set()

    def _release(self, key: Hashable) -> None:
        self._held.pop(key, None)
        self._hold.pop(key, None)
        self.add(key)

    def add_after(self, key: Hashable, seconds: float) -> None:
        due = self._timers.clock.monotonic() + seconds
        pending = self._later.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            self._timers.cancel(pending[1])

        def fire() -> None:
            self._later.pop(key, None)
            self.add(key)

        self._later[key] = (due, self._timers.after(seconds, fire))

    def __len__(self) -> int:
        return len(self._dirty)

    async def run(self, sync: Callable[[Any], None], *, retry_after: float = 1.0) -> None:
        """Forever: take every dirty key and `sync` it; a failed sync is retried later."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                key = next(iter(self._dirty))
                del self._dirty[key]
                began = time.perf_counter()
                try:
                    sync(key)
                except Exception:
                    log.exception("%s: sync of %s failed; retrying", self.name, key)
                    self.add_after(key, retry_after)
                hold = (time.perf_counter() - began) * self.HOLD_FACTOR
                if hold > 0.001:
                    self._hold[key] = loop.time() + hold
                # Let the dispatcher and the API server breathe between keys.
                await asyncio.sleep(0)
