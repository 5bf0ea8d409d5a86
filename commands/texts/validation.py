"""Texts: validation.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code, _list, did_you_mean


def unknown_targets(
    names: Iterable[str], suggestions: dict[str, tuple[str, ...]], known: Iterable[str]
) -> str:
    lines = [f"There is no service or group {_code(name)}.{did_you_mean(suggestions.get(name, ()))}"
             for name in names]  # fmt: skip
    return "\n".join(lines) + f"\nServices and groups: {', '.join(map(_code, known))}."


def env_is_not_a_service(name: str) -> str:
    return f"{_code(name)} is an environment, not a service: write the service first, then the tag."


def unknown_env(name: str, suggestions: Iterable[str], known: Iterable[str]) -> str:
    return (
        f"There is no environment {_code(name)}.{did_you_mean(suggestions)} "
        f"Environments: {', '.join(map(_code, known))}."
    )


def no_env(known: Iterable[str]) -> str:
    return f"Which environment? Add one of {_list(known)}, e.g. `to prod`."


def tag_latest(service_hint: str) -> str:
    return (
        "`latest` is never deployed: it moves, so nobody could tell what runs or roll back "
        f"to it. Deploy the commit's tag instead, e.g. {_code(f'/deploy {service_hint} 237c6b8')}."
    )


def tag_refused(tag: str) -> str:
    return f"Tag {_code(tag)} is refused by the tag policy (`tag_policy.refuse`)."


def tag_not_lowercase(tag: str) -> str:
    return f"Tags are lowercase in the registry: did you mean {_code(tag.lower())}?"


def tag_pattern(tag: str, pattern: str) -> str:
    return (
        f"Tag {_code(tag)} doesn't match the tag policy {_code(pattern)}: "
        "deploy a git commit SHA (`git rev-parse --short HEAD`)."
    )


def revision_hint(tag: str) -> str:
    return f" For revision {tag}, write {_code(f'to #{tag}')}."


def rollback_to_env(word: str) -> str:
    return f"{_code(word)} is an environment: write `rollback SERVICE {word}` (`to` names a tag)."


def group_not_allowed(name: str, command: str) -> str:
    return f"{_code(command)} works on one service; {_code(name)} is a group."
