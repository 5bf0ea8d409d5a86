"""Leader election: with several Deckhand replicas, exactly one runs the run-once work.

    work = LeaderWork(round_timeout_s=60, retry_s=5)
    work.on_gained("warm-up", prime_caches)                       # once per leadership
    work.every("deploy-sweep", 60, flow.sweep)                    # at once, then every 60 s
    work.throughout("alerts", alerts.run)                         # as long as it leads
    elector = LeaderElector(kube, namespace="deckhand", identity=settings.pod_name)
    supervisor.keep(lambda: elector.run(work.tasks()), name="leader-election")

`LeaderWork` is what only the leader does. Every job starts the moment leadership is
GAINED (not after an interval) and again each time it is regained; an `every` job then
keeps its interval. A round that fails on the cluster (`KubeError`) or overruns
`round_timeout_s` is logged; a run-once job is then tried again after `retry_s`, a
periodic one at its next round. Any other exception is a bug: the task fails, which
gives leadership up (below), and the next leader starts the work afresh.

The leader holds the `coordination.k8s.io/v1` Lease `deckhand-leader` in Deckhand's
namespace (`holderIdentity` = this pod's name). Contract:

- Campaign: every `retry_period_s` the elector reads the Lease and takes it when it is
  free (no holder) or expired (`renewTime + leaseDurationSeconds` is past). Every write
  is compare-and-swap on the Lease's resourceVersion (`KubeClient.update`/`create`): of
  two replicas racing, one wins and the other sees the new holder.
- Lead: while leading, each factory of `run(tasks)` runs as a named task; the Lease is
  renewed every `retry_period_s`. If no renewal succeeded for `renew_deadline_s`, or
  another holder is found, leadership is lost: the tasks are cancelled (and awaited)
  before `is_leader` turns False and the campaign starts again. A task that ends, fails
  or is cancelled by someone else gives leadership up too (logged), so another replica
  (or a new campaign, one retry period later) runs the work again.
- Stop: cancelling `run` cancels the tasks, then releases the Lease (holder cleared) so a
  follower takes over at once, unless `release_on_exit` is False. A replica that dies
  without releasing is replaced within `lease_duration_s` (+ one retry period).

`renew_deadline_s` must be shorter than `lease_duration_s`: a leader gives up its work
before any follower may consider the Lease expired.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock, SystemClock, micro_time
from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, KubeError, NotFound
from bot.kube.kinds import LEASES, KubeObject
from bot.kube.lease import live_holder
from bot.tasks import background

log = logging.getLogger(__name__)

LEASE_NAME = "deckhand-leader"
TaskFactory = Callable[[], Coroutine[Any, Any, None]]


class _Held(Exception):
    """Someone else holds a live lease."""


Job = Callable[[], Awaitable[object]]


@dataclass
class LeaderWork:
    """The leader-only jobs, as the elector's `tasks` (see the module docstring)."""

    round_timeout_s: float = 60.0
    """Deadline of one round of a job (wall seconds)."""
    retry_s: float = 5.0
    """After a failed round of a run-once job, the next attempt comes this much later."""
    _tasks: dict[str, TaskFactory] = field(default_factory=dict, init=False)

    def on_gained(self, name: str, job: Job) -> None:
        """Run `job` once each time leadership is gained (retried until it succeeds)."""
        self._add(name, lambda: self._once(name, job))

    def every(self, name: str, interval_s: float, job: Job) -> None:
        """Run `job` at once when leadership is gained, then every `interval_s`."""
        self._add(name, lambda: self._periodic(name, interval_s, job))

    def throughout(self, name: str, factory: TaskFactory) -> None:
        """Run `factory()` for as long as this replica leads (it must not return)."""
        self._add(name, factory)

    def tasks(self) -> dict[str, TaskFactory]:
        """For `LeaderElector.run`: one task per job, started on each gain."""
        return dict(self._tasks)

    def _add(self, name: str, factory: TaskFactory) -> None:
        if name in self._tasks:
            raise ValueError(f"leader work {name!r} is registered twice")
        self._tasks[name] = factory

    async def _round(self, name: str, job: Job) -> bool:
        try:
            async with asyncio.timeout(self.round_timeout_s):
                await job()
        except KubeError as e:
            log.warning("leader work %s: cluster unavailable (%s); retrying", name, e.sentence())
            return False
        except TimeoutError:
            log.warning("leader work %s: round over %.0fs; retrying", name, self.round_timeout_s)
            return False
        return True

    async def _once(self, name: str, job: Job) -> None:
        while True:
            if await self._round(name, job):
                break
            await asyncio.sleep(self.retry_s)
        await until_cancelled()

    async def _periodic(self, name: str, interval_s: float, job: Job) -> None:
        while True:
            await self._round(name, job)
            await asyncio.sleep(interval_s)


async def until_cancelled() -> None:
    """Park a leader task whose work is done until leadership ends (the elector cancels
    it then): a task that returned would give leadership up."""
    await asyncio.Event().wait()


