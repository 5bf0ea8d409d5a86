"""`commands.authz`: channel and deployer rules, deny by default, cancel by the
requester, approvals (listed approver, never the requester), and what refusals say.
"""

from __future__ import annotations

import pytest

from commands.authz import Action, Allowed, authorize, can_approve
from commands.config import EnvironmentConfig
from commands.requests import Refusal, RefusalCode

PROD = EnvironmentConfig.model_validate(
    {
        "namespace": "honeydue",
        "channels": ["C0DEPLOYS"],
        "deployers": {"users": ["U0ALICE"], "usergroups": ["S0DEVS"]},
        "protected": True,
        "approvals": {"approvers": {"users": ["U0BOB"], "usergroups": ["S0LEADS"]}},
    }
)
BARE = EnvironmentConfig.model_validate({"namespace": "honeydue-staging"})
NONE: frozenset[str] = frozenset()


@pytest.mark.parametrize(
    ("user", "channel", "groups", "action", "env", "code"),
    [
        ("U0ALICE", "C0DEPLOYS", NONE, Action.DEPLOY, PROD, None),
        ("U0CAROL", "C0DEPLOYS", frozenset({"S0DEVS"}), Action.ROLLBACK, PROD, None),
        ("U0CAROL", "C0DEPLOYS", frozenset({"S0OTHER"}), Action.LOCK, PROD,
         RefusalCode.NOT_A_DEPLOYER),
        ("U0ALICE", "C0RANDOM", NONE, Action.DEPLOY, PROD, RefusalCode.FORBIDDEN_CHANNEL),
        ("U0MALLORY", "C0RANDOM", NONE, Action.READ, PROD, None),
        ("U0MALLORY", "C0RANDOM", NONE, Action.READ, BARE, None),
        ("U0ALICE", "C0DEPLOYS", NONE, Action.DEPLOY, BARE, RefusalCode.FORBIDDEN_CHANNEL),
        ("U0MALLORY", "C0DEPLOYS", NONE, Action.UNLOCK, PROD, RefusalCode.NOT_A_DEPLOYER),
    ],
)  # fmt: skip
def test_authorize(
    user: str,
    channel: str,
    groups: frozenset[str],
    action: Action,
    env: EnvironmentConfig,
    code: RefusalCode | None,
) -> None:
    result = authorize(
        user=user, channel=channel, env="production", env_config=env, user_groups=groups,
        action=action,
    )  # fmt: skip
    if code is None:
        assert result == Allowed(user, "production", action)
    else:
        assert isinstance(result, Refusal)
        assert result.code is code


def test_refusals_say_what_is_needed() -> None:
    wrong_channel = authorize(
        user="U0ALICE", channel="C0RANDOM", env="production", env_config=PROD,
        user_groups=NONE, action=Action.DEPLOY,
    )  # fmt: skip
    assert isinstance(wrong_channel, Refusal)
    assert wrong_channel.text == "`production` is commanded from <#C0DEPLOYS> only, not from here."
    outsider = authorize(
        user="U0MALLORY", channel="C0DEPLOYS", env="production", env_config=PROD,
        user_groups=NONE, action=Action.DEPLOY,
    )  # fmt: skip
    assert isinstance(outsider, Refusal)
    assert outsider.text == (
        "<@U0MALLORY>, you can't deploy in `production`: that takes <@U0ALICE> or members of "
        "<!subteam^S0DEVS>. Ask one of them, or to be added to the deployers."
    )
    unconfigured = authorize(
        user="U0ALICE", channel="C0DEPLOYS", env="staging", env_config=BARE,
        user_groups=NONE, action=Action.DEPLOY,
    )  # fmt: skip
    assert isinstance(unconfigured, Refusal)
    assert "add this channel's id `C0DEPLOYS` to `environments.staging.channels`" in (
        unconfigured.text
    )
    no_deployers = BARE.model_copy(update={"channels": ("C0DEPLOYS",)})
    nobody = authorize(
        user="U0ALICE", channel="C0DEPLOYS", env="staging", env_config=no_deployers,
        user_groups=NONE, action=Action.DEPLOY,
    )  # fmt: skip
    assert isinstance(nobody, Refusal)
    assert "list deployers under `environments.staging.deployers`" in nobody.text


@pytest.mark.parametrize(
    ("user", "requester", "channel", "allowed"),
    [("U0ZED", "U0ZED", "C0ELSEWHERE", True), ("U0ALICE", "U0ZED", "C0DEPLOYS", True),
     ("U0MALLORY", "U0ZED", "C0DEPLOYS", False), ("U0ALICE", None, "C0ELSEWHERE", False)],
)  # fmt: skip
def test_cancel(user: str, requester: str | None, channel: str, allowed: bool) -> None:
    result = authorize(
        user=user, channel=channel, env="production", env_config=PROD, user_groups=NONE,
        action=Action.CANCEL, requester=requester,
    )  # fmt: skip
    assert isinstance(result, Allowed) is allowed


@pytest.mark.parametrize(
    ("approver", "requester", "groups", "code"),
    [
        ("U0BOB", "U0ALICE", NONE, None),
        ("U0CAROL", "U0ALICE", frozenset({"S0LEADS"}), None),
        ("U0BOB", "U0BOB", NONE, RefusalCode.SELF_APPROVAL),
        ("U0CAROL", "U0CAROL", frozenset({"S0LEADS"}), RefusalCode.SELF_APPROVAL),
        ("U0ALICE", "U0CAROL", frozenset({"S0DEVS"}), RefusalCode.NOT_AN_APPROVER),
    ],
)
def test_can_approve(
    approver: str, requester: str, groups: frozenset[str], code: RefusalCode | None
) -> None:
    result = can_approve(
        approver=approver, requester=requester, env="production", env_config=PROD,
        user_groups=groups,
    )  # fmt: skip
    if code is None:
        assert result == Allowed(approver, "production", Action.APPROVE)
    else:
        assert isinstance(result, Refusal)
        assert result.code is code


def test_approval_refusal_texts() -> None:
    own = can_approve(
        approver="U0BOB", requester="U0BOB", env="production", env_config=PROD, user_groups=NONE
    )
    assert isinstance(own, Refusal)
    assert own.text == "You requested this deploy: someone else has to approve it."
    other = can_approve(
        approver="U0ALICE", requester="U0BOB", env="production", env_config=PROD, user_groups=NONE
    )
    assert isinstance(other, Refusal)
    assert "that takes <@U0BOB> or members of <!subteam^S0LEADS>" in other.text
