"""Texts: the Slack plumbing (acks while restarting, unexpected errors, the help-only
stand-in backend).

Purely computational functions with no side-effects.
"""

from __future__ import annotations


def restarting() -> str:
    return "Deckhand is restarting. Try again in a minute."


def unexpected_error(correlation_id: str) -> str:
    return (
        f"Sorry, something went wrong on Deckhand's side (error id `{correlation_id}`). "
        "Share the id with the platform team: the log has the details."
    )


def bot_not_in_channel(channel_id: str, *, nothing_changed: bool = True) -> str:
    """The bot can't post its message in the request's channel (not a member there)."""
    where = f"<#{channel_id}>" if channel_id.startswith(("C", "G")) else "this conversation"
    tail = " Nothing was changed." if nothing_changed else ""
    return (
        f"Deckhand can't post in {where}: it isn't a member there. "
        f"Type `/invite @deckhand` in {where}, then try again.{tail}"
    )
