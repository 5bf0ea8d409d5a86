"""Check a parsed request against the team's config: `validate(request, config)`.

    validate(Deploy,   config) -> ValidatedDeploy   | Refusal
    validate(Status,   config) -> ValidatedStatus   | Refusal
    validate(History,  config) -> ValidatedHistory  | Refusal
    validate(Rollback, config) -> ValidatedRollback | Refusal
    validate(Restart,  config) -> ValidatedRestart  | Refusal
    validate(Lock,     config) -> ValidatedLock     | Refusal
    validate(Unlock,   config) -> ValidatedUnlock   | Refusal
    validate(Tags,     config) -> ValidatedTags     | Refusal
    validate(Cancel | Help, config) -> the same request (nothing to check here)

What it does: expands groups (`all` → api, worker, admin, in config order, without
duplicates), resolves environment aliases and the default environment to the
canonical name, refuses unknown services and environments with "did you mean", and
applies the tag policy (the pattern; `latest` and the `refuse` list, with the reason).

What it can't do, because it needs state: `max_replicas`, locks, image checks and the
Deployment's current image are `commands.plan`'s; who may do it is `commands.authz`'s.

`validate` is a purely computational function with no side-effects.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands import texts
from commands.config import DeckhandConfig, TagPolicy
from commands.requests import (
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    Promote,
    Refusal,
    RefusalCode,
    Request,
    Restart,
    Rollback,
    Status,
    Tags,
    Unlock,
)
from commands.suggest import did_you_mean


@dataclass(frozen=True)
class ValidatedDeploy:
    """Deploy `tag` of `services` (groups expanded, config order) to canonical `env`."""

    services: tuple[str, ...]
    env: str
    tag: str
    reason: str | None = None
    digest: str | None = None
    """Pinned (a promotion): deploy exactly this digest of the tag's repository."""
    promoted_from: str | None = None


@dataclass(frozen=True)
class ValidatedPromote:
    """Deploy to `env` the digests `source` runs, per service (groups expanded)."""

    services: tuple[str, ...]
    source: str
    env: str
    reason: str | None = None


@dataclass(frozen=True)
class ValidatedStatus:
    """Show `services` in `envs` (everything the request left open is included)."""

    services: tuple[str, ...]
    envs: tuple[str, ...]


@dataclass(frozen=True)
class ValidatedHistory:
    service: str
    env: str


@dataclass(frozen=True)
class ValidatedRollback:
    """Roll back `service` in `env`; `to`/`revision` as in `Rollback` (None: previous)."""

    service: str
    env: str
    to: str | None = None
    revision: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ValidatedRestart:
    """Restart every Deployment of `service` in canonical `env`."""

    service: str
    env: str
    reason: str | None = None


@dataclass(frozen=True)
class ValidatedLock:
    service: str
    env: str
    reason: str | None = None


@dataclass(frozen=True)
class ValidatedUnlock:
    service: str
    env: str


@dataclass(frozen=True)
class ValidatedTags:
    service: str


Validated = (
    ValidatedDeploy
    | ValidatedStatus
    | ValidatedHistory
    | ValidatedRollback
    | ValidatedRestart
    | ValidatedLock
    | ValidatedUnlock
    | ValidatedTags
    | ValidatedPromote
    | Cancel
    | Help
)


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.text)
        self.refusal = refusal


def validate(request: Request, config: DeckhandConfig) -> Validated | Refusal:
    """Check `request` against `config`. A purely computational function, no side-effects."""
    try:
        return _validate(request, config)
    except _Refused as refused:
        return refused.refusal


def _validate(request: Request, config: DeckhandConfig) -> Validated:
    match request:
        case Deploy(targets=targets, tag=tag, env=env, reason=reason):
            services = _expand(targets, config)
            _check_tag(tag, config.tag_policy, services[0])
            return ValidatedDeploy(
                services,
                _env(env, config),
                tag,
                reason,
                digest=request.digest,
                promoted_from=request.promoted_from,
            )
        case Promote(targets=targets, source=source, env=env, reason=reason):
            return _promotion(_expand(targets, config), source, env, reason, config)
        case Status(service=service, env=env):
            if env is None and service is not None and _is_env_word(service, config):
                service, env = None, service  # `status prod`
            services = tuple(config.services) if service is None else _expand((service,), config)
            envs = tuple(config.environments) if env is None else (_env(env, config),)
            return ValidatedStatus(services, envs)
        case History(service=service, env=env):
            return ValidatedHistory(_service(service, config, "history"), _env(env, config))
        case Rollback(service=service, env=env, to=to, revision=revision, reason=reason):
            name = _service(service, config, "rollback")
            if to is not None and _is_env_word(to, config):
                raise _Refused(Refusal(RefusalCode.INVALID_REQUEST, texts.rollback_to_env(to)))
            if to is not None:
                _check_tag(to, config.tag_policy, name)
            return ValidatedRollback(name, _env(env, config), to, revision, reason)
        case Restart(service=service, env=env, reason=reason):
            return ValidatedRestart(_service(service, config, "restart"), _env(env, config), reason)
        case Lock(service=service, env=env, reason=reason):
            return ValidatedLock(_service(service, config, "lock"), _env(env, config), reason)
        case Unlock(service=service, env=env):
            return ValidatedUnlock(_service(service, config, "unlock"), _env(env, config))
        case Tags(service=service):
            return ValidatedTags(_service(service, config, "tags"))
        case Cancel() | Help():
            return request


