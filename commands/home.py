"""The App Home tab: one row per service and environment, from what the cluster and
Deckhand's records say (pure).

    home_row(env=..., service=..., deployment=..., ...) -> HomeRow
    short_tag(image) -> str          `repo:237c6b8@sha256:…` → `237c6b8`

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

HISTORY_ACTION = "deckhand:home-history"
"""Prefix of a row's History button `action_id` (`…:<env>:<service>`: unique in the view)."""


def short_tag(image: str | None) -> str:
    """The tag people compare: `repo:237c6b8@sha256:…` → `237c6b8`; a digest → its start."""
    if not image:
        return "?"
    name, _, digest = image.partition("@")
    tail = name.rpartition("/")[2]
    tag = tail.partition(":")[2]
    return tag or (digest.removeprefix("sha256:")[:12] if digest else tail)


@dataclass(frozen=True)
class HomeRow:
    env: str
    service: str
    tag: str
    ready: int
    replicas: int
    missing: bool = False
    since: datetime | None = None
    by: str = ""
    """Who deployed it (a Slack user id), '' when Deckhand didn't."""
    lock: str | None = None
    """`<@U…>: reason` of the lock, None when free."""
    approval: str | None = None
    """The pending approval's requester and tag."""
    incident: str | None = None
    """The open incident's cause label."""
    drift: str | None = None
    """Deckhand's last deployed tag, when something else runs."""

    @property
    def history_value(self) -> str:
        return f"{self.service} {self.env}"

    @property
    def history_action(self) -> str:
        return f"{HISTORY_ACTION}:{self.env}:{self.service}"[:255]


def _container_image(deployment: Mapping[str, Any], container: str) -> str | None:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in pod.get("containers") or []:
        if isinstance(c, Mapping) and c.get("name") == container:
            return str(c.get("image") or "")
    return None


def home_row(
    *,
    env: str,
    service: str,
    deployment: Mapping[str, Any] | None,
    container: str,
    deployed: tuple[str, str, datetime] | None,
    lock: str | None,
    approvals: Sequence[tuple[str, str]],
    incidents: Sequence[str],
) -> HomeRow:
    """One row (pure). `deployed`: (image, who, when) of Deckhand's last successful deploy;
    `approvals`: (requester, tag) pending for it; `incidents`: open incidents' labels."""
    approval = f"{approvals[0][0]} → {approvals[0][1]}" if approvals else None
    incident = ", ".join(incidents) if incidents else None
    if deployment is None:
        return HomeRow(env, service, "?", 0, 0, True, lock=lock, approval=approval)
    image = _container_image(deployment, container)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    replicas = int(spec.get("replicas", 1) or 0)
    ready = int(status.get("readyReplicas") or 0)
    since, by, drift = None, "", None
    if deployed is not None:
        deployed_image, who, when = deployed
        if deployed_image == image:
            since, by = when, who
        else:
            drift = short_tag(deployed_image)
    return HomeRow(
        env,
        service,
        short_tag(image),
        ready,
        replicas,
        since=since,
        by=by,
        lock=lock,
        approval=approval,
        incident=incident,
        drift=drift,
    )
