"""Texts: authorization.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code


def user(user_id: str) -> str:
    """A Slack mention of a user id."""
    return f"<@{user_id}>"


def usergroup(group_id: str) -> str:
    """A Slack mention of a user group id."""
    return f"<!subteam^{group_id}>"


def _people(users: Iterable[str], groups: Iterable[str]) -> str:
    names = [user(u) for u in users] + [f"members of {usergroup(g)}" for g in groups]
    if not names:
        return "nobody"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


def wrong_channel(env: str, channel: str, allowed: Iterable[str]) -> str:
    channels = [f"<#{c}>" for c in allowed]
    if not channels:
        return (
            f"No channel may command {_code(env)} yet: add this channel's id {_code(channel)} "
            f"to `environments.{env}.channels` in Deckhand's config."
        )
    return f"{_code(env)} is commanded from {', '.join(channels)} only, not from here."


def not_a_deployer(
    who: str, env: str, action: str, users: Iterable[str], groups: Iterable[str]
) -> str:
    allowed = _people(users, groups)
    if allowed == "nobody":
        return (
            f"Nobody may {action} in {_code(env)} yet: list deployers under "
            f"`environments.{env}.deployers` in Deckhand's config."
        )
    return (
        f"{user(who)}, you can't {action} in {_code(env)}: that takes {allowed}. "
        "Ask one of them, or to be added to the deployers."
    )


def self_approval() -> str:
    return "You requested this deploy: someone else has to approve it."


def not_an_approver(who: str, env: str, users: Iterable[str], groups: Iterable[str]) -> str:
    return (
        f"{user(who)}, you can't approve deploys to {_code(env)}: "
        f"that takes {_people(users, groups)}."
    )
