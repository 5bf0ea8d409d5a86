"""Turn a validated deploy or rollback plus the observed state into a plan, as data.

    plan_deploy(*, request, config, current, verdicts, locks, requested_by, deploy_id,
                requested_at) -> DeployPlan | Refusal
    plan_rollback(*, request, config, current, history, locks, requested_by, deploy_id,
                  requested_at, verdict=None) -> RollbackPlan | Refusal
    plan_restart(*, request, config, current, locks, requested_by, deploy_id,
                 requested_at) -> DeployPlan | Refusal   (kind "restart")

Inputs the runtime gathers first: `current` maps each Deployment name (in the env's
namespace) to its `DeploymentState`; `verdicts` maps each service to the registry's
`ImageCheck` (pullable, with digest) or `ImageProblem` (a sentence); `locks` maps
`(service, env)` to a `LockInfo`; `history` lists `Revision`s of the service's first
Deployment (its ReplicaSets). Missing Deployments are simply absent from `current`.

A plan has one `Patch` per Deployment: the container's image (pinned
`repo:tag@sha256:…` when `tag_policy.pin_digest`) and the Deployment annotations
`kubernetes.io/change-cause`, `deckhand.dev/requested-by`, `deckhand.dev/tag`,
`deckhand.dev/deploy-id`, `deckhand.dev/requested-at`. `Patch.body()` is the
strategic merge patch to send.

Refusals, every problem of every service in one reply: image not pullable, locked
(by someone else: the lock's holder may deploy through it), Deployment or container
missing, Deployment paused, `max_replicas` exceeded or a rolling update that would
surge past it; and "nothing to do" when every service already runs that digest
(services that do are listed in `DeployPlan.unchanged` and left alone).

The observed-state types live in `commands.observed` and are re-exported here.
A restart is a `DeployPlan` of kind `restart`: each Deployment keeps its image and gets
`kubectl rollout restart`'s pod-template annotation `kubectl.kubernetes.io/restartedAt`
(RFC 3339), so it is locked, recorded, followed and reported like any deploy. It needs
no approvals (nothing new runs) and is refused like a deploy (locks, missing, paused…).

The planners are purely computational functions with no side-effects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from commands import texts
from commands.config import DeckhandConfig, ServiceConfig
from commands.images import ImageReference, InvalidReference, tag_of
from commands.observed import (
    DeploymentState,
    ImageCheck,
    ImageProblem,
    LockInfo,
    Revision,
    peak_pods,
)
from commands.requests import Refusal, RefusalCode
from commands.rollout_decisions import CHANGE_CAUSE
from commands.validate import ValidatedDeploy, ValidatedRestart, ValidatedRollback

if TYPE_CHECKING:
    from commands.changes import ChangeNotes

__all__ = [  # the observed-state types are re-exported: callers plan with one import
    "CHANGE_CAUSE",
    "DEPLOY_ID",
    "REQUESTED_AT",
    "REQUESTED_BY",
    "TAG",
    "DeployPlan",
    "DeploymentState",
    "ImageCheck",
    "ImageProblem",
    "LockInfo",
    "Patch",
    "Revision",
    "RollbackPlan",
    "ServicePlan",
    "peak_pods",
    "plan_deploy",
    "plan_restart",
    "plan_rollback",
]

REQUESTED_BY = "deckhand.dev/requested-by"
TAG = "deckhand.dev/tag"
DEPLOY_ID = "deckhand.dev/deploy-id"
REQUESTED_AT = "deckhand.dev/requested-at"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
"""The pod-template annotation `kubectl rollout restart` sets."""


@dataclass(frozen=True)
class Patch:
    """Set `container`'s image in Deployment `namespace/deployment`, with annotations."""

    namespace: str
    deployment: str
    container: str
    image: str
    annotations: tuple[tuple[str, str], ...]
    restarted_at: str | None = None
    """A restart: `kubectl.kubernetes.io/restartedAt` on the pod template (RFC 3339)."""

    def body(self) -> dict[str, Any]:
        """The strategic merge patch (`application/strategic-merge-patch+json`)."""
        template: dict[str, Any] = {
            "spec": {"containers": [{"name": self.container, "image": self.image}]}
        }
        if self.restarted_at is not None:
            template["metadata"] = {"annotations": {RESTARTED_AT: self.restarted_at}}
        return {"metadata": {"annotations": dict(self.annotations)}, "spec": {"template": template}}


