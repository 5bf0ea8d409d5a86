"""Texts: usage and help.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code, did_you_mean


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
    "restart": Usage(
        "/deploy restart SERVICE [ENV] [-- reason]",
        "Replace every pod with a fresh one, same image (as `kubectl rollout restart`), "
        "followed to a verdict like a deploy.",
        ("/deploy restart api prod -- pull secret renewed",),
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
    "promote": Usage(
        "/deploy promote SERVICE|GROUP [from ENV] [to ENV] [-- reason]",
        "Deploy exactly the digest another environment runs now (default: staging → prod).",
        ("/deploy promote api", "/deploy promote api from staging to prod", "/deploy promote all"),
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