@dataclass
class LeaderElector:
    """Lease-based leader election (see the module contract)."""

    kube: KubeClient
    namespace: str
    identity: str
    name: str = LEASE_NAME
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0
    clock: Clock = field(default_factory=SystemClock)
    release_on_exit: bool = True
    on_leading: Callable[[bool], None] = field(default=lambda leading: None)
    """Told each change of `is_leader` (metrics); must not block."""
    _leading: bool = field(default=False, init=False)
    _ending: bool = field(default=False, init=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration"
            )

    @property
    def is_leader(self) -> bool:
        return self._leading

    async def wait_until_leading(self, *, timeout_s: float) -> None:
        """Until this replica leads; `TimeoutError` after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            while not self._leading:
                self._changed.clear()
                await self._changed.wait()

    async def run(self, tasks: Mapping[str, TaskFactory]) -> None:
        """Campaign, lead (running `tasks`), repeat; returns only by cancellation."""
        try:
            while True:
                await self._campaign()
                await self._lead(tasks)
                await self.clock.sleep(self.retry_period_s)
        finally:
            self._set_leading(False)
            if self.release_on_exit:
                await self._release_quietly()

    # ---- one round ----

    async def _campaign(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.clock.wall(self.renew_deadline_s)):
                    if await self.try_acquire_or_renew():
                        log.info("leader election: %s leads %s", self.identity, self.name)
                        self._set_leading(True)
                        return
            except (KubeError, TimeoutError) as e:
                log.warning("leader election: campaign attempt failed: %s", _said(e))
            await self.clock.sleep(self.retry_period_s)

    async def _lead(self, tasks: Mapping[str, TaskFactory]) -> None:
        lost = asyncio.Event()
        self._ending = False
        helpers = {"leader-renew": self._keep_renewed(lost)}
        helpers.update({f"leader-{n}": self._guard(n, f, lost) for n, f in tasks.items()})
        try:
            async with background(helpers):
                try:
                    await lost.wait()
                finally:  # lost, or stopped: the cancellations that follow are ours
                    self._ending = True
        finally:
            # The tasks are cancelled and awaited by now: only then say we don't lead.
            self._set_leading(False)
        log.warning("leader election: %s lost %s", self.identity, self.name)
        await self._release_quietly()

    async def _guard(self, name: str, factory: TaskFactory, lost: asyncio.Event) -> None:
        try:
            await factory()
            log.error("leader task %s ended; giving leadership up", name)
        except asyncio.CancelledError:
            if self._ending:
                raise
            # Killed from outside while leading: the work must not quietly stop.
            log.error("leader task %s was cancelled; giving leadership up", name)
        except Exception:
            log.exception("leader task %s failed; giving leadership up", name)
        lost.set()

    async def _keep_renewed(self, lost: asyncio.Event) -> None:
        last = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.retry_period_s)
            left = self.renew_deadline_s - (self.clock.monotonic() - last)
            try:
                async with asyncio.timeout(self.clock.wall(max(left, 0.001))):
                    if not await self.try_acquire_or_renew():
                        lost.set()
                        return
                last = self.clock.monotonic()
            except (KubeError, TimeoutError) as e:
                log.warning("leader election: renewal failed: %s", _said(e))
            if self.clock.monotonic() - last >= self.renew_deadline_s:
                lost.set()
                return

    # ---- the Lease ----

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this replica holds the Lease afterwards."""
        now = self.clock.now()
        stamp = micro_time(now)
        duration = max(1, math.ceil(self.lease_duration_s))

        def change(lease: KubeObject) -> KubeObject:
            spec = lease.get("spec") or {}
            holder = live_holder(spec, now=self.clock.now())
            if holder is not None and holder != self.identity:
                raise _Held(holder)
            new = {**spec, "holderIdentity": self.identity, "renewTime": stamp}
            new["leaseDurationSeconds"] = duration
            if spec.get("holderIdentity") != self.identity:
                new["acquireTime"] = stamp
                new["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            lease["spec"] = new
            return lease

        try:
            await self.kube.update(LEASES, self.name, change, namespace=self.namespace)
            return True
        except _Held:
            return False
        except Conflict:
            return False  # someone wrote it between our read and write: they won
        except NotFound:
            pass
        fresh: KubeObject = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": duration,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }
        try:
            await self.kube.create(LEASES, fresh, namespace=self.namespace)
        except Conflict:
            return False  # created by another replica first
        return True

    async def release(self) -> bool:
        """Clear the holder if it is this replica (True if it was)."""
        released = False

        def change(lease: KubeObject) -> KubeObject | None:
            nonlocal released
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return None
            released = True
            lease["spec"] = {
                "leaseDurationSeconds": 1,
                "leaseTransitions": int(spec.get("leaseTransitions") or 0),
            }
            return lease

        try:
            await self.kube.update(LEASES, self.name, change, namespace=self.namespace)
        except NotFound:
            return False
        return released

    async def _release_quietly(self) -> None:
        try:
            async with asyncio.timeout(self.clock.wall(self.renew_deadline_s)):
                if await self.release():
                    log.info("leader election: %s released %s", self.identity, self.name)
        except (KubeError, TimeoutError) as e:  # it expires on its own
            log.warning("leader election: release failed: %s", _said(e))

    def _set_leading(self, value: bool) -> None:
        if self._leading != value:
            self._leading = value
            self.on_leading(value)
            self._changed.set()


def _said(error: BaseException) -> str:
    if isinstance(error, KubeError):
        return error.sentence()
    return "no answer before the deadline"