@dataclass(frozen=True)
class ServicePlan:
    """One service's part of a deploy: its checked image and one patch per Deployment."""

    service: str
    image: ImageCheck
    patches: tuple[Patch, ...]
    running: str = ""
    """The image its (first) Deployment runs now, before the deploy."""


@dataclass(frozen=True)
class DeployPlan:
    """Everything to do for one deploy; `services` in config order."""

    deploy_id: str
    env: str
    namespace: str
    tag: str
    requested_by: str
    requested_at: datetime
    reason: str | None
    services: tuple[ServicePlan, ...]
    unchanged: tuple[str, ...]
    """Services that already run this digest: left alone."""
    approvals_required: int
    auto_rollback: bool
    change_notes: tuple[ChangeNotes, ...] = ()
    """What each service's deploy changes in git (`commands.changes`), when read."""
    kind: str = "deploy"
    """`deploy`, or `restart` (same images, fresh pods)."""
    promoted_from: str | None = None
    """A promotion: the environment whose digest this deploys."""
    promotion: tuple[str, ...] = ()
    """A promotion's facts (`commands.promotion.promotion_facts`), one line per service."""
    unpromoted: tuple[str, ...] = ()
    """Services whose digest never ran successfully in the env's `promote_from`."""
    promote_source: str = ""

    @property
    def patches(self) -> tuple[Patch, ...]:
        return tuple(p for s in self.services for p in s.patches)


@dataclass(frozen=True)
class RollbackPlan:
    """Roll `service` in `env` back from `from_revision` to `to`."""

    deploy_id: str
    service: str
    env: str
    namespace: str
    from_revision: int | None
    to: Revision
    patches: tuple[Patch, ...]
    requested_by: str
    requested_at: datetime
    reason: str | None
    approvals_required: int


def _annotations(
    *, cause: str, user: str, tag: str, deploy_id: str, at: datetime
) -> tuple[tuple[str, str], ...]:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        (CHANGE_CAUSE, cause),
        (REQUESTED_BY, user),
        (TAG, tag),
        (DEPLOY_ID, deploy_id),
        (REQUESTED_AT, stamp),
    )


def _digest_of(image: str | None) -> str | None:
    if image is None:
        return None
    try:
        return ImageReference.parse(image).digest
    except InvalidReference:
        return None


def _state_problems(
    service: str, config: ServiceConfig, current: Mapping[str, DeploymentState], namespace: str
) -> list[Refusal]:
    """Deployment missing, container missing, paused, replica limit."""
    problems: list[Refusal] = []
    for target in config.deployments:
        state = current.get(target.name)
        if state is None:
            text = texts.deployment_missing(service, namespace, target.name)
            problems.append(Refusal(RefusalCode.DEPLOYMENT_MISSING, text))
            continue
        if state.image is None:
            text = texts.container_missing(target.name, target.container, state.containers)
            problems.append(Refusal(RefusalCode.DEPLOYMENT_MISSING, text))
        if state.paused:
            problems.append(Refusal(RefusalCode.PAUSED, texts.paused(target.name, namespace)))
        limit = config.max_replicas
        if limit is not None and (state.replicas > limit or peak_pods(state) > limit):
            text = texts.replica_limit(service, limit, state.replicas, peak_pods(state), state.name)
            problems.append(Refusal(RefusalCode.REPLICA_LIMIT, text))
    return problems


def _lock_problem(
    service: str, env: str, locks: Mapping[tuple[str, str], LockInfo], user: str, now: datetime
) -> Refusal | None:
    lock = locks.get((service, env))
    if lock is None or not lock.active(now) or lock.holder == user:
        return None
    since = lock.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Refusal(RefusalCode.LOCKED, texts.locked(service, env, lock.holder, lock.reason, since))


