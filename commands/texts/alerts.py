"""Texts: image-pull alerts (commands.incidents, bot.alerts).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


_ALERT_LABELS = {
    "tag_not_found": "tag not found",
    "pull_auth": "pull secret rejected",
    "platform_mismatch": "wrong platform",
    "registry_unreachable": "registry unreachable",
    "invalid_image": "invalid image",
}


def alert_cause_label(cause: str) -> str:
    """`tag not found`, `pull secret rejected`, … for a `Cause` value."""
    return _ALERT_LABELS.get(cause, "cause unknown")


def _pods_on(pods: int, nodes: Iterable[str]) -> str:
    names = sorted(nodes)
    where = f" on {len(names)} node{'s' if len(names) != 1 else ''} ({', '.join(names)})"
    return f"{pods} pod{'s' if pods != 1 else ''}" + (where if names else "")


def pull_alert_title(namespace: str, workload: str, label: str, *, resolved: bool) -> str:
    """The alert's first line (also the notification text)."""
    if resolved:
        return f":white_check_mark: Resolved: image pull for `{namespace}/{workload}` ({label})"
    return f":rotating_light: Image pull failing for `{namespace}/{workload}`: {label}"


def pull_alert_body(
    *,
    image: str,
    pods: int,
    peak_pods: int,
    nodes: Iterable[str],
    message: str,
    diagnosis: str,
    fix: str,
    resolved: bool,
) -> str:
    """The alert's details: image, who is affected, kubelet's words, diagnosis, fix."""
    if resolved:
        were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
        affected = f"No pod is failing to pull it any more ({were})."
    else:
        affected = f"*Affected:* {_pods_on(pods, nodes)} can't pull."
    lines = [f"*Image:* `{image}`", affected]
    if message:
        lines.append(f"*Kubelet:* {message}")
    if diagnosis:
        lines.append(f"*Diagnosis:* {diagnosis}")
    if fix and not resolved:
        lines.append(f"*Fix:* {fix}")
    return "\n".join(lines)


def pull_resolved_followup(image: str, peak_pods: int, minutes: float) -> str:
    """The thread reply when an incident resolves."""
    took = f"{minutes:.0f} min" if minutes >= 1 else "under a minute"
    were = f"{peak_pods} pod{'s were' if peak_pods != 1 else ' was'} affected"
    return (
        f"Resolved: no pod is failing to pull `{image}` any more: they pulled it, or the "
        f"workload moved on ({were}; {took} after the alert)."
    )


def pull_summary_title(count: int, limit: int) -> str:
    """The rate-limit summary's first line."""
    return (
        f":rotating_light: {count} more image-pull incident{'s' if count != 1 else ''} "
        f"(over {limit} alerts a minute in this channel, so summarized here):"
    )


def pull_summary_line(
    namespace: str, workload: str, image: str, label: str, pods: int, *, resolved: bool
) -> str:
    """One incident of the summary."""
    state = "resolved" if resolved else f"{pods} pod{'s' if pods != 1 else ''}"
    mark = ":white_check_mark:" if resolved else "•"
    return f"{mark} `{namespace}/{workload}` `{image}`: {label} ({state})"


def pull_tag_confirmed_missing() -> str:
    """The lead of a tag-not-found diagnosis the registry re-check confirmed."""
    return "The registry, asked with the namespace's pull secret, has no such tag"
