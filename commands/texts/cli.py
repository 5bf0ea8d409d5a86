"""Texts: command line (bot.deploy_cli).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from commands.observed import DeploymentState, LockInfo
    from commands.progress import Progress


def cli_progress(p: Progress) -> str:
    """One line for one service's progress on a terminal."""
    head = f"{p.service} → {p.tag or 'rollback'} ({p.env})"
    counts = f"{p.updated}/{p.total} updated, {p.ready} ready, {p.available} available"
    detail = f" · {p.detail}" if p.detail else ""
    if p.phase.is_final or p.total == 0:
        return f"{head}: {p.phase.value.replace('_', ' ')}{detail}"
    return f"{head}: {p.phase.value.replace('_', ' ')} · {counts} · {p.elapsed_s:.1f}s{detail}"


def cli_needs_approval(env: str) -> str:
    return (
        f"{env} needs an approval: ask in Slack with `/deploy … to {env}`, or, in an "
        'emergency, repeat this with `--break-glass "why"` (recorded and announced).'
    )


def cli_started(deploy_id: str, env: str) -> str:
    return (
        f"Deploy {deploy_id} to {env} is rolling out; not waiting (--no-wait). "
        f"`deckhand status --env {env}` shows where it is."
    )


def cli_unknown_env(env: str | None, known: list[str]) -> str:
    return f"No environment {env!r}; known: {', '.join(known)}."


def cli_unknown_service(service: str, known: list[str]) -> str:
    return f"No service {service!r}; known: {', '.join(known)}."


def cli_status_line(
    service: str, env: str, deployments: Sequence[DeploymentState], lock: LockInfo | None
) -> str:
    """`api (staging): api runs repo:tag@sha256:… ×3, revision 4 · locked by …`."""
    parts = [
        f"{d.name} runs {d.image or '(no such container)'} ×{d.replicas}"
        + (f", revision {d.revision}" if d.revision is not None else "")
        + (" (paused)" if d.paused else "")
        for d in deployments
    ] or ["no Deployment found"]
    locked = f" · locked by {lock.holder}: {lock.reason}" if lock else ""
    return f"{service} ({env}): " + "; ".join(parts) + locked


def cli_history_line(when: str, who: str, tag: str, result: str, duration_s: float | None) -> str:
    took = f" in {duration_s:.0f}s" if duration_s is not None else ""
    return f"{when}  {tag or '(rollback)':<12} {who:<14} {result or 'rolling out'}{took}"


def cli_revision_line(number: int, image: str, change_cause: str | None) -> str:
    return f"revision {number:<4} {image}" + (f"  ({change_cause})" if change_cause else "")


def cli_interrupted() -> str:
    return (
        "Interrupted. A rollout already started keeps going in the cluster; "
        "`deckhand status` shows it."
    )


def cli_plan_line(service: str, running: str, image: str) -> str:
    return f"{service}: {running or '(none)'} → {image}"


def cli_dry_run_done(env: str, approvals: int) -> str:
    needs = f"; {env} needs {approvals} approval(s)" if approvals else ""
    return f"Dry run: nothing was deployed to {env}{needs}."


def cli_not_promoted(services: tuple[str, ...], source: str, env: str) -> str:
    return (
        f"{env} takes what ran in {source} (promote_from): {', '.join(services)} never ran"
        f" this digest successfully there. Use `deckhand promote {','.join(services)}"
        f' --from {source} --env {env}`, or `--break-glass "why"` (recorded).'
    )
