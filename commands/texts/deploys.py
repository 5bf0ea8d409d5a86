"""Texts: Slack front-end: deploy messages and answers (bot.deploys, helper G).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code, _list
from commands.texts.authorization import user

PHASE_LABELS = {
    "requested": ":hourglass_flowing_sand: Requested",
    "checking": ":mag: Checking the image",
    "checked": ":white_check_mark: Checks passed",
    "awaiting_approval": ":raised_hand: Waiting for approval",
    "rolling_out": ":rocket: Rolling out",
    "succeeded": ":white_check_mark: Succeeded",
    "failed": ":x: Failed",
    "rolled_back": ":leftwards_arrow_with_hook: Failed, rolled back",
    "refused": ":no_entry: Refused",
    "unknown": ":grey_question: Unknown",
}


def duration(seconds: float) -> str:
    """`42 s`, `3 min 5 s`."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def size(n_bytes: int) -> str:
    """`512 KB`, `48.2 MB` (decimal units, as registries show them)."""
    if n_bytes < 1_000_000:
        return f"{max(1, round(n_bytes / 1000))} KB"
    return f"{n_bytes / 1_000_000:.1f} MB"


def deploy_title(kind: str, services: Iterable[str], what: str, env: str) -> str:
    """`Deploy api, worker 237c6b8 → staging` (plain text: a header block)."""
    words = [kind.capitalize(), ", ".join(services), *([what] if what else [])]
    return f"{' '.join(words)} → {env}"


def deploy_fallback(title: str, phase: str) -> str:
    """The notification text of a deploy message."""
    label = PHASE_LABELS.get(phase, phase).split(" ", 1)[-1]
    return f"{title}: {label}"


def phase_line(phase: str, *, elapsed_s: float | None = None) -> str:
    label = PHASE_LABELS.get(phase, phase)
    if elapsed_s is not None and phase in ("succeeded", "failed", "rolled_back"):
        return f"*{label}* in {duration(elapsed_s)}"
    if elapsed_s is not None and phase == "unknown":
        return f"*{label}* after {duration(elapsed_s)}"
    if elapsed_s is not None and phase == "rolling_out":
        return f"*{label}* ({duration(elapsed_s)})"
    return f"*{label}*"


def requested_by(user_id: str, deploy_id: str, reason: str | None) -> str:
    why = f" · _{reason}_" if reason else ""
    return f"Requested by {user(user_id)} · id {_code(deploy_id)}{why}"


def image_facts(
    service: str, digest: str, platform: str, size_text: str | None, revision: str | None
) -> str:
    parts = [f"{_code(service)}: {_code(digest[:19])}", platform]
    if size_text:
        parts.append(size_text)
    if revision:
        parts.append(f"revision {_code(revision[:12])}")
    return " · ".join(parts)


def revision_mismatch(service: str, tag: str, revision: str) -> str:
    return (
        f":warning: {_code(service)}: the image's revision label {_code(revision[:12])} "
        f"does not match the tag {_code(tag)}: was it built from another commit?"
    )


def rollout_counts(service: str, updated: int, ready: int, total: int) -> str:
    return f"{_code(service)}: {updated}/{total} updated, {ready}/{total} ready"


def service_succeeded(service: str, total: int) -> str:
    return f":white_check_mark: {_code(service)}: {total}/{total} ready"


def service_failed(service: str, sentence: str, next_step: str) -> str:
    step = f"\n*What to do:* {next_step}" if next_step else ""
    return f":x: {_code(service)}: {sentence}{step}"


def service_unknown(service: str, sentence: str, next_step: str) -> str:
    step = f"\n*What to do:* {next_step}" if next_step else ""
    return f":grey_question: {_code(service)}: {sentence}{step}"


def unchanged(services: Iterable[str], tag: str) -> str:
    return f"Already running {_code(tag)}, left alone: {_list(services)}."


def rollback_hint(service: str, env: str) -> str:
    return f"Roll back with the button, or `/deploy rollback {service} {env}`."


ROLLBACK_BUTTON = "Roll back"
DETAILS_HEADER = "Details"


def thread_details(
    service: str, cause: str, pod: str | None, evidence: str, logs: Iterable[str]
) -> str:
    """The thread reply of a failed service: cause, pod, quoted evidence, last log lines."""
    where = f" · pod {_code(pod)}" if pod else ""
    parts = [f"*{_code(service)}* · {cause}{where}"]
    if evidence:
        parts.append(f"```{evidence}```")
    lines = list(logs)
    if lines:
        parts.append("Last log lines:\n```" + "\n".join(lines) + "```")
    return "\n".join(parts)


def thread_succeeded(service: str, image: str, updated: int) -> str:
    return f"{_code(service)} now runs {_code(image)} ({updated} pod(s) updated)."


def rollback_button_unknown(deploy_id: str) -> str:
    return f"Deckhand has no record of deploy {_code(deploy_id)}: roll back with a command."


def status_line(service: str, env: str, tag: str, replicas: int, lock: str | None) -> str:
    locked_note = f" · :lock: {lock}" if lock else ""
    pods = f"{replicas} replica{'s' if replicas != 1 else ''}"
    return f"{_code(service)} in {_code(env)}: {_code(tag)} · {pods}{locked_note}"


def status_missing(service: str, env: str) -> str:
    return f"{_code(service)} in {_code(env)}: no Deployment"


def history_header(service: str, env: str) -> str:
    return f"Last deploys of {_code(service)} in {_code(env)}:"


def history_line(when: str, tag: str, who: str, result: str, deploy_id: str) -> str:
    by = f" by {user(who)}" if who else ""
    return f"{when} · {_code(tag)}{by} · {result} · {_code(deploy_id)}"


def revision_line(number: int, tag: str, cause: str | None) -> str:
    why = f" · {cause}" if cause else ""
    return f"revision #{number} · {_code(tag)}{why}"


def history_empty(service: str, env: str) -> str:
    return f"No deploys of {_code(service)} to {_code(env)} recorded yet."


def tags_answer(service: str, repository: str, tags: Iterable[str]) -> str:
    listed = list(tags)
    if not listed:
        return f"{_code(repository)} has no tags yet."
    return f"Newest tags of {_code(service)} ({_code(repository)}): " + ", ".join(
        _code(t) for t in listed
    )


def locked_now(service: str, env: str, who: str, reason: str | None) -> str:
    why = f": {reason}" if reason else ""
    return (
        f":lock: {user(who)} locked {_code(service)} in {_code(env)}{why}. "
        f"Deploys are refused until {_code(f'/deploy unlock {service} {env}')}."
    )


def unlocked_now(service: str, env: str, who: str) -> str:
    return f":unlock: {user(who)} unlocked {_code(service)} in {_code(env)}."


def not_locked(service: str, env: str) -> str:
    return f"{_code(service)} is not locked in {_code(env)}: nothing to unlock."


def backend_unavailable(what: str, sentence: str) -> str:
    """A dependency (cluster, registry) failed while answering: say so, no traceback."""
    return f"Deckhand couldn't {what}: {sentence}. Try again in a minute."