def _promotion(
    services: tuple[str, ...],
    source: str | None,
    env: str | None,
    reason: str | None,
    config: DeckhandConfig,
) -> ValidatedPromote:
    """Where from and where to: named, else the target's `promote_from`, else the one
    environment that promotes from the source (or from the default environment)."""
    from_env = _env(source, config) if source is not None else None
    if env is not None:
        to_env = _env(env, config)
    else:
        takers = [
            name
            for name, e in config.environments.items()
            if e.promote_from is not None and e.promote_from == (from_env or e.promote_from)
        ]
        if len(takers) != 1:
            raise _Refused(Refusal(RefusalCode.NO_ENVIRONMENT, texts.promote_needs_target()))
        to_env = takers[0]
    if from_env is None:
        from_env = config.environments[to_env].promote_from or config.default_environment
    if from_env is None or from_env == to_env:
        text = texts.promote_needs_source(to_env)
        raise _Refused(Refusal(RefusalCode.INVALID_REQUEST, text))
    return ValidatedPromote(services, from_env, to_env, reason)


def _is_env_word(word: str, config: DeckhandConfig) -> bool:
    return config.resolve_env(word) is not None and config.expand(word) is None


def _expand(targets: tuple[str, ...], config: DeckhandConfig) -> tuple[str, ...]:
    unknown = [t for t in targets if config.expand(t) is None]
    if unknown:
        if len(targets) == 1 and _is_env_word(targets[0], config):
            raise _Refused(
                Refusal(RefusalCode.UNKNOWN_SERVICE, texts.env_is_not_a_service(targets[0]))
            )
        known = [*config.services, *config.groups]
        hints = {name: did_you_mean(name, known) for name in unknown}
        text = texts.unknown_targets(unknown, hints, known)
        raise _Refused(Refusal(RefusalCode.UNKNOWN_SERVICE, text))
    wanted = {s for t in targets for s in config.expand(t) or ()}
    return tuple(s for s in config.services if s in wanted)


def _service(name: str, config: DeckhandConfig, command: str) -> str:
    """One service, not a group (history, rollback, lock… act on one service)."""
    if name in config.groups:
        raise _Refused(Refusal(RefusalCode.UNKNOWN_SERVICE, texts.group_not_allowed(name, command)))
    return _expand((name,), config)[0]


def _env(word: str | None, config: DeckhandConfig) -> str:
    resolved = config.resolve_env(word)
    if resolved is not None:
        return resolved
    if word is None:
        raise _Refused(Refusal(RefusalCode.NO_ENVIRONMENT, texts.no_env(config.environments)))
    known = config.env_words()
    text = texts.unknown_env(word, did_you_mean(word, known), config.environments)
    raise _Refused(Refusal(RefusalCode.UNKNOWN_ENVIRONMENT, text))


def tag_refusal(tag: str, policy: TagPolicy, service: str = "api") -> Refusal | None:
    """Why `policy` refuses `tag` (None: allowed). `service` only shapes the example.

    A purely computational function with no side-effects.
    """
    if tag.lower() == "latest":
        return Refusal(RefusalCode.TAG_POLICY, texts.tag_latest(service))
    if tag.lower() in policy.refused:
        return Refusal(RefusalCode.TAG_POLICY, texts.tag_refused(tag))
    pattern = policy.compiled()
    if pattern.search(tag) is None:
        if tag != tag.lower() and pattern.search(tag.lower()):
            return Refusal(RefusalCode.TAG_POLICY, texts.tag_not_lowercase(tag))
        text = texts.tag_pattern(tag, policy.pattern)
        if tag.isdigit() and len(tag) < 4:
            text += texts.revision_hint(tag)
        return Refusal(RefusalCode.TAG_POLICY, text)
    return None


def _check_tag(tag: str, policy: TagPolicy, service: str) -> None:
    refusal = tag_refusal(tag, policy, service)
    if refusal is not None:
        raise _Refused(refusal)
