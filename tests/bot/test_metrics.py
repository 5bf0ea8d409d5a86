"""bot.metrics and its hooks: the series, their registry, and what each hook counts.

Covers: two `Metrics` never share a registry; deploy outcomes counted by env and result,
rollout durations observed (refusals not); build info; `GET /metrics` served by the
HTTP app; the Slack client's observer counting 429s and `ok: false` answers against
the local Slack Web API (each attempt); a watch's 410 re-list counted as a reconnect
against the sandbox API server; the leader elector telling `is_leader`; the
approvals/alerts gauges counted from labelled ConfigMaps.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from bot.http import build_http_app, serve_http
from bot.kube.client import KubeClient, KubeOptions
from bot.kube.kinds import CONFIGMAPS, KubeObject
from bot.kube.watch import watch
from bot.leader import LeaderElector
from bot.lifecycle import ReadinessState
from bot.metrics import Metrics, count_cluster_gauges
from bot.slack.client import SlackCallFailed, open_web_client, slack_call
from sandbox.cluster.server import SandboxCluster
from sandbox.slack import LocalSlack
from tests.fixtures.slack import make_slack_settings


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def configmap(name: str, labels: dict[str, str] | None = None) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": {},
    }


def test_each_metrics_has_its_own_registry() -> None:
    a, b = Metrics(version="1.0"), Metrics(version="2.0")
    a.deploy_ended("staging", "succeeded", 12.0)
    assert sample(a, "deckhand_deploys_total", env="staging", result="succeeded") == 1.0
    assert sample(b, "deckhand_deploys_total", env="staging", result="succeeded") is None
    assert sample(b, "deckhand_build_info", version="2.0") == 1.0


@pytest.mark.parametrize(
    ("result", "duration_s", "observed"),
    [
        ("succeeded", 42.0, 1.0),
        ("failed", 600.0, 1.0),
        ("rolled_back", 95.0, 1.0),
        ("refused", None, None),
        ("refused", 0.0, None),
    ],
)
def test_deploy_outcomes_and_durations(
    result: str, duration_s: float | None, observed: float | None
) -> None:
    metrics = Metrics()
    metrics.deploy_ended("prod", result, duration_s)
    assert sample(metrics, "deckhand_deploys_total", env="prod", result=result) == 1.0
    assert sample(metrics, "deckhand_rollout_duration_seconds_count", env="prod") == observed


def test_rollout_buckets_span_five_seconds_to_fifteen_minutes() -> None:
    metrics = Metrics()
    metrics.deploy_ended("staging", "succeeded", 4.0)
    metrics.deploy_ended("staging", "succeeded", 899.0)
    bucket = "deckhand_rollout_duration_seconds_bucket"
    assert sample(metrics, bucket, env="staging", le="5.0") == 1.0
    assert sample(metrics, bucket, env="staging", le="600.0") == 1.0
    assert sample(metrics, bucket, env="staging", le="900.0") == 2.0


async def test_http_app_serves_metrics() -> None:
    metrics = Metrics(version="9.9.9")
    metrics.set_leader(True)
    metrics.deploy_ended("staging", "succeeded", 30.0)
    app = build_http_app(readiness=ReadinessState(), bolt_app=None, metrics=metrics)
    async with (
        serve_http(app, host="127.0.0.1", port=0) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics") as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/plain"
        body = await response.text()
    assert 'deckhand_deploys_total{env="staging",result="succeeded"} 1.0' in body
    assert 'deckhand_build_info{version="9.9.9"} 1.0' in body
    assert "deckhand_is_leader 1.0" in body
    assert "deckhand_approvals_pending 0.0" in body


async def test_http_app_without_metrics_has_no_route() -> None:
    app = build_http_app(readiness=ReadinessState(), bolt_app=None)
    async with (
        serve_http(app, host="127.0.0.1", port=0) as url,
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics") as response,
    ):
        assert response.status == 404


async def test_slack_rate_limits_and_errors_are_counted(local_slack: LocalSlack) -> None:
    metrics = Metrics()
    settings = make_slack_settings(local_slack, slack_max_retry_after_s=5.0)
    local_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=2)
    local_slack.fail_next("chat.update", error="message_not_found")
    async with open_web_client(settings, observer=metrics) as client:
        await slack_call("chat.postMessage", client.chat_postMessage(channel="C0DEPLOYS", text="x"))
        with pytest.raises(SlackCallFailed):
            await slack_call(
                "chat.update", client.chat_update(channel="C0DEPLOYS", ts="1.2", text="y")
            )
    rate_limited = sample(metrics, "deckhand_slack_rate_limited_total", method="chat.postMessage")
    assert rate_limited == 2.0
    errors = "deckhand_slack_api_errors_total"
    assert sample(metrics, errors, method="chat.postMessage", error="ratelimited") == 2.0
    assert sample(metrics, errors, method="chat.update", error="message_not_found") == 1.0
    assert sample(metrics, errors, method="auth.test", error="ratelimited") is None


async def test_a_watch_relisting_after_410_counts_a_reconnect(
    kube_cluster: SandboxCluster, tmp_path: Path
) -> None:
    metrics = Metrics()
    path = kube_cluster.write_kubeconfig(tmp_path / "kubeconfig")
    options = KubeOptions(request_timeout_s=5, on_watch_reconnect=metrics.watch_reconnected)
    async with KubeClient.from_kubeconfig(path, options=options) as kube:
        first = await kube.create(CONFIGMAPS, configmap("g"), namespace="deckhand")
        kube_cluster.store._history_limit = 2  # old resourceVersions expire at once
        for n in range(5):
            await kube.create(CONFIGMAPS, configmap(f"filler{n}"), namespace="deckhand")
        old_rv = first["metadata"]["resourceVersion"]
        events = watch(kube, CONFIGMAPS, namespace="deckhand", resource_version=old_rv)
        try:
            async with asyncio.timeout(10):
                async for _ in events:
                    break
        finally:
            await events.aclose()
    assert sample(metrics, "deckhand_watch_reconnects_total", resource="configmaps") == 1.0


async def test_leader_elector_tells_is_leader(kube_cluster: SandboxCluster, tmp_path: Path) -> None:
    metrics = Metrics()
    path = kube_cluster.write_kubeconfig(tmp_path / "kubeconfig")
    async with KubeClient.from_kubeconfig(path) as kube:
        elector = LeaderElector(
            kube,
            "deckhand",
            "pod-a",
            lease_duration_s=3.0,
            renew_deadline_s=2.0,
            retry_period_s=0.2,
            on_leading=metrics.set_leader,
        )
        task = asyncio.create_task(elector.run({}), name="election")
        try:
            await elector.wait_until_leading(timeout_s=5)
            assert sample(metrics, "deckhand_is_leader") == 1.0
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert sample(metrics, "deckhand_is_leader") == 0.0


async def test_pending_approvals_and_open_alerts_are_counted(
    kube_cluster: SandboxCluster, tmp_path: Path
) -> None:
    metrics = Metrics()
    path = kube_cluster.write_kubeconfig(tmp_path / "kubeconfig")
    approval = {"deckhand.dev/record": "approval", "deckhand.dev/approval": "pending"}
    approved = {"deckhand.dev/record": "approval", "deckhand.dev/approval": "approved"}
    incident = {"deckhand.dev/record": "incident", "deckhand.dev/phase": "open"}
    async with KubeClient.from_kubeconfig(path) as kube:
        for name, labels in (
            ("a1", approval),
            ("a2", approval),
            ("a3", approved),
            ("i1", incident),
        ):
            await kube.create(CONFIGMAPS, configmap(name, labels), namespace="deckhand")
        await count_cluster_gauges(metrics, kube, namespace="deckhand")
    assert sample(metrics, "deckhand_approvals_pending") == 2.0
    assert sample(metrics, "deckhand_alerts_open") == 1.0
