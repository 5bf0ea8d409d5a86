"""Texts: drift notices (commands.drift, bot.alerts.drift) and the drift mark of status.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from commands.texts._format import _code


def _short(image: str) -> str:
    """`repo:tag@sha256:…` → `tag` (the part people compare); the image when it has none."""
    name = image.partition("@")[0]
    tail = name.rpartition("/")[2]
    return tail.partition(":")[2] or image


def drift_title(namespace: str, deployment: str, field: str, before: str, after: str) -> str:
    what = "image" if field == "image" else "replica count"
    shown = (_short(before), _short(after)) if field == "image" else (before, after)
    return (
        f":warning: Drift: the {what} of `{namespace}/{deployment}` changed outside Deckhand: "
        f"{_code(shown[0])} → {_code(shown[1])}"
    )


def drift_who(manager: str, change_cause: str) -> str:
    who = (
        f"{_code(manager)} (the field manager in `metadata.managedFields`)"
        if manager
        else "the API doesn't say (no field manager recorded)"
    )
    cause = f"; change-cause: {change_cause}" if change_cause else ""
    return f"*By:* {who}{cause}"


def drift_images(before: str, after: str) -> str:
    return f"*From:* `{before}`\n*To:* `{after}`"


def drift_checks(*, policy: bool, exists: str, platform: str) -> str:
    """`exists` / `platform`: '' when fine, else what is wrong."""
    marks = [
        ":white_check_mark: tag policy" if policy else ":x: the tag breaks the tag policy",
        ":white_check_mark: the tag exists" if not exists else f":x: {exists}",
    ]
    if not exists:
        marks.append(
            f":white_check_mark: {platform}" if platform.startswith("built") else f":x: {platform}"
        )
    return "*Deckhand's checks:* " + " · ".join(marks)


def drift_built_for(platform: str) -> str:
    return f"built for {platform}"


def drift_stale(after: str, deployed: str) -> str:
    return (
        f":hourglass: {_code(_short(after))} is older than {_code(_short(deployed))}, "
        "which Deckhand deployed last: this looks like an `apply` of stale manifests."
    )


def drift_last_deployed(deployed: str, who: str) -> str:
    return f"Deckhand last deployed {_code(_short(deployed))} (by {who})."


def drift_never_deployed() -> str:
    return "Deckhand has no successful deploy of it on record."


def status_drift_mark(deployed: str) -> str:
    """Appended to a `/deploy status` line whose image isn't Deckhand's last deploy."""
    return f" · :warning: drift: Deckhand last deployed {_code(_short(deployed))}"
