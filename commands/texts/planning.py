"""Texts: planning.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code, _list
from commands.texts.authorization import user


def change_cause(user_id: str, action: str, reason: str | None) -> str:
    """The `kubernetes.io/change-cause` annotation (shown by `kubectl rollout history`)."""
    return f"deckhand: {user_id} {action}" + (f" ({reason})" if reason else "")


def image_problem(service: str, sentence: str) -> str:
    return f"Not deploying {_code(service)}: {sentence}"


def not_checked(service: str) -> str:
    return f"Not deploying {_code(service)}: its image wasn't checked in the registry. Try again."


def nothing_to_do(services: Iterable[str], tag: str, env: str) -> str:
    names = list(services)
    verb = "runs" if len(names) == 1 else "run"
    return f"Nothing to do: {_list(names)} already {verb} {_code(tag)} in {_code(env)}."


def locked(service: str, env: str, holder: str, reason: str | None, since: str) -> str:
    why = f": {reason}" if reason else ""
    return (
        f"{_code(service)} is locked in {_code(env)} by {user(holder)} since {since}{why}. "
        f"Ask them, or {_code(f'/deploy unlock {service} {env}')} when it's safe."
    )


def deployment_missing(service: str, namespace: str, deployment: str) -> str:
    return (
        f"There is no Deployment {_code(deployment)} in namespace {_code(namespace)} for "
        f"{_code(service)}: create it first, or fix `services.{service}.deployments`."
    )


def container_missing(deployment: str, container: str, containers: Iterable[str]) -> str:
    return (
        f"Deployment {_code(deployment)} has no container {_code(container)} "
        f"(it has {_list(containers) or 'none'}): fix the service's `container` in the config."
    )


def paused(deployment: str, namespace: str) -> str:
    return (
        f"Deployment {_code(deployment)} is paused: "
        f"`kubectl rollout resume -n {namespace} deployment/{deployment}` first."
    )


def replica_limit(service: str, limit: int, replicas: int, peak: int, deployment: str) -> str:
    if replicas > limit:
        return (
            f"{_code(service)} may run at most {limit} pod(s) but {_code(deployment)} "
            f"asks for {replicas}: scale it down first."
        )
    return (
        f"{_code(service)} may run at most {limit} pod(s), but a rolling update of "
        f"{_code(deployment)} would briefly run {peak}: set its `strategy.type: Recreate` "
        "(or `rollingUpdate.maxSurge: 0`)."
    )


def no_history(service: str, env: str) -> str:
    return f"{_code(service)} in {_code(env)} has no earlier revision to roll back to."


def no_such_revision(service: str, wanted: str, available: Iterable[str]) -> str:
    have = list(available)
    listed = f" Revisions kept: {', '.join(have)}." if have else ""
    return f"No revision of {_code(service)} ran {wanted}.{listed}"


def already_running(service: str, env: str, what: str) -> str:
    return f"Nothing to do: {_code(service)} already runs {what} in {_code(env)}."
