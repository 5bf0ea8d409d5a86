"""Texts: new images announced, their Deploy buttons, and auto-deploy.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from commands.texts._format import _code
from commands.texts.authorization import user


def _person(login: str) -> str:
    return f"*{login}*" if login else "someone"


def push_title(service: str, tag: str) -> str:
    """The announcement's header (plain text)."""
    return f"New image: {service} {tag}"


def push_headline(service: str, tag: str, pushed_by: str, pushed_at: datetime) -> str:
    when = pushed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f":package: {_code(tag)} of {_code(service)} pushed by {_person(pushed_by)} at {when}."


def push_checked(
    platform: str, size: int | None, revision: str | None, *, mismatch: bool, tag: str
) -> str:
    parts = [f"Image check: :white_check_mark: {_code(platform)}"]
    if size is not None:
        parts.append(f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB")
    if revision:
        flag = f" :warning: does not match the tag {_code(tag)}" if mismatch else ""
        parts.append(f"revision label {_code(revision[:12])}{flag}")
    else:
        parts.append("no revision label")
    return ", ".join(parts) + "."


def push_not_deployable(problem: str) -> str:
    return f":no_entry: *Not deployable*: {problem}"


def push_fix(fix: str) -> str:
    return f"Fix: {fix}"


def push_buildx_fix(platform: str, image: str) -> str:
    """Rebuild for the nodes (the laptop is arm64, the nodes are not)."""
    return f"`docker buildx build --platform {platform} -t {image} --push .`, then push a new tag."


def push_tag_fix(pattern: str) -> str:
    return (
        f"tag images with the git commit (policy {_code(pattern)}): "
        "`docker buildx build -t IMAGE:$(git rev-parse --short HEAD) --push .`"
    )


def push_buttons_hint(envs: Iterable[str]) -> str:
    names = ", ".join(_code(e) for e in envs)
    return f"Deploy it with a button ({names}): the same checks and approvals as `/deploy`."


def push_auto_deploy_note(envs: Iterable[str]) -> str:
    names = ", ".join(_code(e) for e in envs)
    return f":robot_face: Auto-deploy to {names}: Deckhand deploys it there itself."


def push_changes_against(env: str) -> str:
    return f"*Against {_code(env)}:*"


def deploy_button(env: str) -> str:
    return f"Deploy to {env}"


def push_fallback(service: str, tag: str, deployable: bool) -> str:
    verdict = "ready to deploy" if deployable else "NOT deployable"
    return f"New image {service} {tag}: {verdict}"


def push_button_stale(value: str) -> str:
    return f"This button is not valid any more ({_code(value)}): use `/deploy SERVICE TAG to ENV`."


def auto_deploy_reason(pushed_by: str, skipped: Iterable[str]) -> str:
    """The change-cause reason and the live message's note of an auto-deploy."""
    names = [t for t in skipped]
    skip = f"; skipped {', '.join(names)}" if names else ""
    return f"auto-deploy of a push by {pushed_by or 'someone'}{skip}"


def auto_deploy_note(pushed_by: str, skipped: Iterable[str]) -> str:
    names = [_code(t) for t in skipped]
    skip = f" Skipped (never deployed, a newer tag won): {', '.join(names)}." if names else ""
    return f":robot_face: Auto-deploy of a push by {_person(pushed_by)}.{skip}"


def auto_deploy_held_locked(holder: str, reason: str | None) -> str:
    why = f": {reason}" if reason else ""
    return f"locked by {user(holder)}{why}"


def auto_deploy_held_frozen() -> str:
    return "inside a deploy freeze window"


def auto_deploy_held_in_flight() -> str:
    return "a deploy of the service is in flight"


def auto_deploy_waiting(env: str, why: str) -> str:
    return f":hourglass: Not auto-deployed to {_code(env)} yet: {why}. It goes out when that ends."
