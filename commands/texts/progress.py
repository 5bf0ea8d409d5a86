"""Texts: rollout progress.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code


def waiting_for_observation() -> str:
    return "Waiting for the Deployment controller to pick up the change"


def waiting_updated(updated: int, wanted: int) -> str:
    return f"{updated} of {wanted} new replicas have been updated"


def waiting_old(old: int) -> str:
    return f"{old} old replica{'s are' if old != 1 else ' is'} pending termination"


def waiting_available(available: int, updated: int) -> str:
    return f"{available} of {updated} updated replicas are available"


def deadline_exceeded(name: str, message: str | None) -> str:
    detail = f": {message}" if message else ""
    return f"Deployment {_code(name)} exceeded its progress deadline{detail}"
