"""Roll a Deployment back exactly as `kubectl rollout undo` does.

1. Read the Deployment and the ReplicaSets it owns (ownerReferences uid; the
   revision is the `deployment.kubernetes.io/revision` annotation).
2. Choose the target (`commands.rollout_decisions.undo_target`): the previous
   revision, `--to-revision N`, or the newest earlier revision running a tag; refuse
   when there is no history, the Deployment is paused or already runs that template.
3. Send one JSON patch: `replace /spec/template` with the target's template minus the
   `pod-template-hash` label, and `replace /metadata/annotations` with the
   Deployment's own bookkeeping annotations plus the target ReplicaSet's others
   (its `kubernetes.io/change-cause` among them), as kubectl computes them.

The controller then finds the old ReplicaSet by template, gives it a new revision
and scales it up; the engine follows that like any rollout.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.kube.client import JSON_PATCH, KubeClient
from bot.kube.kinds import DEPLOYMENTS, REPLICASETS, KubeObject, annotations_of, meta
from bot.rollout.observe import selector_of
from commands.rollout_decisions import (
    CHANGE_CAUSE,
    UndoRefused,
    UndoTarget,
    images_of,
    new_replicaset,
    owned_by,
    revision_of,
    undo_target,
)

# kubectl's `annotationsToSkip`: the Deployment keeps its own values of these.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


@dataclass(frozen=True)
class RolledBack:
    namespace: str
    deployment: str
    from_revision: int
    to_revision: int
    images: dict[str, str]
    """Container → image the Deployment runs after the rollback."""
    previous_images: dict[str, str]
    generation: int
    change_cause: str | None
    selector: str = ""
    """The Deployment's label selector (what its rollout is watched by)."""


def undo_patch(
    deployment: KubeObject,
    target: UndoTarget,
    replicaset_annotations: dict[str, str],
    *,
    change_cause: str | None = None,
) -> list[dict[str, object]]:
    """The JSON patch `kubectl rollout undo` sends (pure); `change_cause` overrides the
    copied `kubernetes.io/change-cause` (Deckhand says who rolled back and why)."""
    own = annotations_of(deployment)
    annotations = {k: v for k, v in own.items() if k in ANNOTATIONS_TO_SKIP}
    annotations.update(
        {k: v for k, v in replicaset_annotations.items() if k not in ANNOTATIONS_TO_SKIP}
    )
    if change_cause is not None:
        annotations[CHANGE_CAUSE] = change_cause
    return [
        {"op": "replace", "path": "/spec/template", "value": target.template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


async def owned_replicasets(kube: KubeClient, deployment: KubeObject) -> list[KubeObject]:
    """The ReplicaSets whose ownerReferences name this Deployment's uid."""
    namespace = str(meta(deployment).get("namespace", ""))
    listed = await kube.list(
        REPLICASETS, namespace=namespace, label_selector=selector_of(deployment) or None
    )
    uid = str(meta(deployment).get("uid", ""))
    return [rs for rs in listed.items if owned_by(rs, uid)]


async def rollback(
    kube: KubeClient,
    *,
    namespace: str,
    deployment: str,
    to_revision: int | None = None,
    to_tag: str | None = None,
    change_cause: str | None = None,
) -> RolledBack | UndoRefused:
    """Undo the Deployment's last rollout (or go to `to_revision` / `to_tag`)."""
    current = await kube.get(DEPLOYMENTS, deployment, namespace=namespace)
    replicasets = await owned_replicasets(kube, current)
    target = undo_target(current, replicasets, to_revision=to_revision, to_tag=to_tag)
    if isinstance(target, UndoRefused):
        return target
    source = next(rs for rs in replicasets if revision_of(rs) == target.revision)
    body = undo_patch(current, target, annotations_of(source), change_cause=change_cause)
    patched = await kube.patch(
        DEPLOYMENTS, deployment, body, namespace=namespace, content_type=JSON_PATCH
    )
    live = new_replicaset(current, replicasets)
    return RolledBack(
        namespace=namespace,
        deployment=deployment,
        from_revision=revision_of(live) if live is not None else revision_of(current),
        to_revision=target.revision,
        images=images_of(patched),
        previous_images=images_of(current),
        generation=int(meta(patched).get("generation") or 0),
        change_cause=change_cause or target.change_cause,
        selector=selector_of(patched),
    )
