"""Texts: the rollout engine (outcomes, failures, rollbacks, locks).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

import re
from datetime import datetime

from commands.texts.authorization import user
from commands.texts.deploys import duration

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


def holder_name(who: str) -> str:
    """A lock holder as people read it: a Slack user id as a mention, else as written."""
    return user(who) if _SLACK_USER.fullmatch(who) else who


def patch_failed_step() -> str:
    return "Fix the Kubernetes permission or object named above, then deploy again."


def superseded(deployment: str) -> str:
    return f"{deployment} was changed by someone else while Deckhand was restarting"


def superseded_step() -> str:
    return "See `history` for what changed it."


def interrupted_before_patch(deployment: str) -> str:
    return f"Deckhand was stopped before it patched {deployment}: nothing changed there"


def interrupted_step() -> str:
    return "Deploy again when you're ready."


def nothing_changed() -> str:
    return "Nothing was changed."


def auto_rollback_cause(deploy_id: str) -> str:
    return f"deckhand: automatic rollback after deploy {deploy_id} failed"


def rollback_lock_reason(from_tag: str, who: str, *, automatic: bool = False) -> str:
    """The reason a rollback lock carries (`lock_after_rollback`)."""
    words = ["rolled back", *(["automatically"] if automatic else [])]
    if from_tag:
        words.append(f"from `{from_tag}`")
    return " ".join([*words, f"by <@{who}>: unlock to resume"])


def rollback_locked(service: str, env: str, reason: str) -> str:
    """Said under a rollback: the service stays where it is until someone unlocks it."""
    return (
        f":lock: `{service}` stays locked in `{env}` ({reason}): deploys and auto-deploys "
        f"are refused until `/deploy unlock {service} {env}`."
    )


def rollback_unfinished(why: str) -> str:
    return f"the rollback did not finish: {why}"


def secret_rejected(secret: str | None) -> str:
    named = f" `{secret}`" if secret else ""
    return f"The cluster's pull secret{named} was rejected by the registry"


def tag_gone() -> str:
    return "The tag is gone from the registry since Deckhand checked it"


def no_usable_secret(detail: str) -> str:
    return f"The cluster has no usable pull secret ({detail})"


def nodes_see_another_registry() -> str:
    return (
        "The registry serves this image with the cluster's pull secret, so the nodes "
        "reach a different registry or mirror"
    )


def outcome_live(
    service: str, what: str, env: str, available: int, desired: int, seconds: float
) -> str:
    return f"{service}: {what} in {env} is live ({available}/{desired} available, {seconds:.0f} s)."


def outcome_failed(service: str, what: str, env: str, sentence: str, next_step: str) -> str:
    stop = "" if sentence.endswith((".", "!", "?")) else "."
    return f"{service}: {what} in {env} failed: {sentence}{stop} Next step: {next_step}"


def outcome_unknown(service: str, what: str, env: str, sentence: str, next_step: str) -> str:
    return f"{service}: {what} in {env}: {sentence}. Next step: {next_step}"


def rolled_back(image: str) -> str:
    return f" Deckhand rolled it back automatically to {image}."


def rollback_skipped(problem: str) -> str:
    return f" The automatic rollback did not happen: {problem}"


def lost_contact(seconds: float) -> str:
    """While the follow can't reach the API (the live message's line)."""
    return f"lost contact with the cluster, retrying ({duration(seconds)})"


def unreachable_verdict(seconds: float) -> str:
    """The final word when the rollout's deadline passed during an outage."""
    return f"unknown: couldn't reach the cluster for {duration(seconds)}"


def recorded_when_back(sentence: str) -> str:
    """The live line between the deadline and the moment the cluster takes the record."""
    return f"{sentence}; Deckhand records it as soon as the cluster answers"


def unreachable_step() -> str:
    return (
        "Deckhand never saw this rollout end, so it did not roll anything back; check it "
        "with `/deploy status` (or `kubectl rollout status`) once the cluster answers."
    )


def lost_sight_step() -> str:
    return (
        "Deckhand could not follow the rollout to the end; check it with "
        "`kubectl rollout status` and fix the access named."
    )


def lock_holder(
    service: str,
    env: str,
    *,
    manual: bool,
    who: str,
    why: str,
    deploy_id: str,
    since: datetime | None,
) -> str:
    when = f" since {since:%H:%M} UTC" if since else ""
    if manual:
        reason = f": {why}" if why else ""
        return f"{service} in {env} is locked by {holder_name(who)}{reason}{when}"
    return f"{service} in {env} is being deployed by {holder_name(who)} (deploy {deploy_id}){when}"