def _service_problems(
    service: str,
    env: str,
    config: DeckhandConfig,
    current: Mapping[str, DeploymentState],
    locks: Mapping[tuple[str, str], LockInfo],
    user: str,
    now: datetime,
) -> list[Refusal]:
    """One service's lock (first) and Deployment problems."""
    namespace = config.environments[env].namespace
    problems = _state_problems(service, config.services[service], current, namespace)
    lock = _lock_problem(service, env, locks, user, now)
    return [lock, *problems] if lock else problems


def _combine(problems: list[Refusal]) -> Refusal:
    return Refusal(problems[0].code, "\n".join(p.text for p in problems))


def plan_deploy(
    *,
    request: ValidatedDeploy,
    config: DeckhandConfig,
    current: Mapping[str, DeploymentState],
    verdicts: Mapping[str, ImageCheck | ImageProblem],
    locks: Mapping[tuple[str, str], LockInfo],
    requested_by: str,
    deploy_id: str,
    requested_at: datetime,
) -> DeployPlan | Refusal:
    """The patches for `request`, or why not. A purely computational function."""
    env = config.environments[request.env]
    problems: list[Refusal] = []
    planned: list[ServicePlan] = []
    unchanged: list[str] = []
    for service in request.services:
        service_config = config.services[service]
        lock = _lock_problem(service, request.env, locks, requested_by, requested_at)
        verdict = verdicts.get(service)
        found = [lock] if lock else []
        if isinstance(verdict, ImageProblem):
            text = texts.image_problem(service, verdict.sentence)
            found.append(Refusal(RefusalCode.IMAGE_PROBLEM, text))
        elif verdict is None:
            found.append(Refusal(RefusalCode.IMAGE_PROBLEM, texts.not_checked(service)))
        found += _state_problems(service, service_config, current, env.namespace)
        if found or not isinstance(verdict, ImageCheck):
            problems += found
            continue
        targets = service_config.deployments
        image = _image(service_config, request.tag, verdict.digest, config.tag_policy.pin_digest)
        running = [current[t.name].image for t in targets]
        if all(_digest_of(i) == verdict.digest or i == image for i in running):
            unchanged.append(service)
            continue
        action = f"deployed {request.tag}"
        annotations = _annotations(
            cause=texts.change_cause(requested_by, action, request.reason),
            user=requested_by,
            tag=request.tag,
            deploy_id=deploy_id,
            at=requested_at,
        )
        patches = tuple(
            Patch(env.namespace, t.name, t.container, image, annotations) for t in targets
        )
        planned.append(ServicePlan(service, verdict, patches, running=running[0] or ""))
    if problems:
        return _combine(problems)
    if not planned:
        text = texts.nothing_to_do(unchanged, request.tag, request.env)
        return Refusal(RefusalCode.NOTHING_TO_DO, text)
    return DeployPlan(
        deploy_id=deploy_id,
        env=request.env,
        namespace=env.namespace,
        tag=request.tag,
        requested_by=requested_by,
        requested_at=requested_at,
        reason=request.reason,
        services=tuple(planned),
        unchanged=tuple(unchanged),
        approvals_required=env.approvals.required_at(requested_at),
        auto_rollback=env.auto_rollback,
    )


def _image(service: ServiceConfig, tag: str, digest: str, pin: bool) -> str:
    reference = service.reference().with_tag(tag)
    return reference.with_digest(digest).pinned() if pin else str(reference)


def _rollback_target(
    request: ValidatedRollback, history: Sequence[Revision], state: DeploymentState
) -> Revision | Refusal:
    newest_first = sorted(history, key=lambda r: r.number, reverse=True)
    others = [r for r in newest_first if r.number != state.revision]
    available = [f"#{r.number} ({r.tag or r.image})" for r in newest_first]
    if request.revision is not None:
        wanted = f"revision #{request.revision}"
        matches = [r for r in newest_first if r.number == request.revision]
    elif request.to is not None:
        wanted = _code(request.to)
        matches = [r for r in others if r.tag == request.to] or [
            r for r in newest_first if r.tag == request.to
        ]
    else:
        matches = [r for r in others if r.image != state.image]
        if not matches:
            return Refusal(
                RefusalCode.NO_ROLLBACK_TARGET, texts.no_history(request.service, request.env)
            )
        return matches[0]
    if not matches:
        text = texts.no_such_revision(request.service, wanted, available)
        return Refusal(RefusalCode.NO_ROLLBACK_TARGET, text)
    target = matches[0]
    if target.number == state.revision or target.image == state.image:
        text = texts.already_running(request.service, request.env, wanted)
        return Refusal(RefusalCode.NOTHING_TO_DO, text)
    return target


