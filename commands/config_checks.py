"""The config's cross-field checks, and the error type that carries their key paths.

    relation_problems(ConfigShape) -> list[Problem]
    ConfigShape.from_raw(yaml_mapping)    ConfigShape(...) from validated models
    check_name(value, kind) -> value      (raises ValueError with the reason)

Relations are names that must exist or must not collide: group members must be
services, group/service/environment names and aliases must all differ, namespaces
must differ, `default_environment` must name an environment, a service lists each
Deployment once; every name is a lowercase word the chat grammar can't mistake for a
command (`RESERVED_WORDS`, or a likely typo of a verb).

`commands.config.DeckhandConfig` runs these checks once its fields are valid.
Pydantic never runs a model validator when a field failed, so `bot.config` also runs
them on the raw YAML (`ConfigShape.from_raw`, which ignores whatever has the wrong
shape: those keys already have a field error) to report every problem at once.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands.grammar import RESERVED_WORDS, verb_typo
from commands.suggest import did_you_mean

_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")

REFUSED_KEYS = {
    "allow_self_approval": "is not configurable: the requester never approves their own deploy",
}
"""Keys people may expect but that are refused on purpose, with the reason."""

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the config: `path` relative to the model that found it."""

    path: Path
    message: str


class ConfigProblems(ValueError):
    """Raised by model validators; pydantic keeps it in the error's `ctx["error"]`."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems))
        self.problems = tuple(problems)


def check_name(value: str, kind: str) -> str:
    """`value` if it can name a service, group, environment or alias; else ValueError."""
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid {kind} name "
            "(expected lowercase letters, digits and '-', starting with a letter, ≤ 40)"
        )
    if value in RESERVED_WORDS:
        raise ValueError(f"{value!r} is a Deckhand command word and can't name a {kind}")
    if (verb := verb_typo(value)) is not None:
        raise ValueError(f"{value!r} is too close to the command {verb!r} to name a {kind}")
    return value


@dataclass(frozen=True)
class ConfigShape:
    """The names the relations are about. None: that part was unreadable (skip its checks)."""

    services: Mapping[str, tuple[str, ...]] | None  # service → Deployment names
    groups: Mapping[str, tuple[str | None, ...]] = field(default_factory=dict)
    environments: Mapping[str, tuple[tuple[str, ...], str | None]] | None = None
    """environment → (aliases, namespace)"""
    default_environment: str | None = None

    @classmethod
    def from_raw(cls, data: Mapping[str, Any]) -> ConfigShape:
        """The readable parts of a raw config mapping (wrong shapes are left out)."""
        services = _mapping(data.get("services"))
        environments = _mapping(data.get("environments"))
        default = data.get("default_environment")
        return cls(
            services=None
            if not services
            else {
                name: tuple(
                    d["name"]
                    for d in _list(_mapping(value).get("deployments"))
                    if isinstance(d, Mapping) and isinstance(d.get("name"), str)
                )
                for name, value in services.items()
            },
            groups={
                name: tuple(m if isinstance(m, str) else None for m in members)
                for name, members in _mapping(data.get("groups")).items()
                if isinstance(members, list)
            },
            environments=None
            if not environments
            else {
                name: (
                    tuple(a for a in _list(_mapping(env).get("aliases")) if isinstance(a, str)),
                    ns if isinstance(ns := _mapping(env).get("namespace"), str) else None,
                )
                for name, env in environments.items()
            },
            default_environment=default if isinstance(default, str) else None,
        )


def _mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str)}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def relation_problems(shape: ConfigShape) -> list[Problem]:
    """Every relation problem in `shape`, with paths from the config's root."""
    return list(_problems(shape))


def _problems(shape: ConfigShape) -> Iterator[Problem]:
    services = shape.services or {}
    for name, deployments in services.items():
        yield from _name_problem(("services", name), name, "service")
        if len(set(deployments)) != len(deployments):
            yield Problem(("services", name, "deployments"), "lists a Deployment twice")
    for name, members in shape.groups.items():
        yield from _name_problem(("groups", name), name, "group")
        if name in services:
            yield Problem(("groups", name), "has the name of a service (expected a new name)")
        if not members:
            yield Problem(("groups", name), "is empty (expected at least one service)")
        for index, member in enumerate(members):
            if shape.services is not None and member is not None and member not in services:
                near = _near(member, services)
                yield Problem(("groups", name, index), f"unknown service {member!r}{near}")
    if shape.environments is None:
        return
    owner: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    for env_name, (aliases, namespace) in shape.environments.items():
        yield from _name_problem(("environments", env_name), env_name, "environment")
        for word in (env_name, *aliases):
            path: Path = ("environments", env_name)
            if word != env_name:
                path = (*path, "aliases")
            if word in owner and owner[word] != env_name:
                yield Problem(path, f"{word!r} already names environment {owner[word]!r}")
            elif word in services or word in shape.groups:
                yield Problem(path, f"{word!r} is also a service or group name")
            owner.setdefault(word, env_name)
        if namespace is not None and namespace in namespaces:
            yield Problem(
                ("environments", env_name, "namespace"),
                f"{namespace!r} is also environment {namespaces[namespace]!r}'s namespace",
            )
        if namespace is not None:
            namespaces.setdefault(namespace, env_name)
    default = shape.default_environment
    if default is not None and default not in owner:
        near = _near(default, owner)
        yield Problem(("default_environment",), f"unknown environment {default!r}{near}")


def _name_problem(path: Path, name: str, kind: str) -> Iterator[Problem]:
    try:
        check_name(name, kind)
    except ValueError as error:
        yield Problem(path, str(error))


def _near(word: str, known: Mapping[str, object]) -> str:
    expected = ", ".join(map(repr, known))
    found = did_you_mean(word, list(known), n=1)
    hint = f"; did you mean {found[0]!r}?" if found else ""
    return f" (expected one of {expected}{hint})"
