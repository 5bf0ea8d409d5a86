"""New images, from a push to a decision: what Deckhand announces and auto-deploys.

Two sources lead to one path (`bot.delivery`): Gitea's package webhook and polling its
packages API. The decisions, all pure:

    webhook_verdict(body=…, secret=…, signature=…, hub_signature=…, event=…, now=…,
                    max_age_s=…) -> PackageVersion | WebhookRefusal
    package_rows(rows) -> [PackageVersion]            the packages API's JSON, typed
    new_versions(rows, mark) -> ([PackageVersion], Watermark)   what a poll found new
    service_of(config, owner, name) -> service | None
    announcement(config=…, service=…, version=…, verdict=…, channel=…) -> Announcement
    auto_deploy_step(pending=…, locked=…, frozen=…, in_flight=…) -> AutoDeploy | Hold

A webhook is checked as Gitea signs it: `X-Gitea-Signature` (or `X-Hub-Signature-256:
sha256=…`) is the hex HMAC-SHA256 of the raw body with the hook's secret. Unsigned or
badly signed: 401; not JSON, or a version created more than `max_age_s` ago (a replay)
or in the future: 400; another event, a deleted package, an untagged `sha256:` child:
ignored (2xx: Gitea marks anything else as a failed delivery).

Polling keeps a `Watermark` per owner: the newest `created_at` seen and the versions
created at that second. The first poll of an owner only sets it (the backlog is not
announced). Untagged `sha256:` versions never count.

These are purely computational functions with no side-effects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands import texts
from commands.config import DeckhandConfig
from commands.observed import ImageCheck, ImageProblem, LockInfo
from commands.validate import tag_refusal

DEPLOY_PUSH_ACTION = "deckhand:deploy_push"
"""`action_id` of an announcement's Deploy button; value `service|tag|env`."""


@dataclass(frozen=True)
class PackageVersion:
    """One container package version Gitea reports (a tag, or an untagged digest)."""

    owner: str
    name: str
    version: str
    creator: str
    created_at: datetime

    @property
    def is_tag(self) -> bool:
        return not self.version.startswith("sha256:")


@dataclass(frozen=True)
class WebhookRefusal:
    """Why a webhook was not taken: `status` to answer, `reason` for the one log line."""

    status: int
    reason: str

    @property
    def ignored(self) -> bool:
        """A genuine delivery that is simply not for us (answered 2xx)."""
        return self.status < 300


def signature_valid(body: bytes, secret: str, signature: str | None, hub: str | None) -> bool:
    """`X-Gitea-Signature` (hex) or `X-Hub-Signature-256` (`sha256=hex`) matches the body."""
    if not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = [signature or ""]
    if hub and hub.startswith("sha256="):
        given.append(hub.removeprefix("sha256="))
    return any(g and hmac.compare_digest(g.lower(), expected) for g in given)


def webhook_verdict(
    *,
    body: bytes,
    secret: str,
    signature: str | None,
    hub_signature: str | None,
    event: str | None,
    now: datetime,
    max_age_s: float,
) -> PackageVersion | WebhookRefusal:
    """A Gitea delivery → the created version, or why not (see the module docstring)."""
    if not signature and not hub_signature:
        return WebhookRefusal(401, "unsigned")
    if not signature_valid(body, secret, signature, hub_signature):
        return WebhookRefusal(401, "bad signature")
    try:
        payload = json.loads(body)
    except ValueError:
        return WebhookRefusal(400, "body is not JSON")
    if event != "package":
        return WebhookRefusal(202, f"event {event!r} ignored")
    if not isinstance(payload, dict) or payload.get("action") != "created":
        action = payload.get("action") if isinstance(payload, dict) else None
        return WebhookRefusal(202, f"action {action!r} ignored")
    rows = package_rows([payload.get("package")])
    if not rows:
        return WebhookRefusal(400, "no readable package in the payload")
    version = rows[0]
    age = (now - version.created_at).total_seconds()
    if age > max_age_s or age < -max_age_s:
        return WebhookRefusal(400, f"stale: created {age:.0f} s from now")
    if not version.is_tag:
        return WebhookRefusal(202, "untagged manifest ignored")
    return version


def _login(user: object) -> str:
    if isinstance(user, Mapping):
        return str(user.get("login") or user.get("username") or "")
    return ""


def package_rows(rows: Sequence[Any]) -> list[PackageVersion]:
    """The packages API's (or a payload's) package objects, typed; unreadable ones skipped."""
    found: list[PackageVersion] = []
    for row in rows:
        if not isinstance(row, Mapping) or row.get("type", "container") != "container":
            continue
        try:
            created = datetime.fromisoformat(str(row["created_at"]))
            if created.tzinfo is None:
                continue
            found.append(
                PackageVersion(
                    owner=_login(row.get("owner")).lower(),
                    name=str(row["name"]).lower(),
                    version=str(row["version"]),
                    creator=_login(row.get("creator")),
                    created_at=created,
                )
            )
        except (KeyError, ValueError, TypeError):
            continue
    return found


@dataclass(frozen=True)
class Watermark:
    """How far polling an owner has seen: the newest time, and the versions at it."""

    at: datetime
    seen: tuple[str, ...] = ()


