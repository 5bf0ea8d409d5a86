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


# promotion (commands.promotion) --------------------------------------------------------


def promote_needs_target() -> str:
    return (
        "Promote to which environment? Say `to ENV` (no single environment has"
        " `promote_from` for this source)."
    )


def promote_needs_source(env: str) -> str:
    return f"Promote to `{env}` from where? Say `from ENV` (another environment)."


def promote_not_running(service: str, source: str) -> str:
    return (
        f"`{service}` runs no pinned image (`repo:tag@sha256:…`) in `{source}`:"
        " nothing to promote; deploy it there first."
    )


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


def _restarts(restarts: int | None) -> str:
    if restarts is None:
        return "restarts unknown"
    return "no restarts" if restarts == 0 else f"{restarts} restart{'s' if restarts != 1 else ''}"


def promotion_ran(service: str, source: str, hours: float, restarts: int | None, who: str) -> str:
    return (
        f":arrow_up: `{service}`: this digest has run in `{source}` for {_duration(hours)}"
        f" ({_restarts(restarts)} since), deployed there by <@{who}>."
    )


def promotion_unrecorded(service: str, source: str, restarts: int | None) -> str:
    return (
        f":arrow_up: `{service}`: the digest `{source}` runs now ({_restarts(restarts)});"
        f" Deckhand has no record of deploying it there."
    )


def promote_command(services: tuple[str, ...], source: str, env: str) -> str:
    return f"/deploy promote {','.join(services)} from {source} to {env}"


def _unpromoted(services: tuple[str, ...], source: str, env: str) -> str:
    names = ", ".join(f"`{s}`" for s in services)
    return (
        f"`{env}` takes what ran in `{source}` (`promote_from`): {names} never ran this"
        f" digest successfully there"
    )


def not_promoted(services: tuple[str, ...], source: str, env: str) -> str:
    return f"{_unpromoted(services, source, env)}. Use `{promote_command(services, source, env)}`."


def not_promoted_force(services: tuple[str, ...], source: str, env: str) -> str:
    return (
        f":warning: {_unpromoted(services, source, env)}: use"
        f" `{promote_command(services, source, env)}`, or an approver forces this deploy"
        " with a reason (Force)."
    )


def promoted_reason(source: str) -> str:
    return f"promoted from {source}"
