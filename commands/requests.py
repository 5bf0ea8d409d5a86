"""What people ask Deckhand for, as frozen typed values, and the answers that refuse.

`commands.grammar.parse(text)` turns chat text into one of the `Request` classes
below or a `ParseError`. The requests are *structurally* valid by construction (each
`__post_init__` checks its invariants and raises `ValueError` otherwise), but they
know nothing about the team's config: `Deploy(("apii",), "237c6b8")` is a fine
request for a service that doesn't exist. `commands.validate` checks them against
the config and returns a `Validated…` value or a `Refusal`.

    Request = Deploy | Status | History | Rollback | Restart | Lock | Unlock | Tags | Cancel
            | Help

`ParseError` (the text didn't make sense) and `Refusal` (it made sense, but Deckhand
won't do it) are *answers*, not exceptions: functions return them, front-ends render
`.text` to the user. `Refusal.code` says which rule refused, for tests, metrics and
front-ends that style some refusals differently.

Everything here is a purely computational value with no side-effects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from commands import texts
from commands.images import TAG_PATTERN

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
"""A service, group or environment name as the parser accepts it (lowercased)."""

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""A deploy/request id as typed in `cancel ID`."""

MAX_REASON = 300
"""Longest free-text reason kept (it ends up in a Kubernetes annotation and a Slack message)."""


def _name(kind: str, value: str) -> None:
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not a valid name")


def _optional_name(kind: str, value: str | None) -> None:
    if value is not None:
        _name(kind, value)


def _reason(value: str | None) -> None:
    if value is not None and (
        not value.strip() or value != value.strip() or len(value) > MAX_REASON or "\n" in value
    ):
        raise ValueError(f"reason {value!r} must be one trimmed line of 1..{MAX_REASON} chars")


@dataclass(frozen=True)
class Deploy:
    """Deploy `tag` of every service (or group) in `targets` to `env` (None: the default)."""

    targets: tuple[str, ...]
    tag: str
    env: str | None = None
    reason: str | None = None
    digest: str | None = None
    """Pinned: deploy exactly this digest (a promotion), not what the tag points to now."""
    promoted_from: str | None = None
    """The environment the digest is promoted from (`/deploy promote`)."""

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a deploy needs at least one target")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError(f"duplicate targets in {self.targets!r}")
        for target in self.targets:
            _name("target", target)
        if not TAG_PATTERN.fullmatch(self.tag):
            raise ValueError(f"tag {self.tag!r} is not a valid tag")
        _optional_name("environment", self.env)
        _reason(self.reason)


@dataclass(frozen=True)
class Status:
    """What runs where. `service` may be a service, a group, or (one bare word) an env:
    the parser can't tell `status prod` from `status api`; validation decides."""

    service: str | None = None
    env: str | None = None

    def __post_init__(self) -> None:
        _optional_name("service", self.service)
        _optional_name("environment", self.env)


@dataclass(frozen=True)
class History:
    """The last deploys of `service` in `env` (None: the default env)."""

    service: str
    env: str | None = None

    def __post_init__(self) -> None:
        _name("service", self.service)
        _optional_name("environment", self.env)


@dataclass(frozen=True)
class Rollback:
    """Roll `service` back in `env`: to the previous revision (both `to` and `revision`
    None), to the last revision that ran tag `to`, or to revision number `revision`."""

    service: str
    env: str | None = None
    to: str | None = None
    revision: int | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _name("service", self.service)
        _optional_name("environment", self.env)
        if self.to is not None and not TAG_PATTERN.fullmatch(self.to):
            raise ValueError(f"tag {self.to!r} is not a valid tag")
        if self.revision is not None and (self.revision < 1 or self.to is not None):
            raise ValueError("revision must be >= 1 and exclusive with `to`")
        _reason(self.reason)


@dataclass(frozen=True)
class Restart:
    """Replace every pod of `service` in `env`, as `kubectl rollout restart` (same image)."""

    service: str
    env: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        _name("service", self.service)
        _optional_name("environment", self.env)
        _reason(self.reason)


@dataclass(frozen=True)
class Lock:
    """Stop deploys of `service` to `env` until unlocked (or the lock's TTL passes)."""

    service: str
    env: str
    reason: str | None = None

    def __post_init__(self) -> None:
        _name("service", self.service)
        _name("environment", self.env)
        _reason(self.reason)


@dataclass(frozen=True)
class Unlock:
    """Lift the lock on `service` in `env`."""

    service: str
    env: str

    def __post_init__(self) -> None:
        _name("service", self.service)
        _name("environment", self.env)


@dataclass(frozen=True)
class Tags:
    """The newest tags of `service`'s image in the registry."""

    service: str

    def __post_init__(self) -> None:
        _name("service", self.service)


@dataclass(frozen=True)
class Cancel:
    """Cancel a deploy that is waiting for approval or still rolling out."""

    request_id: str

    def __post_init__(self) -> None:
        if not REQUEST_ID_PATTERN.fullmatch(self.request_id):
            raise ValueError(f"request id {self.request_id!r} is not valid")


@dataclass(frozen=True)
class Help:
    """Help on one command (`topic`, a verb as typed) or an overview (None)."""

    topic: str | None = None

    def __post_init__(self) -> None:
        _optional_name("topic", self.topic)


@dataclass(frozen=True)
class Promote:
    """Deploy to `env` exactly the digests `source` runs now, per service in `targets`."""

    targets: tuple[str, ...]
    source: str | None = None
    env: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a promotion needs at least one target")
        for target in self.targets:
            _name("target", target)


Request = (
    Deploy | Status | History | Rollback | Restart | Lock | Unlock | Tags | Cancel | Help | Promote
)
"""Every request the grammar can produce."""


@dataclass(frozen=True)
class ParseError:
    """The text wasn't a command Deckhand understands.

    `problem` is one sentence for the user; `did_you_mean` a corrected command line
    (None when there is no good guess); `help_topic` the command whose usage should be
    shown next to it (None: the overview). `text` renders all three.
    """

    problem: str
    did_you_mean: str | None = None
    help_topic: str | None = None

    @property
    def text(self) -> str:
        """The whole reply: problem, suggestion and the usage of the nearest command."""
        return texts.parse_error(self)


class RefusalCode(StrEnum):
    """Which rule refused. Stable strings: front-ends and metrics may key on them."""

    UNKNOWN_SERVICE = "unknown_service"
    UNKNOWN_ENVIRONMENT = "unknown_environment"
    NO_ENVIRONMENT = "no_environment"
    TAG_POLICY = "tag_policy"
    FORBIDDEN_CHANNEL = "forbidden_channel"
    NOT_A_DEPLOYER = "not_a_deployer"
    NOT_AN_APPROVER = "not_an_approver"
    SELF_APPROVAL = "self_approval"
    IMAGE_PROBLEM = "image_problem"
    NOTHING_TO_DO = "nothing_to_do"
    LOCKED = "locked"
    DEPLOYMENT_MISSING = "deployment_missing"
    PAUSED = "paused"
    REPLICA_LIMIT = "replica_limit"
    NO_ROLLBACK_TARGET = "no_rollback_target"
    INVALID_REQUEST = "invalid_request"


@dataclass(frozen=True)
class Refusal:
    """Deckhand understood the request and won't do it. `text` is the whole reply:
    what was refused, why, and what would make it work."""

    code: RefusalCode
    text: str
