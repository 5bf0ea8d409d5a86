"""The team's deploy policy: the YAML config file as frozen, validated pydantic models.

    DeckhandConfig
    ├── services: {name: ServiceConfig(image, deployments[DeploymentTarget], max_replicas, …)}
    ├── groups: {name: (service, …)}              e.g. all: [api, worker, admin]
    ├── environments: {name: EnvironmentConfig}   namespace, aliases, channels, deployers,
    │       protected, approvals: Approvals(required, approvers, expiry_minutes, windows),
    │       auto_rollback, auto_deploy, lock_after_rollback, pull_secret, alert_channel
    ├── default_environment, tag_policy: TagPolicy, rollout: RolloutConfig,
    └── alerts: AlertsConfig, deckhand: DeckhandSelf, history_size

Every model is frozen and forbids unknown keys, so a typo (`namspace:`) is an error,
not a silently ignored setting. Field validators check single values; the model
validators check relations (`commands.config_checks`: unknown group members, alias
collisions, approvals with no approvers…) and raise `ConfigProblems`, whose entries
carry a key path relative to the model, so `bot.config.load_config` can report
`FILE: key.path: what is wrong`.

Names (services, groups, environments, aliases) are lowercase words that the chat
grammar can't confuse with its own words (`commands.grammar.RESERVED_WORDS`, verb typos).

Building a model is a purely computational function with no side-effects (the IANA
time zone database is read through `zoneinfo` to check `timezone`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from commands.config_checks import (
    ConfigProblems,
    ConfigShape,
    Problem,
    check_name,
    relation_problems,
)
from commands.images import ImageReference, InvalidReference, Platform

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


def _matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


K8sName = Annotated[
    str,
    _matching(
        r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a Kubernetes name (expected a DNS-1123 label)"
    ),
]
UserId = Annotated[str, _matching(r"[UW][A-Z0-9]{2,}", "a Slack user id (expected e.g. U024BE7LH)")]
UsergroupId = Annotated[
    str, _matching(r"S[A-Z0-9]{2,}", "a Slack user group id (expected e.g. S0614TZR7)")
]
ChannelId = Annotated[
    str,
    _matching(r"[CGD][A-Z0-9]{2,}", "a Slack channel id (expected e.g. C0123ABCD, not a #name)"),
]
LATEST = "latest"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeploymentTarget(_Model):
    """One Deployment of a service and the container in it that runs the image."""

    name: K8sName = Field(description="the Deployment's metadata.name")
    container: K8sName = Field(description="the container (by name) whose image is set")


class ServiceConfig(_Model):
    """A deployable service: its image repository and the Deployments that run it."""

    image: str = Field(description="registry/owner/name without tag, e.g. gitea.example.com/a/b")
    deployments: tuple[DeploymentTarget, ...] = Field(min_length=1)
    max_replicas: int | None = Field(
        None, ge=1, description="hard cap on pods, also during a rollout (worker: 1); None = none"
    )
    source_url: str | None = Field(None, description="repository URL, for commit links")
    channel: ChannelId | None = Field(
        None,
        description="where its new images are announced; None = the default "
        "environment's first channel",
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        try:
            ref = ImageReference.parse(value)
        except InvalidReference as error:
            raise ValueError(str(error)) from None
        if ref.tag is not None or ref.digest is not None:
            raise ValueError(
                f"{value!r} has a tag or digest (expected the repository only, e.g. {ref.name!r})"
            )
        return value

    def reference(self) -> ImageReference:
        """The image repository as a parsed reference (no tag, no digest)."""
        return ImageReference.parse(self.image)


class Principals(_Model):
    """Slack users (`U…`/`W…` ids) and user groups (`S…` ids)."""

    users: tuple[UserId, ...] = ()
    usergroups: tuple[UsergroupId, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.users and not self.usergroups

    def includes(self, user: str, user_groups: frozenset[str]) -> bool:
        """True when `user` is listed or is a member of a listed group."""
        return user in self.users or not user_groups.isdisjoint(self.usergroups)


class ApprovalWindow(_Model):
    """A deploy freeze: inside it a deploy is refused unless an approver forces it with a
    reason ("Force (freeze window)"). Starts on each of `days` at `start` (local time in
    `timezone`) and ends at `end` the same day, or the next day when `end <= start`."""

    days: tuple[Weekday, ...] = Field(min_length=1)
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
            raise ValueError(f'{value!r} is not a time (expected HH:MM, e.g. "16:00")')
        if isinstance(value, int):
            raise ValueError(f'{value!r} is not a time (expected HH:MM in quotes, e.g. "16:00")')
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone (expected an IANA name, e.g. Europe/Berlin)"
            ) from None
        return value

    def contains(self, at: datetime) -> bool:
        """True when the aware datetime `at` falls inside this window."""
        local = at.astimezone(ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        now = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        return (day in self.days and now >= self.start) or (
            yesterday in self.days and now < self.end
        )


class Approvals(_Model):
    """Who must approve deploys to an environment. The requester never approves their
    own deploy (not configurable: `allow_self_approval` is refused, see `REFUSED_KEYS`)."""

    required: int = Field(0, ge=0, le=5, description="default: 1 if the env is protected, else 0")
    approvers: Principals = Principals()
    expiry_minutes: int = Field(30, ge=1, le=24 * 60, description="an approval request expires")
    windows: tuple[ApprovalWindow, ...] = Field(
        (), description="deploy freeze windows (an approver must force, with a reason)"
    )

    @model_validator(mode="after")
    def _approvers_exist(self) -> Approvals:
        needed = max(self.required, 1 if self.windows else 0)  # a freeze needs a forcer
        if needed > 0 and self.approvers.empty:
            raise ConfigProblems(
                [
                    Problem(
                        ("approvers",),
                        f"{needed} approval(s) required but nobody can approve "
                        "(expected approvers.users or approvers.usergroups)",
                    )
                ]
            )
        return self

    def required_at(self, at: datetime) -> int:
        """Approvals needed for a deploy requested at `at`: `required`, and at least 1
        inside a freeze window (an approver must force it; `commands.approvals`)."""
        if any(w.contains(at) for w in self.windows):
            return max(self.required, 1)
        return self.required


class EnvironmentConfig(_Model):
    """An environment: one namespace, who may deploy to it from where, and its safeguards."""

    namespace: K8sName
    kube_context: str | None = Field(
        None, description="a context of the resolved kubeconfig; None = Deckhand's own cluster"
    )
    aliases: tuple[str, ...] = Field((), description="other names, e.g. prod for production")
    channels: tuple[ChannelId, ...] = Field((), description="Slack channel ids that command it")
    deployers: Principals = Principals()
    protected: StrictBool = False
    approvals: Approvals = Approvals()
    auto_rollback: StrictBool = Field(False, description="undo a failed rollout automatically")
    auto_deploy: StrictBool = Field(
        False,
        description="deploy every new tag that passes the checks (not with approvals, "
        "never while locked, frozen or deploying)",
    )
    lock_after_rollback: StrictBool = Field(
        True,
        description="a rollback (button, command or automatic) leaves the service locked "
        "in the environment until `/deploy unlock`",
    )
    pull_secret: K8sName | None = Field(None, description="the namespace's image pull secret")
    alert_channel: ChannelId | None = Field(None, description="Slack channel for its alerts")
    promote_from: str | None = Field(
        None,
        description="an environment whose successful deploys this one takes: a digest that"
        " has not run there is refused (use `/deploy promote`) unless an approver forces it",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_required(cls, data: object) -> object:
        # `required` defaults on `protected`, a sibling of `approvals`: fill it in here.
        if not isinstance(data, Mapping):
            return data
        approvals = data.get("approvals")
        approvals = {} if approvals is None else approvals
        if isinstance(approvals, Mapping) and "required" not in approvals:
            required = 1 if data.get("protected") is True else 0
            return {**data, "approvals": {**approvals, "required": required}}
        return data

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            check_name(alias, "environment alias")
        return value

    @model_validator(mode="after")
    def _auto_deploy_needs_no_approval(self) -> EnvironmentConfig:
        if self.auto_deploy and self.approvals.required > 0:
            raise ConfigProblems(
                [
                    Problem(
                        ("auto_deploy",),
                        f"is true but the environment needs {self.approvals.required} "
                        "approval(s): nobody would approve an automatic deploy "
                        "(expected auto_deploy: false, or approvals.required: 0)",
                    )
                ]
            )
        return self

    @model_validator(mode="after")
    def _protected_needs_approval(self) -> EnvironmentConfig:
        if self.protected and self.approvals.required == 0:
            raise ConfigProblems(
                [
                    Problem(
                        ("approvals", "required"),
                        "is 0 but the environment is protected (expected 1 or more)",
                    )
                ]
            )
        return self


class TagPolicy(_Model):
    """Which tags may be deployed, and how images are pinned."""

    pattern: str = Field(r"^[0-9a-f]{7,40}$", description="regex every tag must match")
    refuse: tuple[str, ...] = Field((LATEST,), description="tags never deployed")
    platform: str = Field("linux/amd64", description="the nodes' platform, os/arch[/variant]")
    pin_digest: StrictBool = Field(True, description="set image to repo:tag@sha256:…")

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
        return value

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        Platform.parse(value)  # its ValueError says what's wrong
        return value

    @property
    def refused(self) -> frozenset[str]:
        """Refused tags, lowercased; `latest` always is, whatever the config says."""
        return frozenset(t.lower() for t in self.refuse) | {LATEST}

    def node_platform(self) -> Platform:
        return Platform.parse(self.platform)

    def compiled(self) -> re.Pattern[str]:
        """`pattern`, compiled; tags are checked with `search` (anchor it with ^…$)."""
        return re.compile(self.pattern)


class RolloutConfig(_Model):
    """How long a rollout may take (seconds) and when a crash loop is fatal."""

    readiness_timeout_s: int = Field(
        120,
        gt=0,
        description="a new pod must be Ready this long after its own probe budgets "
        "(startupProbe, readiness initialDelaySeconds), in the cluster's seconds",
    )
    max_duration_s: int = Field(900, gt=0, description="the whole rollout, then it failed")
    crashloop_restarts: int = Field(2, ge=1, description="restarts of a new pod = fatal")


class AlertsConfig(_Model):
    """Alerts for pods Deckhand didn't start itself (image pulls, crashes, scheduling,
    evictions) and drift notices; each kind but pulls can be switched off."""

    channel: ChannelId | None = Field(None, description="Slack channel id; None = no alerts")
    namespaces: tuple[K8sName, ...] | None = Field(None, description="None = every env's")
    grace_s: int = Field(30, ge=0, description="a pod must fail this long before an alert")
    rate_limit_per_minute: int = Field(10, ge=1)
    crash_loops: bool = Field(True, description="alert on crash loops (exit code, last log lines)")
    oom_killed: bool = Field(True, description="alert on containers killed for memory (OOMKilled)")
    probes: bool = Field(True, description="alert on containers killed by a failing probe")
    unschedulable: bool = Field(True, description="alert on pods the scheduler can't place")
    evictions: bool = Field(True, description="alert on pods evicted under node pressure")
    drift: bool = Field(
        True, description="notice image/replica changes of watched Deployments Deckhand didn't make"
    )
    settle_s: int = Field(
        120, ge=1, description="a crash or eviction counts this long after it was last seen"
    )


class DeckhandSelf(_Model):
    """Where Deckhand keeps its own state (locks, history) in the cluster."""

    namespace: K8sName = "deckhand"
    lock_ttl_s: int = Field(900, gt=0, description="a deploy lock expires after, seconds")
    lock_heartbeat_s: float = Field(
        15.0,
        gt=0,
        description="a followed deploy's lock is renewed this often, in the cluster's"
        " seconds; a Deckhand killed mid-rollout is taken over after 2x this + 1 s",
    )


class DeckhandConfig(_Model):
    """The whole config file. See the module docstring for the tree."""

    services: dict[str, ServiceConfig] = Field(min_length=1)
    groups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    environments: dict[str, EnvironmentConfig] = Field(min_length=1)
    default_environment: str | None = Field(
        None, description="used when a command names none; None = always name one"
    )
    tag_policy: TagPolicy = TagPolicy()
    rollout: RolloutConfig = RolloutConfig()
    alerts: AlertsConfig = AlertsConfig()
    deckhand: DeckhandSelf = DeckhandSelf()
    history_size: int = Field(10, ge=1, le=100, description="revisions kept and shown")

    @model_validator(mode="after")
    def _relations(self) -> DeckhandConfig:
        problems = relation_problems(self.shape())
        for name, env in self.environments.items():
            source = env.promote_from
            if source is not None and (source == name or source not in self.environments):
                where = ("environments", name, "promote_from")
                problems.append(Problem(where, f"names no other environment: `{source}`"))
        if problems:
            raise ConfigProblems(problems)
        return self

    def shape(self) -> ConfigShape:
        """The names `commands.config_checks.relation_problems` checks."""
        return ConfigShape(
            services={n: tuple(d.name for d in s.deployments) for n, s in self.services.items()},
            groups=dict(self.groups),
            environments={n: (e.aliases, e.namespace) for n, e in self.environments.items()},
            default_environment=self.default_environment,
        )

    def resolve_env(self, word: str | None) -> str | None:
        """The canonical environment for a name or alias (None: the default), or None."""
        if word is None:
            if self.default_environment is None:
                return None
            word = self.default_environment
        for name, env in self.environments.items():
            if word == name or word in env.aliases:
                return name
        return None

    def env_words(self) -> tuple[str, ...]:
        """Every environment name and alias (for suggestions)."""
        return tuple(w for name, env in self.environments.items() for w in (name, *env.aliases))

    def expand(self, target: str) -> tuple[str, ...] | None:
        """The services a target names (a service, or a group's members), or None."""
        if target in self.services:
            return (target,)
        if target in self.groups:
            return self.groups[target]
        return None

    def alert_namespaces(self) -> tuple[str, ...]:
        """The namespaces watched for image-pull failures."""
        if self.alerts.namespaces is not None:
            return self.alerts.namespaces
        return tuple(dict.fromkeys(env.namespace for env in self.environments.values()))

    def bot_channels(self) -> tuple[str, ...]:
        """Every channel the bot posts in, so must be a member of: each environment's
        deploy channels and alert channel, the alerts channel, and each service's
        announcement channel (config order)."""
        found: list[str] = []
        for env in self.environments.values():
            found.extend(env.channels)
            if env.alert_channel is not None:
                found.append(env.alert_channel)
        if self.alerts.channel is not None:
            found.append(self.alerts.channel)
        found.extend(s.channel for s in self.services.values() if s.channel is not None)
        return tuple(dict.fromkeys(found))
