"""Texts: the grammar.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commands.requests import ParseError

from commands.texts._format import _code
from commands.texts.usage import USAGE, overview, usage


def parse_error(error: ParseError) -> str:
    """A `ParseError` in full: the problem, the corrected line, the nearest usage."""
    parts = [error.problem]
    if error.did_you_mean:
        parts.append(f"Did you mean {_code(error.did_you_mean)}?")
    text = " ".join(parts)
    if error.help_topic in USAGE:
        return f"{text}\n\n{usage(error.help_topic)}"
    return f"{text}\n\n{overview()}"


def too_long(limit: int) -> str:
    return f"That command is longer than {limit} characters; Deckhand commands are one line."


def not_understood(text: str) -> str:
    return f"I don't understand {_code(text)}."


def unknown_verb(word: str) -> str:
    return f"{_code(word)} is not a Deckhand command."


def bad_name(kind: str, word: str) -> str:
    return (
        f"{_code(word)} is not a valid {kind} name: "
        "lowercase letters, digits, `-`, `_` and `.` only."
    )


def digest_not_tag() -> str:
    return "Deploy by tag, not by digest: Deckhand looks up the digest and pins it for you."


def image_not_tag(text: str, tag: str | None) -> str:
    hint = f" (here {_code(tag)})" if tag else ""
    return f"{_code(text)} looks like an image reference: give just the tag{hint}."


def bad_tag(tag: str) -> str:
    return (
        f"{_code(tag)} is not a valid tag: letters, digits, `_`, `.` and `-` only, "
        "at most 128, not starting with `.` or `-`."
    )


def missing_env_after(word: str) -> str:
    return f"{_code(word)} needs an environment after it, e.g. {_code(word + ' prod')}."


def unknown_option(word: str) -> str:
    return f"Unknown option {_code(word)}: the only option is `--env ENV` (and `-- reason`)."


def two_envs(first: str, second: str) -> str:
    return f"Two environments given ({_code(first)} and {_code(second)}): name one."


def missing_target() -> str:
    return "Which service? Name one or more, e.g. `api` or `api,worker`."


def missing_tag(target: str) -> str:
    return (
        f"Which tag of {_code(target)}? Add the git short SHA, e.g. {_code(target + ' 237c6b8')}."
    )


def targets_need_commas() -> str:
    return "Separate several services with commas, then the tag."


def unexpected_words(words: str) -> str:
    return f"I don't know what to do with {_code(words)}."


def missing_service(command: str) -> str:
    return f"{_code(command)} needs a service name."


def missing_env(command: str) -> str:
    return f"{_code(command)} needs a service and an environment."


def bad_revision(word: str) -> str:
    return f"{_code(word)} is not a revision number: write e.g. `to #7`."


def missing_rollback_target() -> str:
    return "Roll back to what? Write `to TAG` or `to #REVISION`, or nothing for the previous one."


def tag_and_revision() -> str:
    return "Give a tag or a revision to roll back to, not both."


def missing_request_id() -> str:
    return "Which deploy? Give its id, shown in the deploy's message (e.g. `d-7f3a2c`)."


def bad_request_id(word: str) -> str:
    return f"{_code(word)} is not a deploy id: ids look like `d-7f3a2c`."