def _code(value: str) -> str:
    return f"`{value}`"


def plan_rollback(
    *,
    request: ValidatedRollback,
    config: DeckhandConfig,
    current: Mapping[str, DeploymentState],
    history: Sequence[Revision],
    locks: Mapping[tuple[str, str], LockInfo],
    requested_by: str,
    deploy_id: str,
    requested_at: datetime,
    verdict: ImageCheck | ImageProblem | None = None,
) -> RollbackPlan | Refusal:
    """The patches that put `request.service` back on an earlier revision, or why not.

    Target: `request.revision`, else the newest revision that ran tag `request.to`,
    else the newest revision before the current one with a different image. Every
    Deployment of the service gets that revision's image. `verdict`, when the runtime
    re-checked the image, refuses a rollback to an image the registry no longer has.
    A purely computational function with no side-effects.
    """
    env = config.environments[request.env]
    service = config.services[request.service]
    problems = _service_problems(
        request.service, request.env, config, current, locks, requested_by, requested_at
    )
    if isinstance(verdict, ImageProblem):
        text = texts.image_problem(request.service, verdict.sentence)
        problems.append(Refusal(RefusalCode.IMAGE_PROBLEM, text))
    if problems:
        return _combine(problems)
    first = current[service.deployments[0].name]
    target = _rollback_target(request, history, first)
    if isinstance(target, Refusal):
        return target
    label = target.tag or target.image
    action = f"rolled back to {label} (revision {target.number})"
    annotations = _annotations(
        cause=texts.change_cause(requested_by, action, request.reason),
        user=requested_by,
        tag=target.tag or "",
        deploy_id=deploy_id,
        at=requested_at,
    )
    patches = tuple(
        Patch(env.namespace, t.name, t.container, target.image, annotations)
        for t in service.deployments
    )
    return RollbackPlan(
        deploy_id=deploy_id,
        service=request.service,
        env=request.env,
        namespace=env.namespace,
        from_revision=first.revision,
        to=target,
        patches=patches,
        requested_by=requested_by,
        requested_at=requested_at,
        reason=request.reason,
        approvals_required=env.approvals.required_at(requested_at),
    )


def plan_restart(
    *,
    request: ValidatedRestart,
    config: DeckhandConfig,
    current: Mapping[str, DeploymentState],
    locks: Mapping[tuple[str, str], LockInfo],
    requested_by: str,
    deploy_id: str,
    requested_at: datetime,
) -> DeployPlan | Refusal:
    """`kubectl rollout restart` of every Deployment of `request.service`, or why not.

    Each keeps the image it runs; the tag shown is the first Deployment's. A purely
    computational function with no side-effects.
    """
    env = config.environments[request.env]
    service = config.services[request.service]
    problems = _service_problems(
        request.service, request.env, config, current, locks, requested_by, requested_at
    )
    if problems:
        return _combine(problems)
    stamp = requested_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    first = current[service.deployments[0].name].image or ""
    tag = tag_of(first) or ""
    annotations = _annotations(
        cause=texts.change_cause(requested_by, "restarted the pods", request.reason),
        user=requested_by,
        tag=tag,
        deploy_id=deploy_id,
        at=requested_at,
    )
    patches = tuple(
        Patch(
            env.namespace,
            t.name,
            t.container,
            current[t.name].image or "",
            annotations,
            restarted_at=stamp,
        )
        for t in service.deployments
    )
    check = ImageCheck(reference=first, digest=_digest_of(first) or "", platform="")
    return DeployPlan(
        deploy_id=deploy_id,
        env=request.env,
        namespace=env.namespace,
        tag=tag,
        requested_by=requested_by,
        requested_at=requested_at,
        reason=request.reason,
        services=(ServicePlan(request.service, check, patches),),
        unchanged=(),
        approvals_required=0,
        auto_rollback=False,
        kind="restart",
    )
