"""Follow one Deployment's rollout to a verdict: success the moment it completes, failure
the moment it is certain, with the evidence a person needs.

    result = await Follower(kube, clock=clock, rollout=config.rollout, explain=explain)
        .follow(target, on_update=send)

`observe` streams the Deployment, its ReplicaSets, their pods and, once a pod shows
trouble (`commands.rollout_decisions.needs_events`) or a failure is judged, their events
(watches, no polling); after every batch of changes `commands.rollout_decisions.judge`
decides (kubectl's completion rule plus the pod-level failures kubectl ignores), and no
failure is concluded before the events are in the view. The loop
wakes without a change only for a deadline: a container's readiness timeout or the
rollout's `max_duration_s`. Those rules run on the cluster's time (`clock` is the
cluster's `ClusterClock`, synced before each judgement), never on the bot's wall
clock, so they hold against a sped-up sandbox and a server whose clock differs from
the bot's node. Every count change is sent through `on_update`. A failure
is handed to `explain` (the diagnosis: cause, sentence, next step, logs, the
registry re-check) before it is returned.

Losing the API is not a verdict: while the watches can't reach it they keep retrying
(`observe`), no failure is judged from what was seen before (a readiness timeout would
only measure the outage), and `on_update` is told how long contact has been lost
(every `LOST_TICK_S`). When the API answers, the watches re-list and the judgement is
the cluster's. Only `max_duration_s` ends an outage: the result is then `unknown`
("couldn't reach the cluster for N s"), neither success nor failure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.kube.client import KubeClient
from bot.kube.clusterclock import ClusterClock
from bot.kube.errors import ServerError, Unreachable
from bot.kube.kinds import DEPLOYMENTS, KubeObject
from bot.rollout.observe import observe, selector_of
from commands import texts
from commands.config import RolloutConfig
from commands.diagnosis import Cause, Finding
from commands.rollout_decisions import Counts, Judgement, judge, needs_events

log = logging.getLogger(__name__)

LOST_TICK_S = 2.0
"""How often the "lost contact … (N s)" line is refreshed during an outage."""


@dataclass(frozen=True)
class FollowTarget:
    """A patched Deployment to follow."""

    service: str
    namespace: str
    deployment: str
    container: str
    image: str
    generation: int
    """`metadata.generation` the patch produced: older statuses don't count."""
    selector: str = ""
    """The Deployment's label selector, from the patch's answer ('': read it first)."""


@dataclass(frozen=True)
class Failure:
    """Why a rollout failed, ready for a person."""

    cause: Cause
    sentence: str
    next_step: str
    pod: str | None = None
    evidence: str = ""
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpdate:
    """A change worth reporting while the rollout runs."""

    target: FollowTarget
    counts: Counts
    elapsed_s: float
    lost_for_s: float | None = None
    """Seconds since contact with the API was lost; None while in contact."""
    note: str = ""
    """A line about the wait, when there is one (`starting: 95 s of a 240 s startup budget`)."""


@dataclass(frozen=True)
class FollowResult:
    target: FollowTarget
    succeeded: bool
    counts: Counts
    elapsed_s: float
    failure: Failure | None = None
    unknown: bool = False
    """The deadline passed out of contact with the API: not a failure, not a success."""


Explain = Callable[[FollowTarget, Judgement], Awaitable[Failure]]
OnUpdate = Callable[[FollowUpdate], Awaitable[None]]


async def _ignore(update: FollowUpdate) -> None:
    return None


