"""Watch one Deployment's rollout: the Deployment, its ReplicaSets, their pods and pod events.

`observe(kube, namespace=…, deployment=…, selector=…)` is an async context manager
that runs the watches (`bot.kube.watch`, no polling) as background tasks and merges what
they see into one `RolloutView`, a plain snapshot the pure decisions of
`commands.rollout_decisions` read. The Deployment, ReplicaSets and pods are watched from
the start (each watch's first events are the current state); pod events only once the
caller asks for them (`Changes.want_events`: a pod shows trouble, or a verdict of failure
is near), then listed whole and watched: a rollout that goes well never reads them.
The caller waits for the next change with `await changes.next(timeout_s)`; a watch
that fails for good (forbidden, not found) surfaces there as its `KubeError`. An
unreachable API is not such a failure: the watches are persistent, and
`changes.lost_for_s(now)` says how long contact has been lost (None while every watch
is in contact; each loss and return wakes `next`).
Leaving the context cancels the watches and closes their streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS, EVENTS, PODS, REPLICASETS, Kind, KubeObject, meta
from bot.kube.watch import WatchEvent, watch
from bot.tasks import background

MAX_EVENTS_PER_POD = 20
EVENTS_LISTED = "events-listed"
"""Queued after the lazily opened events watch's initial list (see `Changes.want_events`)."""


@dataclass
class RolloutView:
    """The latest state of everything a rollout involves (JSON as the API sends it)."""

    deployment: KubeObject | None = None
    deleted: bool = False
    """The Deployment was deleted while followed (None before it was first seen)."""
    replicasets: dict[str, KubeObject] = field(default_factory=dict)
    pods: dict[str, KubeObject] = field(default_factory=dict)
    events: dict[str, list[KubeObject]] = field(default_factory=dict)
    """Pod name → its events, oldest first (the last `MAX_EVENTS_PER_POD`)."""

    def apply(self, source: str, event: WatchEvent) -> None:
        obj = event.object
        name = str(meta(obj).get("name", ""))
        if source == "deployment":
            self.deleted = event.type == "DELETED"
            self.deployment = None if self.deleted else obj
        elif source in ("replicasets", "pods"):
            table = self.replicasets if source == "replicasets" else self.pods
            if event.type == "DELETED":
                table.pop(name, None)
            else:
                table[name] = obj
        elif source == "events" and event.type == "DELETED":
            # By name: a DELETED told after a re-list carries only the event's identity.
            for pod, kept in self.events.items():
                self.events[pod] = [e for e in kept if meta(e).get("name") != name]
        elif source == "events":
            pod = str((obj.get("involvedObject") or {}).get("name", ""))
            kept = [e for e in self.events.get(pod, []) if meta(e).get("name") != name]
            self.events[pod] = [*kept, obj][-MAX_EVENTS_PER_POD:]


@dataclass(frozen=True)
class Contact:
    """A watch lost contact with the API (`why`), or regained it (`why` None)."""

    source: str
    why: str | None
    at: float
    """`Clock.monotonic()` when it was noticed."""


class Changes:
    """The merged feed of the watches: `next()` applies what arrived to the view."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.view = RolloutView()
        self._monotonic = monotonic
        self._queue: asyncio.Queue[tuple[str, WatchEvent] | Contact | KubeError | str] = (
            asyncio.Queue()
        )
        self._lost: dict[str, float] = {}
        self.why_lost = ""
        self.events_wanted = asyncio.Event()
        self._events_listed = False

    def want_events(self) -> bool:
        """Ask for the pods' events (from now on); True until the view holds all of them
        (their list has been applied): a judgement that needs them must wait."""
        self.events_wanted.set()
        return not self._events_listed

    def events_listed(self) -> None:
        """The events watch's `on_listed`: every listed event is queued before this."""
        self._queue.put_nowait(EVENTS_LISTED)

    def lost_for_s(self, now: float) -> float | None:
        """Seconds since the first watch still out of contact lost it; None in contact."""
        return now - min(self._lost.values()) if self._lost else None

    def contact(self, source: str) -> Callable[[str | None], None]:
        """The `on_contact` of `source`'s watch."""

        def told(why: str | None) -> None:
            self._queue.put_nowait(Contact(source, why, self._monotonic()))

        return told

    async def next(self, timeout_s: float | None) -> bool:
        """Wait up to `timeout_s` (wall seconds) for changes; True if any arrived.

        Everything already queued is applied at once so a decision sees the newest state.
        """
        try:
            async with asyncio.timeout(timeout_s):
                item = await self._queue.get()
        except TimeoutError:
            return False
        self._take(item)
        while not self._queue.empty():
            self._take(self._queue.get_nowait())
        return True

    def _take(self, item: tuple[str, WatchEvent] | Contact | KubeError | str) -> None:
        if isinstance(item, KubeError):
            raise item
        if isinstance(item, str):  # EVENTS_LISTED
            self._events_listed = True
            return
        if isinstance(item, Contact):
            if item.why is None:
                self._lost.pop(item.source, None)
            else:
                self._lost.setdefault(item.source, item.at)
                self.why_lost = item.why
            return
        self.view.apply(*item)

    async def feed_when_wanted(
        self, source: str, events: Callable[[], AsyncGenerator[WatchEvent, None]]
    ) -> None:
        """`feed` once `want_events` was called."""
        await self.events_wanted.wait()
        await self.feed(source, events())

    async def feed(self, source: str, events: AsyncGenerator[WatchEvent, None]) -> None:
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    await self._queue.put((source, event))
        except KubeError as e:
            await self._queue.put(e)


def selector_of(deployment: KubeObject) -> str:
    """The Deployment's `spec.selector.matchLabels` as a label selector string."""
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@contextlib.asynccontextmanager
async def observe(
    kube: KubeClient,
    *,
    namespace: str,
    deployment: str,
    selector: str,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Changes]:
    """Watch the rollout of `deployment` (pods and ReplicaSets matched by `selector`);
    `monotonic` stamps when contact was lost (the follower's clock)."""
    changes = Changes(monotonic)
    queries: dict[str, tuple[Kind, str | None, str | None]] = {  # kind, fields, labels
        "deployment": (DEPLOYMENTS, f"metadata.name={deployment}", None),
        "replicasets": (REPLICASETS, None, selector),
        "pods": (PODS, None, selector),
    }
    feeders: dict[str, Coroutine[Any, Any, None]] = {
        f"watch-{source}-{namespace}/{deployment}": changes.feed(
            source,
            watch(
                kube,
                kind,
                namespace=namespace,
                field_selector=fields,
                label_selector=labels,
                persistent=True,
                on_contact=changes.contact(source),
                list_first=False,  # the current state comes as the watch's first events
            ),
        )
        for source, (kind, fields, labels) in queries.items()
    }

    def events() -> AsyncGenerator[WatchEvent, None]:
        return watch(
            kube,
            EVENTS,
            namespace=namespace,
            field_selector="involvedObject.kind=Pod",
            persistent=True,
            on_contact=changes.contact("events"),
            on_listed=changes.events_listed,  # listed first: the view knows when it has all
        )

    feeders[f"watch-events-{namespace}/{deployment}"] = changes.feed_when_wanted("events", events)
    async with background(feeders):
        yield changes
