"""Apply a deploy plan: one strategic-merge patch per Deployment (`commands.plan.Patch.body`),
what `kubectl set image` sends:

    {"metadata": {"annotations": {"kubernetes.io/change-cause": "…", …}},
     "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "…@sha256:…"}]}}}}

Containers merge by name, so only the named container changes. The annotations sit
on the Deployment, where the controller copies them to the new ReplicaSet (and so
into `kubectl rollout history`). A group's Deployments are patched one after the
other; the first failure stops the rest, and the `ApplyResult` says which were
patched, which failed and which were not tried, so the report can be exact. An API that
doesn't answer is not a failure: the (idempotent) read and patch are retried until it
does (`bot.kube.retry`). A Deployment the check read a moment ago is not read again:
the patch carries the resourceVersion it was read at (`apply_patches(seen=...)`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, KubeError
from bot.kube.kinds import DEPLOYMENTS, KubeObject, meta, resource_version
from bot.kube.retry import until_answered
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


async def last_seen(kube: KubeClient, patch: Patch) -> KubeObject:
    """The patch's Deployment as the client last saw it (the check's read, a moment ago),
    else read now: what the deploy record calls its previous image, and the version
    `apply_patches` patches on (a precondition: a change since is noticed, not missed)."""
    known = kube.known(DEPLOYMENTS, patch.deployment, namespace=patch.namespace)
    if known is not None:
        return known
    return await kube.get(DEPLOYMENTS, patch.deployment, namespace=patch.namespace)


async def apply_patches(
    kube: KubeClient, patches: Sequence[Patch], *, seen: Mapping[str, KubeObject] | None = None
) -> ApplyResult:
    """Patch every Deployment of the plan, in order, stopping at the first failure.

    `seen`: Deployment name → the version the caller read (`last_seen`); its patch
    carries that resourceVersion, and only if the Deployment changed since (409) is it
    read again and patched on what it is now (`Applied.previous_image` says from what)."""
    applied: list[Applied] = []
    backoff = kube.options.reconnect_backoff_s
    for index, patch in enumerate(patches):
        known = (seen or {}).get(patch.deployment)

        def send(version: str | None, patch: Patch = patch) -> Awaitable[KubeObject]:
            # The same patch again is a no-op: retried while the API can't be reached
            # (an answer lost after the patch landed must not fail the deploy).
            return until_answered(
                partial(
                    kube.patch,
                    DEPLOYMENTS,
                    patch.deployment,
                    patch.body(),
                    namespace=patch.namespace,
                    resource_version=version,
                ),
                what=f"patch {patch.deployment}",
                backoff=backoff,
            )

        try:
            patched = None
            if known is not None:
                previous = images_of(known).get(patch.container, "")
                try:
                    patched = await send(resource_version(known))
                except Conflict:
                    patched = None  # changed since it was read: read it again
            if patched is None:
                now = await until_answered(
                    partial(current_image, kube, patch),
                    what=f"read {patch.deployment}",
                    backoff=backoff,
                )
                # an answer lost after a patch that landed shows our own image: not "previous"
                previous = now if known is None or now != patch.image else previous
                patched = await send(None)
        except KubeError as e:
            return ApplyResult(tuple(applied), patch, e, tuple(patches[index + 1 :]))
        generation = int(meta(patched).get("generation") or 0)
        applied.append(Applied(patch, previous, generation, patched))
    return ApplyResult(tuple(applied))