@dataclass
class Follower:
    kube: KubeClient
    clock: Clock
    rollout: RolloutConfig
    explain: Explain

    async def follow(
        self,
        target: FollowTarget,
        *,
        on_update: OnUpdate = _ignore,
        started_at: float | None = None,
    ) -> FollowResult:
        """Watch `target` until it succeeds or fails (at the latest after `max_duration_s`;
        out of contact with the API then, the result is `unknown`)."""
        start = self.clock.monotonic() if started_at is None else started_at
        selector = target.selector
        if not selector:
            found = await self._deployment(target, start)
            if isinstance(found, FollowResult):
                return found
            selector = selector_of(found)
        last: tuple[Counts, int, str] | None = None
        async with observe(
            self.kube,
            namespace=target.namespace,
            deployment=target.deployment,
            selector=selector,
            monotonic=self.clock.monotonic,
        ) as changes:
            while True:
                if isinstance(self.clock, ClusterClock):
                    await self.clock.sync()  # a fresh `Date` before a time rule reads it
                view = changes.view
                now = self.clock.monotonic()
                elapsed = now - start
                left = self.rollout.max_duration_s - elapsed
                lost = changes.lost_for_s(now)
                if view.deployment is None and not view.deleted:  # not listed yet
                    if left <= 0:
                        return self._unknown(target, Counts(), elapsed, lost or elapsed)
                    await changes.next(self.clock.wall(min(left, LOST_TICK_S)) + 0.01)
                    continue
                judgement = judge(
                    view.deployment,
                    view.replicasets.values(),
                    view.pods.values(),
                    view.events,
                    generation=target.generation,
                    now=self.clock.now(),
                    readiness_timeout_s=self.rollout.readiness_timeout_s,
                    crashloop_restarts=self.rollout.crashloop_restarts,
                )
                starting = judgement.starting
                note = (
                    texts.starting_line(starting.elapsed_s, starting.budget_s) if starting else ""
                )
                shown = (judgement.counts, -1 if lost is None else int(lost // LOST_TICK_S), note)
                if shown != last:
                    last = shown
                    await on_update(FollowUpdate(target, judgement.counts, elapsed, lost, note))
                if judgement.state == "succeeded":
                    return FollowResult(target, True, judgement.counts, elapsed)
                trouble = judgement.state == "failed" or needs_events(view.pods.values())
                if trouble and left > 0 and changes.want_events():
                    # Judged again once the pods' events are in the view: a failure's
                    # evidence and some budgets (a startup phase's end) are read there.
                    await changes.next(self.clock.wall(min(left, LOST_TICK_S)) + 0.01)
                    continue
                if lost is not None:
                    # What was seen before the outage can't fail it; only the deadline ends it.
                    if left <= 0:
                        return self._unknown(target, judgement.counts, elapsed, lost)
                    await changes.next(self.clock.wall(min(left, LOST_TICK_S)) + 0.01)
                    continue
                if judgement.state == "failed":
                    failure = await self.explain(target, judgement)
                    return FollowResult(target, False, judgement.counts, elapsed, failure)
                if left <= 0:
                    why = Finding(
                        Cause.PROGRESS_DEADLINE, True, f"over {self.rollout.max_duration_s} s"
                    )
                    timeout = Judgement("failed", judgement.counts, why)
                    failure = await self.explain(target, timeout)
                    return FollowResult(target, False, judgement.counts, elapsed, failure)
                wait = left if judgement.wake_in_s is None else min(left, judgement.wake_in_s)
                await changes.next(self.clock.wall(wait) + 0.01)

    async def _deployment(self, target: FollowTarget, start: float) -> KubeObject | FollowResult:
        """The Deployment (for its selector), read again while the API is unreachable;
        the `unknown` result if the deadline passes first."""
        backoff = self.kube.options.reconnect_backoff_s
        attempt = 0
        lost_at: float | None = None
        while True:
            try:
                return await self.kube.get(
                    DEPLOYMENTS, target.deployment, namespace=target.namespace
                )
            except (Unreachable, ServerError) as e:
                now = self.clock.monotonic()
                lost_at = now if lost_at is None else lost_at
                elapsed = now - start
                if elapsed >= self.rollout.max_duration_s:
                    return self._unknown(target, Counts(), elapsed, now - lost_at)
                log.warning(
                    "following %s: %s (attempt %d)", target.deployment, e.sentence(), attempt + 1
                )
                wait = backoff[min(attempt, len(backoff) - 1)]
                await self.clock.sleep(min(wait, self.rollout.max_duration_s - elapsed))
                attempt += 1

    def _unknown(
        self, target: FollowTarget, counts: Counts, elapsed: float, lost_for: float
    ) -> FollowResult:
        log.warning(
            "following %s: deadline passed %.0f s out of contact with the API: unknown",
            target.deployment,
            lost_for,
        )
        failure = Failure(
            Cause.UNKNOWN, texts.unreachable_verdict(lost_for), texts.unreachable_step()
        )
        return FollowResult(target, False, counts, elapsed, failure, unknown=True)
