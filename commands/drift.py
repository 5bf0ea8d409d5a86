"""Drift: a watched Deployment changed by someone other than Deckhand.

    observe(deployment, container=...) -> Observed     image, replicas, who wrote them
    detect(seen, now, max_replicas=...) -> [DriftChange]  what changed since last seen
    is_stale(new_created, deployed_created) -> bool    older than Deckhand's last deploy
    tag_allowed(tag, pattern=..., refused=...) -> bool  Deckhand's tag policy

Who wrote a field is the `metadata.managedFields` entry that owns it (the API server
records the writer's `fieldManager`, else its User-Agent: `kubectl-set`,
`kubectl-client-side-apply`, `kubectl` for `rollout undo`, `helm`, ...). Deckhand
writes as `deckhand` (`bot.kube.client.FIELD_MANAGER`): its own changes are not drift.
The first sight of a Deployment is its baseline: nothing is noticed then.

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.rollout_decisions import CHANGE_CAUSE

DECKHAND_MANAGER = "deckhand"


@dataclass(frozen=True)
class Observed:
    """One watched container of a Deployment, as the API shows it now."""

    namespace: str
    deployment: str
    container: str
    image: str
    replicas: int
    image_manager: str = ""
    replicas_manager: str = ""
    change_cause: str = ""


@dataclass(frozen=True)
class DriftChange:
    namespace: str
    deployment: str
    field: str
    """`image` or `replicas`."""
    before: str
    after: str
    manager: str
    """Who wrote it, per managedFields ('' when the API doesn't say)."""
    change_cause: str = ""

    @property
    def key(self) -> str:
        """Stable id of this change (the dedup key: one notice per change)."""
        raw = json.dumps([self.namespace, self.deployment, self.field, self.before, self.after])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _owner(deployment: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """The manager of the newest managedFields entry owning `path` (or a field under it)."""
    best: tuple[str, str] | None = None
    for entry in (deployment.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, Mapping) or entry.get("subresource") == "status":
            continue
        node: Any = entry.get("fieldsV1") or {}
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                break
        if node is not None:
            stamp = str(entry.get("time") or "")
            if best is None or stamp >= best[0]:
                best = (stamp, str(entry.get("manager") or ""))
    return best[1] if best else ""


def observe(deployment: Mapping[str, Any], *, container: str) -> Observed | None:
    """The container's image, the replica count and their writers (None: no such container)."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    image = next(
        (
            str(c.get("image") or "")
            for c in pod.get("containers") or []
            if isinstance(c, Mapping) and c.get("name") == container
        ),
        None,
    )
    if image is None:
        return None
    key = "k:" + json.dumps({"name": container}, separators=(",", ":"))
    image_path = ("f:spec", "f:template", "f:spec", "f:containers", key, "f:image")
    return Observed(
        namespace=str(meta.get("namespace", "")),
        deployment=str(meta.get("name", "")),
        container=container,
        image=image,
        replicas=int(spec.get("replicas", 1) or 0),
        image_manager=_owner(deployment, image_path),
        replicas_manager=_owner(deployment, ("f:spec", "f:replicas")),
        change_cause=str((meta.get("annotations") or {}).get(CHANGE_CAUSE, "")),
    )


def detect(seen: Observed | None, now: Observed, *, max_replicas: int | None) -> list[DriftChange]:
    """The changes from `seen` (what was last accounted for) to `now` that Deckhand didn't
    make; the replica count only for a service with `max_replicas` (pure)."""
    if seen is None:
        return []
    found = []
    if now.image != seen.image and now.image_manager != DECKHAND_MANAGER:
        found.append(
            DriftChange(
                now.namespace,
                now.deployment,
                "image",
                seen.image,
                now.image,
                now.image_manager,
                now.change_cause,
            )
        )
    if (
        max_replicas is not None
        and now.replicas != seen.replicas
        and now.replicas_manager != DECKHAND_MANAGER
    ):
        found.append(
            DriftChange(
                now.namespace,
                now.deployment,
                "replicas",
                str(seen.replicas),
                str(now.replicas),
                now.replicas_manager,
                now.change_cause,
            )
        )
    return found


def is_stale(new_created: datetime | None, deployed_created: datetime | None) -> bool:
    """The new image was built before the one Deckhand last deployed (pure)."""
    return (
        new_created is not None and deployed_created is not None and new_created < deployed_created
    )


def tag_allowed(tag: str | None, *, pattern: str, refused: frozenset[str]) -> bool:
    """Deckhand's tag policy: the pattern matches and the tag isn't refused (pure)."""
    return tag is not None and tag not in refused and re.search(pattern, tag) is not None
