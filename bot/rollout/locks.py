"""One rollout per service and environment at a time, and manual locks: Kubernetes Leases.

Every lock is a `coordination.k8s.io/v1` Lease named `deckhand-lock-<service>-<env>`
in Deckhand's own namespace, so several Deckhand replicas (or a restarted one) agree
on who holds it:

- a **deploy lock** has a `holderIdentity` (the deploy id), `leaseDurationSeconds`,
  and a `renewTime` renewed while the rollout is followed (`Locks.holding`); it is
  released (holder cleared) when the rollout ends, and taken over when it expired
  (a Deckhand that died mid-rollout);
- a **manual lock** (`lock api prod "incident 42"`) has no duration: it never expires
  and refuses deploys until `unlock`.

Who, why and the deploy id are annotations (`deckhand.dev/who`, …), and so is the
follower (`deckhand.dev/follower`: a token of the `Locks` that follows the rollout;
it renews every `heartbeat_s`). A restarted or other Deckhand resuming the deploy
(`holding(..., take_over=True)`) takes the lock only when it is free or expired, or
when its follower stopped renewing for `stale_after_s` (it died): a follower that is
alive keeps its rollout, and nobody follows one deploy twice. Every change is
compare-and-swap on the Lease's resourceVersion (`KubeClient.update`), so two deploys
racing for the same lock cannot both win: the loser gets `LockHeld` naming the holder.
Each change is ONE request: it starts from the version this process last read or
wrote (the check's read, the previous heartbeat), and reads again only on a 409.

The heartbeat: every 15 cluster seconds by default (`deckhand.lock_heartbeat_s`), so
a follower counts as gone 31 s after its last renewal. That is the price of the
cadence: a Deckhand SIGKILLed mid-rollout is taken over 31 s after its last renewal (the
Deckhand that found its deploy looks again then, `DeployFlow._resume`; a graceful stop
lets go at once, `_let_go`), about the time its pod takes to be replaced; the
kubelet's node Lease is renewed every 10 s of 40, client-go's leader election within 10
of 15. Renewing every 5 s cost a request every 5 s for the whole of
every rollout (about a third of a deploy's requests) to shorten that wait by 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock, micro_time, parse_time
from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, KubeError, NotFound
from bot.kube.kinds import LEASES, KubeObject, annotations_of
from bot.kube.lease import lease_expiry, live_holder
from bot.kube.retry import until_answered
from bot.tasks import background
from commands import texts

log = logging.getLogger(__name__)

MANUAL = "manual"
_A = "deckhand.dev/"


def lock_name(service: str, env: str) -> str:
    """`deckhand-lock-api-prod` (a valid object name whatever the service is called)."""
    raw = f"deckhand-lock-{service}-{env}".lower()
    return re.sub(r"[^a-z0-9.-]", "-", raw)[:253]


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, and why."""

    service: str
    env: str
    holder: str
    """The deploy id, or `manual`."""
    who: str
    why: str
    since: datetime | None
    expires: datetime | None
    """None for a manual lock (it never expires)."""

    @property
    def manual(self) -> bool:
        return self.holder == MANUAL

    def sentence(self) -> str:
        return texts.lock_holder(
            self.service,
            self.env,
            manual=self.manual,
            who=self.who,
            why=self.why,
            deploy_id=self.holder,
            since=self.since,
        )


class LockHeld(Exception):
    """Someone else holds the lock."""

    def __init__(self, holder: LockHolder) -> None:
        self.holder = holder
        super().__init__(holder.sentence())


