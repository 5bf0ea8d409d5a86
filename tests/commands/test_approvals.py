"""`commands.approvals`, table-tested: who may approve (requester, listed user, group
member, outsider), counting distinct approvers (one, two required, the same one twice,
concurrent deciders on one stored state), expiry, freeze windows (force with a reason),
digest binding (void when the tag moved), a click bound to the request's own
message, rejection, cancel, compare links, the trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from commands.approvals import (
    ApprovalRequest,
    ApprovalState,
    Approved,
    Counted,
    EventKind,
    ImageChange,
    click_on_its_message,
    compare_url,
    decide_approval,
    decide_cancel,
    decide_rejection,
    expire,
    in_freeze,
    new_request,
    void_if_moved,
)
from commands.config import Approvals, ApprovalWindow, EnvironmentConfig, Principals
from commands.images import tag_of
from commands.plan import DeployPlan, ImageCheck, Patch, ServicePlan
from commands.requests import Refusal, RefusalCode

ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"
LEADS = "S0LEADS"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday
FRIDAY_EVENING = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def env(required: int = 1, windows: tuple[ApprovalWindow, ...] = ()) -> EnvironmentConfig:
    return EnvironmentConfig(
        namespace="honeydue",
        protected=True,
        approvals=Approvals(
            required=required,
            approvers=Principals(users=(BOB,), usergroups=(LEADS,)),
            windows=windows,
        ),
    )


FREEZE = ApprovalWindow.model_validate(
    {"days": ["fri", "sat", "sun"], "start": "16:00", "end": "08:00"}
)


def request(required: int = 1, *, frozen: bool = False) -> ApprovalRequest:
    return ApprovalRequest(
        id="d-7f3a2c",
        env="prod",
        tag="237c6b8",
        services=("api",),
        changes=(ImageChange("api", DIGEST, "r/api:237c6b8@" + DIGEST, "r/api:1111111"),),
        requested_by=ALICE,
        requested_at=T0,
        expires_at=T0 + timedelta(minutes=30),
        required=required,
        frozen=frozen,
    )


@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [
        (ALICE, frozenset({LEADS}), RefusalCode.SELF_APPROVAL),  # even as a lead
        (MALLORY, frozenset(), RefusalCode.NOT_AN_APPROVER),
        (MALLORY, frozenset({"S0DEVS"}), RefusalCode.NOT_AN_APPROVER),
        (BOB, frozenset(), Approved),
        (CAROL, frozenset({LEADS}), Approved),  # a member of the approvers' group
    ],
)
def test_who_may_approve(user: str, groups: frozenset[str], expected: object) -> None:
    got = decide_approval(request(), user=user, user_groups=groups, env_config=env(), now=T0)
    if isinstance(expected, RefusalCode):
        assert isinstance(got, Refusal)
        assert got.code is expected
    else:
        assert isinstance(got, Approved)
        assert got.request.state is ApprovalState.APPROVED
        assert got.request.voters == (user,)


def test_self_approval_says_why() -> None:
    got = decide_approval(request(), user=ALICE, user_groups=frozenset(), env_config=env(), now=T0)
    assert isinstance(got, Refusal)
    assert "someone else" in got.text


def test_two_required_count_distinct_approvers() -> None:
    config = env(required=2)
    first = decide_approval(
        request(2), user=BOB, user_groups=frozenset(), env_config=config, now=T0
    )
    assert isinstance(first, Counted)
    assert first.request.remaining == 1
    assert first.request.state is ApprovalState.PENDING
    again = decide_approval(
        first.request, user=BOB, user_groups=frozenset(), env_config=config, now=T0
    )
    assert isinstance(again, Refusal)
    assert "already counted" in again.text
    second = decide_approval(
        first.request, user=CAROL, user_groups=frozenset({LEADS}), env_config=config, now=T0
    )
    assert isinstance(second, Approved)
    assert second.request.voters == (BOB, CAROL)


def test_a_decided_request_takes_no_more_votes() -> None:
    """Two deciders on one stored state: CAS re-runs the loser on the winner's state."""
    won = decide_approval(request(), user=BOB, user_groups=frozenset(), env_config=env(), now=T0)
    assert isinstance(won, Approved)
    lost = decide_approval(
        won.request, user=CAROL, user_groups=frozenset({LEADS}), env_config=env(), now=T0
    )
    assert isinstance(lost, Refusal)
    assert "already approved" in lost.text


