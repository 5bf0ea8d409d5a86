"""Unit tests on canned answers (`bot.kube.transport.MockTransport`), no server: the
client's verbs (the request it sends, fieldManager on writes, 404/409/500 as the
hierarchy's errors, a 409 on a patch retried, the API server's Date observed), the
watch (a listed object then streamed events, a 410 that re-lists), and the engine's
status read (a Deployment and its free lock, from a table of two routes)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import Conflict, NotFound, ServerError
from bot.kube.kinds import CONFIGMAPS, DEPLOYMENTS, LEASES
from bot.kube.transport import Canned, MockTransport, Sent, routes
from bot.kube.watch import watch
from bot.rollout.engine import RolloutEngine
from commands.config import DeckhandConfig

NS = "honeydue"
API = DEPLOYMENTS.path(NS, "api")
DATE = "Fri, 04 Dec 2026 01:00:00 GMT"


def deployment(image: str = "gitea.example.com/admin/api:1111111", rv: str = "7") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS, "resourceVersion": rv, "generation": 1},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "api", "image": image}]}},
        },
        "status": {"observedGeneration": 1},
    }


def status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "status": "Failure", "reason": reason, "code": code, "message": "x"}


def client(table: dict[tuple[str, str], Canned | list[Canned]]) -> tuple[KubeClient, MockTransport]:
    transport = MockTransport(routes(table))
    options = KubeOptions(conflict_backoff_s=(0.0, 0.0), reconnect_backoff_s=(0.0,))
    return KubeClient(transport, options), transport


async def test_get_sends_the_path_and_reads_the_answer_and_its_date() -> None:
    kube, sent = client({("GET", API): Canned(body=deployment(), headers={"Date": DATE})})
    got = await kube.get(DEPLOYMENTS, "api", namespace=NS)
    assert got["metadata"]["name"] == "api"
    assert sent.sent == [Sent("GET", API, {}, None)]
    assert kube.time.age() is not None  # the Date header was taken


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Canned(404, status(404, "NotFound")), NotFound),
        (Canned(409, status(409, "Conflict")), Conflict),
        (Canned(500, status(500, "InternalError")), ServerError),
    ],
)
async def test_error_answers_are_the_boundary_s_errors(answer: Canned, error: type) -> None:
    kube, _ = client({("POST", CONFIGMAPS.path("deckhand")): answer})
    with pytest.raises(error) as caught:
        await kube.create(CONFIGMAPS, {"metadata": {"name": "x"}}, namespace="deckhand")
    assert "configmap" in caught.value.sentence()


async def test_a_conflicting_patch_is_retried_and_names_deckhand_as_writer() -> None:
    kube, sent = client(
        {("PATCH", API): [Canned(409, status(409, "Conflict")), Canned(body=deployment(rv="8"))]}
    )
    patched = await kube.patch(DEPLOYMENTS, "api", {"spec": {}}, namespace=NS)
    assert patched["metadata"]["resourceVersion"] == "8"
    assert [s.method for s in sent.sent] == ["PATCH", "PATCH"]
    assert all(s.query.get("fieldManager") == "deckhand" for s in sent.sent)


async def test_a_route_not_in_the_table_is_a_404() -> None:
    kube, _ = client({})
    with pytest.raises(NotFound):
        await kube.get(DEPLOYMENTS, "api", namespace=NS)


async def test_watch_lists_then_streams_and_relists_after_410() -> None:
    listed = {"metadata": {"resourceVersion": "10"}, "items": [deployment(rv="10")]}
    relisted = {"metadata": {"resourceVersion": "20"}, "items": [deployment(rv="20")]}
    moved = {"type": "MODIFIED", "object": deployment(image="x/api:2", rv="11")}
    gone = {"type": "ERROR", "object": status(410, "Expired")}

    def handle(sent: Sent) -> Canned:
        if sent.query.get("watch") == "true":
            if sent.query.get("resourceVersion") == "10":
                return Canned(events=[moved, gone])
            return Canned(events=[])
        return Canned(body=listed if len(transport.sent) == 1 else relisted)

    transport = MockTransport(handle)
    kube = KubeClient(transport, KubeOptions(reconnect_backoff_s=(0.0,)))
    seen = []
    async with contextlib.aclosing(watch(kube, DEPLOYMENTS, namespace=NS)) as events:
        async for event in events:
            seen.append((event.type, event.object["metadata"]["resourceVersion"]))
            if len(seen) == 3:
                break
    # the re-list after the 410 yields what it finds, as ADDED (from the new version)
    assert seen == [("ADDED", "10"), ("MODIFIED", "11"), ("ADDED", "20")]
    lists = [s for s in transport.sent if s.query.get("watch") != "true"]
    assert len(lists) == 2  # the 410 made it list again


async def test_engine_status_from_a_table_of_canned_answers() -> None:
    config = DeckhandConfig.model_validate(
        {
            "services": {
                "api": {
                    "image": "gitea.example.com/admin/api",
                    "deployments": [{"name": "api", "container": "api"}],
                }
            },
            "environments": {"prod": {"namespace": NS}},
        }
    )
    kube, sent = client(
        {
            ("GET", API): Canned(body=deployment(), headers={"Date": DATE}),
            ("GET", LEASES.path("deckhand", "deckhand-lock-api-prod")): Canned(
                404, status(404, "NotFound")
            ),
            ("GET", CONFIGMAPS.path("deckhand")): Canned(  # the deploy records
                body={"metadata": {"resourceVersion": "1"}, "items": []}
            ),
        }
    )
    engine = RolloutEngine(config, kube, registry=None)  # type: ignore[arg-type]  # not asked
    found = await engine.status("api", "prod")
    (state,) = found.deployments
    assert state.image == "gitea.example.com/admin/api:1111111"
    assert state.replicas == 3
    assert found.lock is None
    lock = LEASES.path("deckhand", "deckhand-lock-api-prod")
    assert {s.path for s in sent.sent} == {API, lock, CONFIGMAPS.path("deckhand")}
