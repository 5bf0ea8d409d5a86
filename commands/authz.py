"""Who may do what, from where: `authorize(...)` and `can_approve(...)`.

    authorize(*, user, channel, env, env_config, user_groups, action, requester=None)
        -> Allowed | Refusal
    can_approve(*, approver, requester, env, env_config, user_groups) -> Allowed | Refusal

Rules (deny by default: an environment with no `channels` or no `deployers` refuses
every change, and the refusal says which config key to fill in):

- READ (status, history, tags, help) is allowed to anyone, from anywhere.
- Every other action needs the channel to be one of the environment's `channels` and
  the user to be a deployer: listed in `deployers.users` or a member of one of
  `deployers.usergroups` (`user_groups` is the caller's lookup of the user's groups,
  e.g. from Slack's usergroups.users.list).
- CANCEL is also allowed to the user who requested the deploy (`requester`), from
  any channel: the button sits in the deploy's own message.
- Approving needs `approvals.approvers` (user or group) and is never allowed to the
  requester, whatever the config says.

How many approvals a deploy needs at a given time is `Approvals.required_at(at)`.

Both functions are purely computational functions with no side-effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from commands import texts
from commands.config import EnvironmentConfig
from commands.requests import Refusal, RefusalCode


class Action(StrEnum):
    """What a user wants to do; the verb is used in refusal sentences."""

    DEPLOY = "deploy"
    ROLLBACK = "roll back"
    LOCK = "lock"
    UNLOCK = "unlock"
    CANCEL = "cancel deploys"
    APPROVE = "approve deploys"
    READ = "read"


@dataclass(frozen=True)
class Allowed:
    """Permission granted: `user` may do `action` in `env`."""

    user: str
    env: str
    action: Action


def authorize(
    *,
    user: str,
    channel: str,
    env: str,
    env_config: EnvironmentConfig,
    user_groups: frozenset[str],
    action: Action,
    requester: str | None = None,
) -> Allowed | Refusal:
    """May `user` do `action` in `env` from `channel`? A purely computational function."""
    if action is Action.READ or (action is Action.CANCEL and user == requester):
        return Allowed(user, env, action)
    if channel not in env_config.channels:
        text = texts.wrong_channel(env, channel, env_config.channels)
        return Refusal(RefusalCode.FORBIDDEN_CHANNEL, text)
    deployers = env_config.deployers
    if not deployers.includes(user, user_groups):
        text = texts.not_a_deployer(user, env, action.value, deployers.users, deployers.usergroups)
        return Refusal(RefusalCode.NOT_A_DEPLOYER, text)
    return Allowed(user, env, action)


def can_approve(
    *,
    approver: str,
    requester: str,
    env: str,
    env_config: EnvironmentConfig,
    user_groups: frozenset[str],
) -> Allowed | Refusal:
    """May `approver` approve `requester`'s deploy to `env`? Never their own."""
    if approver == requester:
        return Refusal(RefusalCode.SELF_APPROVAL, texts.self_approval())
    approvers = env_config.approvals.approvers
    if not approvers.includes(approver, user_groups):
        text = texts.not_an_approver(approver, env, approvers.users, approvers.usergroups)
        return Refusal(RefusalCode.NOT_AN_APPROVER, text)
    return Allowed(approver, env, Action.APPROVE)