def new_versions(
    rows: Sequence[PackageVersion], mark: Watermark | None
) -> tuple[list[PackageVersion], Watermark | None]:
    """The tagged versions newer than `mark` (oldest first), and the mark after them.
    Without a mark (the first poll) nothing is new: the mark is set to what exists."""
    newest = max((r.created_at for r in rows), default=None)
    if mark is None:
        if newest is None:
            return [], None
        return [], Watermark(
            newest, tuple(sorted(r.version for r in rows if r.created_at == newest))
        )
    fresh = [
        r
        for r in rows
        if r.created_at > mark.at or (r.created_at == mark.at and r.version not in mark.seen)
    ]
    if newest is None or newest < mark.at:
        after = mark
    elif newest == mark.at:
        after = Watermark(mark.at, tuple(sorted({*mark.seen, *(r.version for r in fresh)})))
    else:
        after = Watermark(newest, tuple(sorted(r.version for r in rows if r.created_at == newest)))
    tagged = sorted((r for r in fresh if r.is_tag), key=lambda r: (r.created_at, r.version))
    return tagged, after


def service_of(config: DeckhandConfig, owner: str, name: str) -> str | None:
    """The configured service whose image is `owner/name` (any registry), or None."""
    wanted = f"{owner}/{name}".lower()
    for service, service_config in config.services.items():
        if service_config.reference().repository.lower() == wanted:
            return service
    return None


def announce_channel(config: DeckhandConfig, service: str) -> str | None:
    """Where a service's new images are announced: its `channel`, else the default
    environment's first channel, else the first channel of any environment."""
    own = config.services[service].channel
    if own:
        return own
    envs = list(config.environments.values())
    default = config.resolve_env(None)
    if default is not None:
        envs.insert(0, config.environments[default])
    for env in envs:
        if env.channels:
            return env.channels[0]
    return None


@dataclass(frozen=True)
class Announcement:
    """What the message about one new tag says and offers."""

    service: str
    tag: str
    pushed_by: str
    pushed_at: datetime
    image: ImageCheck | None
    """The registry's check when it passed."""
    problem: str | None
    """Why it is not deployable (policy, platform, missing…), or None."""
    fix: str | None
    revision_mismatch: bool
    buttons: tuple[str, ...]
    """Environments with a Deploy button (none when not deployable)."""
    auto_deploy: tuple[str, ...]
    """Environments Deckhand deploys it to by itself."""

    @property
    def deployable(self) -> bool:
        return self.problem is None


def announcement(
    *,
    config: DeckhandConfig,
    service: str,
    version: PackageVersion,
    verdict: ImageCheck | ImageProblem,
    channel: str,
) -> Announcement:
    """Decide the announcement of `version` of `service`, checked as `verdict`."""
    tag = version.version
    policy = config.tag_policy
    image = config.services[service].image
    refused = tag_refusal(tag, policy, service)
    problem: str | None = None
    fix: str | None = None
    check: ImageCheck | None = None
    if refused is not None:
        problem, fix = refused.text, texts.push_tag_fix(policy.pattern)
    elif isinstance(verdict, ImageProblem):
        problem = verdict.sentence
        if "not built for" in verdict.sentence or "platform" in verdict.sentence:
            fix = texts.push_buildx_fix(policy.platform, f"{image}:{tag}")
    else:
        check = verdict
    mismatch = bool(
        check is not None
        and check.revision_label
        and not check.revision_label.lower().startswith(tag.lower())
    )
    buttons: tuple[str, ...] = ()
    auto: tuple[str, ...] = ()
    if problem is None:
        buttons = tuple(
            name
            for name, env in config.environments.items()
            if not env.channels or channel in env.channels
        )
        auto = tuple(name for name, env in config.environments.items() if env.auto_deploy)
    return Announcement(
        service=service,
        tag=tag,
        pushed_by=version.creator,
        pushed_at=version.created_at,
        image=check,
        problem=problem,
        fix=fix,
        revision_mismatch=mismatch,
        buttons=buttons,
        auto_deploy=auto,
    )


def button_value(service: str, tag: str, env: str) -> str:
    return f"{service}|{tag}|{env}"


def parse_button_value(value: str) -> tuple[str, str, str] | None:
    """`service|tag|env` → its parts, or None for anything else."""
    parts = value.split("|")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class Pending:
    """A tag waiting to be auto-deployed to one environment, and who pushed it."""

    tag: str
    pushed_by: str
    pushed_at: datetime


@dataclass(frozen=True)
class AutoDeploy:
    """Deploy `newest` now; `skipped` (older, never deployed) are listed with it."""

    newest: Pending
    skipped: tuple[Pending, ...] = ()


@dataclass(frozen=True)
class Hold:
    """Not now: `reason` says why (kept pending until it passes)."""

    reason: str
    waiting: tuple[Pending, ...] = field(default_factory=tuple)


def auto_deploy_step(
    *,
    pending: Sequence[Pending],
    locked: LockInfo | None,
    frozen: bool,
    in_flight: bool,
    now: datetime,
) -> AutoDeploy | Hold | None:
    """What auto-deploy does for one service and environment with `pending` tags:
    nothing (None: none pending), hold (locked, including a rollback lock, whoever holds
    it; a freeze window; a deploy of the service in flight), or deploy the newest push."""
    if not pending:
        return None
    ordered = tuple(sorted(pending, key=lambda p: (p.pushed_at, p.tag)))
    if locked is not None and locked.active(now):
        return Hold(texts.auto_deploy_held_locked(locked.holder, locked.reason), ordered)
    if frozen:
        return Hold(texts.auto_deploy_held_frozen(), ordered)
    if in_flight:
        return Hold(texts.auto_deploy_held_in_flight(), ordered)
    return AutoDeploy(ordered[-1], ordered[:-1])