@pytest.mark.parametrize(("minutes", "open_"), [(0, True), (29.99, True), (30, False), (90, False)])
def test_expiry(minutes: float, open_: bool) -> None:
    now = T0 + timedelta(minutes=minutes)
    got = decide_approval(request(), user=BOB, user_groups=frozenset(), env_config=env(), now=now)
    assert isinstance(got, Approved) is open_
    expired = expire(request(), now=now)
    assert (expired is None) is open_
    if expired is not None:
        assert expired.state is ApprovalState.EXPIRED
        assert expired.events[-1].kind is EventKind.EXPIRED


def test_expire_leaves_decided_requests_alone() -> None:
    done = replace_state(request(), ApprovalState.APPROVED)
    assert expire(done, now=T0 + timedelta(days=1)) is None


def replace_state(r: ApprovalRequest, state: ApprovalState) -> ApprovalRequest:
    return replace(r, state=state)


@pytest.mark.parametrize(
    ("at", "frozen"),
    [
        (T0, False),
        (FRIDAY_EVENING, True),
        (datetime(2026, 11, 29, 12, tzinfo=UTC), False),  # Sunday noon: not in this window
        (datetime(2026, 11, 30, 7, 59, tzinfo=UTC), True),  # Monday before 08:00
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), False),
    ],
)
def test_freeze_windows(at: datetime, frozen: bool) -> None:
    assert in_freeze(env(windows=(FREEZE,)).approvals, at) is frozen


def test_frozen_request_needs_a_forced_approval_with_reason() -> None:
    config = env(windows=(FREEZE,))
    plain = decide_approval(
        request(frozen=True), user=BOB, user_groups=frozenset(), env_config=config, now=T0
    )
    assert isinstance(plain, Refusal)
    assert "freeze" in plain.text
    forced = decide_approval(
        request(frozen=True),
        user=BOB,
        user_groups=frozenset(),
        env_config=config,
        now=T0,
        forced="hotfix for the outage",
    )
    assert isinstance(forced, Approved)
    event = forced.request.events[-1]
    assert (event.kind, event.who, event.note) == (EventKind.FORCED, BOB, "hotfix for the outage")
    mallory = decide_approval(
        request(frozen=True),
        user=MALLORY,
        user_groups=frozenset(),
        env_config=config,
        now=T0,
        forced="let me",
    )
    assert isinstance(mallory, Refusal)


@pytest.mark.parametrize(
    ("found", "void"),
    [({"api": DIGEST}, False), ({"api": OTHER}, True), ({}, True)],
)
def test_digest_binding(found: dict[str, str], void: bool) -> None:
    got = void_if_moved(request(), found=found, now=T0)
    assert (got is not None) is void
    if got is not None:
        assert got.state is ApprovalState.VOID
        assert "void" in got.events[-1].note


@pytest.mark.parametrize(
    ("user", "groups", "allowed"),
    [(BOB, frozenset(), True), (ALICE, frozenset(), True), (MALLORY, frozenset(), False)],
)
def test_reject_and_cancel(user: str, groups: frozenset[str], allowed: bool) -> None:
    rejected = decide_rejection(
        request(), user=user, user_groups=groups, env_config=env(), now=T0, reason="not today"
    )
    cancelled = decide_cancel(request(), user=user, user_groups=groups, env_config=env(), now=T0)
    if not allowed:
        assert isinstance(rejected, Refusal)
        assert isinstance(cancelled, Refusal)
        return
    assert isinstance(rejected, ApprovalRequest)
    assert rejected.state is ApprovalState.REJECTED
    assert (rejected.events[-1].who, rejected.events[-1].note) == (user, "not today")
    assert isinstance(cancelled, ApprovalRequest)
    assert cancelled.state is ApprovalState.CANCELLED
    again = decide_cancel(cancelled, user=user, user_groups=groups, env_config=env(), now=T0)
    assert isinstance(again, Refusal)


