"""Read what the planners need from the cluster, as `commands.plan`'s typed values.

    read_current(kube, config, services=…, env=…) -> {deployment name: DeploymentState}
    read_revisions(kube, namespace=…, deployment=…, container=…) -> [Revision]
    lock_info(LockHolder) -> LockInfo

`deployment_state` and `revision_of_replicaset` are the pure JSON → value parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.clock import parse_time
from bot.kube.client import KubeClient
from bot.kube.errors import NotFound
from bot.kube.kinds import DEPLOYMENTS, KubeObject, annotations_of, meta
from bot.rollout.locks import LockHolder
from bot.rollout.rollback import owned_replicasets
from bot.tasks import together
from commands.config import DeckhandConfig
from commands.plan import DeploymentState, LockInfo, Revision
from commands.rollout_decisions import CHANGE_CAUSE, images_of, revision_of


def deployment_state(obj: KubeObject, *, container: str) -> DeploymentState:
    """A Deployment's JSON as the planner sees it (pure)."""
    spec = obj.get("spec") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    images = images_of(obj)
    return DeploymentState(
        namespace=str(meta(obj).get("namespace", "")),
        name=str(meta(obj).get("name", "")),
        container=container,
        image=images.get(container),
        replicas=int(spec["replicas"]) if spec.get("replicas") is not None else 1,
        revision=revision_of(obj) or None,
        paused=bool(spec.get("paused")),
        strategy=str(strategy.get("type") or "RollingUpdate"),
        max_surge=rolling.get("maxSurge", "25%"),
        containers=tuple(images),
    )


def revision_of_replicaset(rs: KubeObject, *, container: str) -> Revision | None:
    """One ReplicaSet as a `Revision` of its Deployment (pure); None without a revision."""
    number = revision_of(rs)
    if not number:
        return None
    return Revision(
        number=number,
        image=images_of(rs).get(container, ""),
        change_cause=annotations_of(rs).get(CHANGE_CAUSE),
        created_at=parse_time(meta(rs).get("creationTimestamp")),
    )


async def read_current(
    kube: KubeClient, config: DeckhandConfig, *, services: Sequence[str], env: str
) -> dict[str, DeploymentState]:
    """Every configured Deployment of `services` that exists in `env`'s namespace."""
    namespace = config.environments[env].namespace
    targets = [t for s in services for t in config.services[s].deployments]

    async def one(name: str, container: str) -> DeploymentState | None:
        try:
            obj = await kube.get(DEPLOYMENTS, name, namespace=namespace)
        except NotFound:
            return None
        return deployment_state(obj, container=container)

    states = await together(*(one(t.name, t.container) for t in targets))
    return {s.name: s for s in states if s is not None}


async def read_revisions(
    kube: KubeClient, *, namespace: str, deployment: str, container: str
) -> list[Revision]:
    """The Deployment's revisions (its ReplicaSets), newest first; [] if it doesn't exist."""
    try:
        obj = await kube.get(DEPLOYMENTS, deployment, namespace=namespace)
    except NotFound:
        return []
    found = [
        revision_of_replicaset(rs, container=container) for rs in await owned_replicasets(kube, obj)
    ]
    return sorted((r for r in found if r is not None), key=lambda r: r.number, reverse=True)


def lock_info(holder: LockHolder) -> LockInfo:
    """A lease's holder as the planner's `LockInfo` (the holder is the person)."""
    reason = holder.why if holder.manual else f"deploy {holder.holder} in progress"
    return LockInfo(
        holder=holder.who,
        since=holder.since or holder.expires or _epoch(),
        reason=reason or None,
        expires_at=holder.expires,
    )


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)