@dataclass
class Locks:
    """The Lease-backed locks of one Deckhand namespace."""

    kube: KubeClient
    namespace: str
    clock: Clock
    duration_s: int = 60
    """`leaseDurationSeconds` of a deploy lock."""
    heartbeat_s: float = 15.0
    """A followed deploy's lock is renewed this often (or every third of `duration_s`), in
    the cluster's seconds (`deckhand.lock_heartbeat_s`; see the module docstring)."""
    follower: str = field(default_factory=lambda: secrets.token_hex(6))
    """This `Locks`' token in the locks it holds (one per Deckhand process)."""

    @property
    def stale_after_s(self) -> float:
        """Without a renewal for this long, a lock's follower counts as gone."""
        return 2 * self._renew_every_s + 1

    @property
    def _renew_every_s(self) -> float:
        return min(self.heartbeat_s, self.duration_s / 3)

    async def holder(self, service: str, env: str) -> LockHolder | None:
        """The current holder, or None when the lock is free or its lease expired."""
        try:
            lease = await self.kube.get(LEASES, lock_name(service, env), namespace=self.namespace)
        except NotFound:
            return None
        return self._live_holder(lease, service, env)

    async def deploy_locks(self) -> list[LockHolder]:
        """Every lock a deploy holds now (manual locks and expired leases left out)."""
        listed = await self.kube.list(
            LEASES, namespace=self.namespace, label_selector=f"{_A}lock=true"
        )
        found = []
        for lease in listed.items:
            notes = annotations_of(lease)
            service, env = notes.get(f"{_A}service"), notes.get(f"{_A}env")
            if not service or not env:
                continue
            holder = self._live_holder(lease, service, env)
            if holder is not None and not holder.manual:
                found.append(holder)
        return found

    async def acquire(
        self,
        service: str,
        env: str,
        *,
        deploy_id: str,
        who: str,
        why: str,
        take_over: bool = False,
    ) -> None:
        """Take the deploy lock for `deploy_id` (renewing it if `deploy_id` already holds
        it; with `take_over`, only if its follower is this one or gone)."""
        await self._take(
            service,
            env,
            holder=deploy_id,
            who=who,
            why=why,
            duration=self.duration_s,
            take_over=take_over,
        )

    async def lock(self, service: str, env: str, *, who: str, why: str) -> None:
        """A manual lock: no expiry. Raises `LockHeld` while a deploy (or another lock) holds it."""
        await self._take(service, env, holder=MANUAL, who=who, why=why, duration=None)

    async def keep_as_manual(
        self, service: str, env: str, *, deploy_id: str, who: str, why: str
    ) -> bool:
        """Turn `deploy_id`'s deploy lock (or the manual lock it went through) into a
        manual lock with `who`/`why`, in one compare-and-swap: no other deploy can slip in
        between (a rollback that stays rolled back). False when neither holds it."""
        kept = False

        def change(lease: KubeObject) -> KubeObject | None:
            nonlocal kept
            kept = lease.get("spec", {}).get("holderIdentity") in (deploy_id, MANUAL)
            if not kept:
                return None
            now = micro_time(self.clock.now())
            old = lease.get("spec") or {}
            lease["spec"] = {
                "holderIdentity": MANUAL,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": int(old.get("leaseTransitions") or 0) + 1,
            }
            meta = lease.setdefault("metadata", {})
            notes = {f"{_A}who": who, f"{_A}why": why, f"{_A}service": service, f"{_A}env": env}
            meta["annotations"] = {**(meta.get("annotations") or {}), **notes}
            return lease

        return await self._change(service, env, change) and kept

    async def renew(self, service: str, env: str, *, deploy_id: str) -> None:
        def change(lease: KubeObject) -> KubeObject:
            if lease.get("spec", {}).get("holderIdentity") != deploy_id:
                current = self._live_holder(lease, service, env)
                raise LockHeld(current or _lost(service, env))
            lease["spec"]["renewTime"] = micro_time(self.clock.now())
            lease.setdefault("metadata", {}).setdefault("annotations", {})[f"{_A}follower"] = (
                self.follower
            )
            return lease

        await self.kube.update(LEASES, lock_name(service, env), change, namespace=self.namespace)

    async def release(self, service: str, env: str, *, holder: str) -> bool:
        """Clear the lock if `holder` (a deploy id or `manual`) holds it; True if it did."""
        released = False

        def change(lease: KubeObject) -> KubeObject | None:
            nonlocal released
            if lease.get("spec", {}).get("holderIdentity") != holder:
                return None
            released = True
            lease["spec"] = {"leaseTransitions": lease["spec"].get("leaseTransitions", 0)}
            meta = lease.setdefault("metadata", {})
            meta["annotations"] = {
                k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(_A)
            }
            return lease

        return await self._change(service, env, change) and released

    async def _change(
        self, service: str, env: str, change: Callable[[KubeObject], KubeObject | None]
    ) -> bool:
        """One compare-and-swap on the lock's Lease; False when there is no Lease."""
        try:
            await self.kube.update(
                LEASES, lock_name(service, env), change, namespace=self.namespace
            )
        except NotFound:
            return False
        return True

    @contextlib.asynccontextmanager
    async def holding(
        self,
        service: str,
        env: str,
        *,
        deploy_id: str,
        who: str,
        why: str,
        take_over: bool = False,
        through_own_manual_lock: bool = False,
    ) -> AsyncIterator[None]:
        """Hold the deploy lock for the body, renewing it; released when the body ends
        (retried until the API answers) — except when it is cancelled (Deckhand shutting
        down mid-rollout): the lease then stays with the deploy, for the Deckhand that
        resumes it (or until it expires). With `through_own_manual_lock`, `who`'s own
        manual lock lets the body run without taking anything (it stays as it is)."""
        took = await self._take(
            service,
            env,
            holder=deploy_id,
            who=who,
            why=why,
            duration=self.duration_s,
            take_over=take_over,
            through_own_manual_lock=through_own_manual_lock,
        )
        if not took:
            yield
            return
        renewer = {f"renew-{lock_name(service, env)}": self._keep_renewed(service, env, deploy_id)}
        cancelled = False
        try:
            async with background(renewer):
                yield
        except asyncio.CancelledError:
            cancelled = True
            log.info(
                "keeping %s for deploy %s: cancelled mid-rollout",
                lock_name(service, env),
                deploy_id,
            )
            await self._let_go(service, env, deploy_id)
            raise
        finally:
            if not cancelled:
                try:  # retried while the API is unreachable: a deploy never leaves it held
                    await until_answered(
                        lambda: self.release(service, env, holder=deploy_id),
                        what=f"release {lock_name(service, env)}",
                        backoff=self.kube.options.reconnect_backoff_s,
                    )
                except KubeError as e:  # refused outright: it expires on its own
                    log.warning("could not release %s: %s", lock_name(service, env), e.sentence())

    async def _let_go(self, service: str, env: str, deploy_id: str) -> None:
        """One attempt to say this follower stops (the deploy keeps the lock): the next
        Deckhand resumes at once instead of waiting `stale_after_s`."""

        def change(lease: KubeObject) -> KubeObject | None:
            notes = (lease.get("metadata") or {}).get("annotations") or {}
            held = (lease.get("spec") or {}).get("holderIdentity") == deploy_id
            if not held or notes.get(f"{_A}follower") != self.follower:
                return None
            notes.pop(f"{_A}follower", None)
            return lease

        try:
            await self.kube.update(
                LEASES, lock_name(service, env), change, namespace=self.namespace
            )
        except KubeError as e:  # the resumer waits for staleness instead
            log.info("letting go of %s failed: %s", lock_name(service, env), e.sentence())

    async def _keep_renewed(self, service: str, env: str, deploy_id: str) -> None:
        while True:
            await self.clock.sleep(self._renew_every_s)
            try:
                await self.renew(service, env, deploy_id=deploy_id)
            except (KubeError, LockHeld) as e:
                # Never fatal to the rollout being followed: log it, try again next time.
                log.warning("renewing %s failed: %s", lock_name(service, env), e)

    async def _take(
        self,
        service: str,
        env: str,
        *,
        holder: str,
        who: str,
        why: str,
        duration: int | None,
        take_over: bool = False,
        through_own_manual_lock: bool = False,
    ) -> bool:
        """Take the lock (one compare-and-swap); False when `through_own_manual_lock` and
        `who`'s own manual lock holds it (left as it is: nothing taken)."""
        name = lock_name(service, env)
        now = micro_time(self.clock.now())
        spec: dict[str, object] = {
            "holderIdentity": holder,
            "acquireTime": now,
            "renewTime": now,
        }
        if duration is not None:
            spec["leaseDurationSeconds"] = duration
        notes = {
            f"{_A}who": who,
            f"{_A}why": why,
            f"{_A}service": service,
            f"{_A}env": env,
            f"{_A}follower": self.follower,
        }

        passed = False

        def change(lease: KubeObject) -> KubeObject | None:
            nonlocal passed
            current = self._live_holder(lease, service, env)
            passed = bool(
                through_own_manual_lock and current and current.manual and current.who == who
            )
            if passed:
                return None  # one's own manual lock doesn't stop one (commands.plan)
            if current is not None and current.holder != holder:
                raise LockHeld(current)
            if current is not None and take_over and self._followed_elsewhere(lease):
                raise LockHeld(current)
            old = lease.get("spec") or {}
            transitions = int(old.get("leaseTransitions") or 0)
            if old.get("holderIdentity") != holder:
                transitions += 1
            lease["spec"] = {**spec, "leaseTransitions": transitions}
            meta = lease.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **notes}
            return lease

        fresh: KubeObject = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {f"{_A}lock": "true"},
                "annotations": notes,
            },
            "spec": {**spec, "leaseTransitions": 0},
        }
        try:  # from the version last seen (the check's read): one write, POST or PUT
            await self.kube.update(LEASES, name, change, namespace=self.namespace, missing=fresh)
        except Conflict as e:
            current = await self.holder(service, env)
            raise LockHeld(current or _lost(service, env)) from e
        return not passed

    def _followed_elsewhere(self, lease: KubeObject) -> bool:
        """Another live follower renews this lease (not this one's, not stale)."""
        follower = annotations_of(lease).get(f"{_A}follower")
        if not follower or follower == self.follower:
            return False
        renewed = parse_time((lease.get("spec") or {}).get("renewTime"))
        if renewed is None:
            return False
        return (self.clock.now() - renewed).total_seconds() < self.stale_after_s

    def _live_holder(self, lease: KubeObject, service: str, env: str) -> LockHolder | None:
        spec = lease.get("spec") or {}
        identity = live_holder(spec, now=self.clock.now())
        if identity is None:
            return None
        notes = annotations_of(lease)
        expires = lease_expiry(spec)
        return LockHolder(
            service=service,
            env=env,
            holder=str(identity),
            who=notes.get(f"{_A}who", "someone"),
            why=notes.get(f"{_A}why", ""),
            since=parse_time(spec.get("acquireTime")),
            expires=expires,
        )


def _lost(service: str, env: str) -> LockHolder:
    return LockHolder(
        service, env, holder="?", who="another deploy", why="", since=None, expires=None
    )