@pytest.mark.parametrize(
    ("source", "old", "new", "url"),
    [
        ("https://g/a/h", "1111111", "237c6b8", "https://g/a/h/compare/1111111...237c6b8"),
        ("https://g/a/h/", "1111111", "237c6b8", "https://g/a/h/compare/1111111...237c6b8"),
        (None, "1111111", "237c6b8", ""),
        ("https://g/a/h", None, "237c6b8", ""),
        ("https://g/a/h", "237c6b8", "237c6b8", ""),
    ],
)
def test_compare_url(source: str | None, old: str | None, new: str, url: str) -> None:
    assert compare_url(source, old, new) == url


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("gitea.example.com/admin/api:1111111@sha256:abc", "1111111"),
        ("localhost:5000/admin/api:1111111", "1111111"),
        ("localhost:5000/admin/api@sha256:abc", None),
        ("", None),
    ],
)
def test_tag_of(image: str, tag: str | None) -> None:
    assert tag_of(image) == tag


def test_new_request_from_a_plan() -> None:
    image = "r/api:237c6b8@" + DIGEST
    plan = DeployPlan(
        deploy_id="d-1",
        env="prod",
        namespace="honeydue",
        tag="237c6b8",
        requested_by=ALICE,
        requested_at=FRIDAY_EVENING,
        reason="release",
        services=(
            ServicePlan(
                "api",
                ImageCheck(image, DIGEST, "linux/amd64", revision_label="237c6b8f00"),
                (Patch("honeydue", "api", "api", image, ()),),
            ),
        ),
        unchanged=("worker",),
        approvals_required=1,
        auto_rollback=True,
    )
    got = new_request(
        plan,
        current={"api": "r/api:1111111@sha256:0"},
        env_config=env(windows=(FREEZE,)),
        source_urls={"api": "https://g/a/h"},
        now=FRIDAY_EVENING,
    )
    assert got.services == ("api", "worker")
    assert got.frozen
    assert got.expires_at == FRIDAY_EVENING + timedelta(minutes=30)
    (change,) = got.changes
    assert change.compare_url == "https://g/a/h/compare/1111111...237c6b8f00"
    assert change.current == "r/api:1111111@sha256:0"
    assert got.events[0].kind is EventKind.REQUESTED


@pytest.mark.parametrize(
    ("stored", "channel", "ts", "accepted"),
    [
        (("C1", "111.1"), "C1", "111.1", True),
        (("C1", "111.1"), "C1", "222.2", False),  # another message's button, same channel
        (("C1", "111.1"), "C2", "111.1", False),  # same ts, other channel
        (("C1", "111.1"), "C1", None, False),  # no container at all
        (("C1", ""), "C1", "333.3", True),  # message not recorded yet: its channel only
        (("C1", ""), "C2", "333.3", False),
    ],
)
def test_a_click_counts_only_from_the_request_message(
    stored: tuple[str, str], channel: str, ts: str | None, accepted: bool
) -> None:
    bound = replace(request(), slack_channel=stored[0], slack_ts=stored[1])
    refusal = click_on_its_message(bound, channel_id=channel, message_ts=ts)
    assert (refusal is None) is accepted
    if refusal is not None:
        assert refusal.code is RefusalCode.INVALID_REQUEST
        assert "`d-7f3a2c`" in refusal.text
        assert "nothing was decided" in refusal.text
