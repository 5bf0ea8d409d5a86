"""Every sentence Deckhand says to a person, in one place.

Short, specific, actionable: what happened, why, and the next command or fix. Names,
tags and commands are wrapped in backticks (Slack mrkdwn); nothing here is Slack-
specific beyond that, so a CLI front-end can print the same strings.

Sections: the grammar (parse errors and usage), validation, authorization, planning,
rollout progress, diagnosis. Functions take the facts and return a string; they are
purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commands.requests import ParseError


def _code(value: object) -> str:
    return f"`{value}`"


def _list(values: Iterable[str]) -> str:
    items = [_code(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def did_you_mean(candidates: Iterable[str]) -> str:
    """` Did you mean `a` or `b`?` (with a leading space), or '' when there is nothing."""
    items = list(candidates)
    return f" Did you mean {_list(items)}?" if items else ""


# --- usage and help --------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One command's help: its syntax, one line of what it does, and examples."""

    syntax: str
    summary: str
    examples: tuple[str, ...]


USAGE: dict[str, Usage] = {
    "deploy": Usage(
        "/deploy SERVICE[,SERVICE…] TAG [ENV] [-- reason]",
        "Check the image in the registry, pin it to its digest, roll it out and report.",
        (
            "/deploy api 237c6b8",
            "/deploy api,worker 237c6b8 to prod",
            "/deploy all 237c6b8 --env staging -- release 42",
        ),
    ),
    "status": Usage(
        "/deploy status [SERVICE] [ENV]",
        "What runs where: image tag, digest, ready replicas, lock.",
        ("/deploy status", "/deploy status api prod", "/deploy status prod"),
    ),
    "history": Usage(
        "/deploy history SERVICE [ENV]",
        "The last deploys of a service: revision, tag, who and when.",
        ("/deploy history api prod",),
    ),
    "rollback": Usage(
        "/deploy rollback SERVICE [ENV] [to TAG | to #REVISION] [-- reason]",
        "Go back to the previous revision, or to a tag or revision that ran before.",
        (
            "/deploy rollback api prod",
            "/deploy rollback api prod to 1a2b3c4",
            "/deploy undo api to #7",
        ),
    ),
    "lock": Usage(
        "/deploy lock SERVICE ENV [reason…]",
        "Stop deploys of a service to an environment until someone unlocks it.",
        ("/deploy lock api prod database migration running",),
    ),
    "unlock": Usage(
        "/deploy unlock SERVICE ENV",
        "Lift a lock.",
        ("/deploy unlock api prod",),
    ),
    "tags": Usage(
        "/deploy tags SERVICE",
        "The newest tags of the service's image in the registry.",
        ("/deploy tags api",),
    ),
    "cancel": Usage(
        "/deploy cancel ID",
        "Cancel a deploy that waits for approval or is still rolling out.",
        ("/deploy cancel d-7f3a2c",),
    ),
    "help": Usage("/deploy help [COMMAND]", "This help.", ("/deploy help rollback",)),
}


def usage(command: str) -> str:
    """One command's help block: syntax, summary, examples."""
    entry = USAGE[command]
    examples = "\n".join(f"  {_code(example)}" for example in entry.examples)
    return f"*{entry.syntax}*\n{entry.summary}\nExamples:\n{examples}"


def overview() -> str:
    """The answer to a bare `/deploy` or `help`: one line per command."""
    lines = [f"{_code(entry.syntax)}: {entry.summary}" for entry in USAGE.values()]
    return "Deckhand commands:\n" + "\n".join(lines)


def unknown_help_topic(topic: str, suggestions: Iterable[str]) -> str:
    return f"There is no command {_code(topic)}.{did_you_mean(suggestions)}\n\n{overview()}"


# --- the grammar -----------------------------------------------------------------------


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
