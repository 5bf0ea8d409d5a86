"""Apply a deploy plan: one strategic-merge patch per Deployment (`commands.plan.Patch.body`),
what `kubectl set image` sends:

    {"metadata": {"annotations": {"kubernetes.io/change-cause": "…", …}},
     "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "…@sha256:…"}]}}}}

Containers merge by name, so only the named container changes. The annotations sit
on the Deployment, where the controller copies them to the new ReplicaSet (and so
into `kubectl rollout history`). A group's Deployments are patched one after the
other; the first failure stops the rest, and the `ApplyResult` says which were
patched, which failed and which were not tried, so the report can be exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS, KubeObject, meta
from commands.plan import Patch
from commands.rollout_decisions import images_of


@dataclass(frozen=True)
class Applied:
    """A Deployment that was patched."""

    patch: Patch
    previous_image: str
    generation: int
    """`metadata.generation` after the patch: the rollout is observed once the status says so."""
    deployment: KubeObject


@dataclass(frozen=True)
class ApplyResult:
    applied: tuple[Applied, ...]
    failed: Patch | None = None
    error: KubeError | None = None
    not_tried: tuple[Patch, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    def sentence(self) -> str:
        if self.ok:
            return "patched " + ", ".join(a.patch.deployment for a in self.applied)
        assert self.failed is not None
        assert self.error is not None
        parts = []
        if self.applied:
            parts.append("patched " + ", ".join(a.patch.deployment for a in self.applied))
        parts.append(f"patching {self.failed.deployment} failed: {self.error.sentence()}")
        if self.not_tried:
            parts.append("not patched: " + ", ".join(p.deployment for p in self.not_tried))
        return "; ".join(parts)


async def current_image(kube: KubeClient, patch: Patch) -> str:
    """The image the patch's container runs now ('' if the container isn't there)."""
    deployment = await kube.get(DEPLOYMENTS, patch.deployment, namespace=patch.namespace)
    return images_of(deployment).get(patch.container, "")


async def apply_patches(kube: KubeClient, patches: Sequence[Patch]) -> ApplyResult:
    """Patch every Deployment of the plan, in order, stopping at the first failure."""
    applied: list[Applied] = []
    for index, patch in enumerate(patches):
        try:
            previous = await current_image(kube, patch)
            patched = await kube.patch(
                DEPLOYMENTS, patch.deployment, patch.body(), namespace=patch.namespace
            )
        except KubeError as e:
            return ApplyResult(tuple(applied), patch, e, tuple(patches[index + 1 :]))
        generation = int(meta(patched).get("generation") or 0)
        applied.append(Applied(patch, previous, generation, patched))
    return ApplyResult(tuple(applied))
