"""Answers to `help [topic]`: the overview, one command's usage, or "did you mean".

    help_text(topic: str | None) -> str

Topics are the commands and their aliases (`undo` → rollback, `tag` → tags); a typo'd
topic gets the nearest command suggested. The sentences live in `commands.texts`.

A purely computational function with no side-effects.
"""

from __future__ import annotations

from commands import texts
from commands.grammar import COMMANDS, VERBS
from commands.requests import Help
from commands.suggest import did_you_mean


def help_text(topic: str | None) -> str:
    """The help for `topic` (None or empty: the overview of every command)."""
    if not topic:
        return texts.overview()
    word = topic.lower().lstrip("/")
    if word in VERBS:
        return texts.usage(VERBS[word])
    return texts.unknown_help_topic(word, did_you_mean(word, COMMANDS))


def answer(request: Help) -> str:
    """The reply to a parsed `Help` request."""
    return help_text(request.topic)
