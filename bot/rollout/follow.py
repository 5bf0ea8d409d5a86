"""Follow one Deployment's rollout to a verdict: success the moment it completes, failure
the moment it is certain, with the evidence a person needs.

    result = await Follower(kube, clock=clock, rollout=config.rollout, explain=explain)
        .follow(target, on_update=send)

`observe` streams the Deployment, its ReplicaSets, their pods and pod events (watches,
no polling); after every batch of changes `commands.rollout_decisions.judge` decides
(kubectl's completion rule plus the pod-level failures kubectl ignores). The loop
wakes without a change only for a deadline: a container's readiness timeout or the
rollout's `max_duration_s`. Those rules run on the cluster's time (`clock` is the
cluster's `ClusterClock`, synced before each judgement), never on the bot's wall
clock, so they hold against a sped-up sandbox and a server whose clock differs from
the bot's node. Every count change is sent through `on_update`. A failure
is handed to `explain` (the diagnosis: cause, sentence, next step, logs, the
registry re-check) before it is returned.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.kube.client import KubeClient
from bot.kube.clusterclock import ClusterClock
from bot.kube.kinds import DEPLOYMENTS
from bot.rollout.clock import Clock
from bot.rollout.observe import observe, selector_of
from commands.config import RolloutConfig
from commands.diagnosis import Cause, Finding
from commands.rollout_decisions import Counts, Judgement, judge

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class FollowResult:
    target: FollowTarget
    succeeded: bool
    counts: Counts
    elapsed_s: float
    failure: Failure | None = None


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
        """Watch `target` until it succeeds or fails (at the latest after `max_duration_s`)."""
        start = self.clock.monotonic() if started_at is None else started_at
        deployment = await self.kube.get(DEPLOYMENTS, target.deployment, namespace=target.namespace)
        last: Counts | None = None
        async with observe(
            self.kube,
            namespace=target.namespace,
            deployment=target.deployment,
            selector=selector_of(deployment),
        ) as changes:
            while True:
                if isinstance(self.clock, ClusterClock):
                    await self.clock.sync()  # a fresh `Date` before a time rule reads it
                view = changes.view
                if view.deployment is None and not view.deleted:  # not listed yet
                    await changes.next(self.clock.wall(self.rollout.max_duration_s))
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
                elapsed = self.clock.monotonic() - start
                if judgement.counts != last:
                    last = judgement.counts
                    await on_update(FollowUpdate(target, judgement.counts, elapsed))
                if judgement.state == "succeeded":
                    return FollowResult(target, True, judgement.counts, elapsed)
                if judgement.state == "failed":
                    failure = await self.explain(target, judgement)
                    return FollowResult(target, False, judgement.counts, elapsed, failure)
                left = self.rollout.max_duration_s - elapsed
                if left <= 0:
                    why = Finding(
                        Cause.PROGRESS_DEADLINE, True, f"over {self.rollout.max_duration_s} s"
                    )
                    timeout = Judgement("failed", judgement.counts, why)
                    failure = await self.explain(target, timeout)
                    return FollowResult(target, False, judgement.counts, elapsed, failure)
                wait = left if judgement.wake_in_s is None else min(left, judgement.wake_in_s)
                await changes.next(self.clock.wall(wait) + 0.01)
