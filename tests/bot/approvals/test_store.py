"""`bot.approvals.store` against the sandbox cluster: the ConfigMap round trip (votes,
events, times), get/pending/recent selections, unknown ids, and compare-and-swap: two
approvers deciding at the same instant on one stored request approve it once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.approvals.store import ApprovalStore, from_configmap, to_configmap
from bot.kube.client import KubeClient
from commands.approvals import (
    ApprovalRequest,
    ApprovalState,
    Approved,
    EventKind,
    ImageChange,
    decide_approval,
)
from commands.config import Approvals, EnvironmentConfig, Principals

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ENV = EnvironmentConfig(
    namespace="honeydue",
    protected=True,
    approvals=Approvals(required=1, approvers=Principals(users=("U0BOB", "U0DAVE"))),
)


def request(request_id: str = "d-7f3a2c", *, at: datetime = T0) -> ApprovalRequest:
    made = ApprovalRequest(
        id=request_id,
        env="prod",
        tag="237c6b8",
        services=("api", "worker"),
        changes=(ImageChange("api", "sha256:" + "a" * 64, "r/api:237c6b8@sha256:a", "r/api:1"),),
        requested_by="U0ALICE",
        requested_at=at,
        expires_at=at + timedelta(minutes=30),
        required=1,
        reason="release 42",
        slack_channel="C0DEPLOYS",
        slack_ts="1700000000.000100",
    )
    return made.with_event(EventKind.REQUESTED, "U0ALICE", at, "release 42")


def test_configmap_round_trip() -> None:
    decided = decide_approval(
        request(), user="U0BOB", user_groups=frozenset(), env_config=ENV, now=T0
    )
    assert isinstance(decided, Approved)
    obj = to_configmap(decided.request, namespace="deckhand")
    labels = obj["metadata"]["labels"]
    assert labels["deckhand.dev/approval"] == "approved"
    assert labels["svc.deckhand.dev/worker"] == "true"
    assert from_configmap(obj) == decided.request


async def test_create_get_select(kube: KubeClient) -> None:
    store = ApprovalStore(kube, "deckhand")
    await store.create(request("d-000001", at=T0))
    await store.create(request("d-000002", at=T0 + timedelta(minutes=1)))
    assert await store.get("d-000001") == request("d-000001", at=T0)
    assert await store.get("d-nothere") is None
    assert [r.id for r in await store.pending()] == ["d-000001", "d-000002"]  # oldest first
    assert [r.id for r in await store.recent("worker", "prod", 10)] == ["d-000002", "d-000001"]
    assert await store.recent("admin", "prod", 10) == []
    await store.update("d-000001", lambda r: replace(r, state=ApprovalState.EXPIRED))
    assert [r.id for r in await store.pending()] == ["d-000002"]


async def test_two_deciders_at_once_approve_once(kube: KubeClient) -> None:
    store = ApprovalStore(kube, "deckhand")
    await store.create(request())
    wins: list[str] = []

    def vote(user: str) -> Callable[[ApprovalRequest], ApprovalRequest | None]:
        def decide(r: ApprovalRequest) -> ApprovalRequest | None:
            got = decide_approval(r, user=user, user_groups=frozenset(), env_config=ENV, now=T0)
            if isinstance(got, Approved):
                wins.append(user)
                return got.request
            return None

        return decide

    results = await asyncio.gather(
        store.update(request().id, vote("U0BOB")), store.update(request().id, vote("U0DAVE"))
    )
    stored = await store.get(request().id)
    assert stored is not None
    assert stored.state is ApprovalState.APPROVED
    assert len(stored.voters) == 1
    assert stored.voters[0] in wins
    assert all(r.state is ApprovalState.APPROVED for r in results)
