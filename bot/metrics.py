"""Deckhand's Prometheus metrics, served at `GET /metrics` by `bot.http`.

    metrics = Metrics(version=deckhand_version())        # once, in `bot.app.main`
    KubeOptions(on_watch_reconnect=metrics.watch_reconnected)
    open_web_client(settings, observer=metrics)          # a `bot.slack.client.SlackObserver`

`Metrics` owns its `CollectorRegistry` (no global default registry: two instances in
one process, e.g. two tests, never collide). The instrumented modules don't import
this one: each takes an optional callback / observer with a no-op default, and the
composition root (`bot.app`) hands them `Metrics`' bound methods.

Series:

    deckhand_deploys_total{env,result}            result: succeeded|failed|rolled_back|refused
    deckhand_rollout_duration_seconds{env}        histogram, 5 s … 15 min (refusals not observed)
    deckhand_approvals_pending                    gauge, set by `poll_cluster_gauges`
    deckhand_alerts_open                          gauge, set by `poll_cluster_gauges`
    deckhand_slack_api_errors_total{method,error} every failed Web API attempt (retries too)
    deckhand_slack_rate_limited_total{method}     every 429 answer
    deckhand_watch_reconnects_total{resource}     watch reopened after a drop, failure or 410
    deckhand_is_leader                            0/1
    deckhand_build_info{version}                  always 1
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import CONFIGMAPS

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The `Content-Type` of `Metrics.render()` (Prometheus text format 0.0.4)."""

ROLLOUT_BUCKETS_S = (
    5.0,
    10.0,
    20.0,
    30.0,
    45.0,
    60.0,
    90.0,
    120.0,
    180.0,
    300.0,
    450.0,
    600.0,
    900.0,
)
"""Rollouts take from a few seconds (one replica, cached image) to the 15-minute
progress deadline; buckets roughly double so each holds a meaningful share."""

RESULTS = ("succeeded", "failed", "rolled_back", "refused", "unknown")
APPROVALS_PENDING_SELECTOR = "deckhand.dev/record=approval,deckhand.dev/approval=pending"
ALERTS_OPEN_SELECTOR = "deckhand.dev/record=incident,deckhand.dev/phase=open"


def deckhand_version() -> str:
    """The installed package's version, or "unknown" (running from a bare checkout)."""
    try:
        return version("deckhand")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """The series of the module docstring, in a registry of their own.

    The recording methods are plain callbacks (safe from any coroutine; none blocks)
    whose signatures match the hooks of the instrumented modules.
    """

    def __init__(self, *, version: str = "unknown") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deploys_total = Counter(
            "deckhand_deploys", "Deploys by environment and result", ["env", "result"], registry=r
        )
        self.rollout_duration = Histogram(
            "deckhand_rollout_duration_seconds",
            "Time from patch to verdict of deploys that rolled out",
            ["env"],
            buckets=ROLLOUT_BUCKETS_S,
            registry=r,
        )
        self.approvals_pending = Gauge(
            "deckhand_approvals_pending", "Approval requests waiting for a decision", registry=r
        )
        self.alerts_open = Gauge("deckhand_alerts_open", "Open image-pull incidents", registry=r)
        self.slack_api_errors_total = Counter(
            "deckhand_slack_api_errors",
            "Failed Slack Web API attempts (each retry counts)",
            ["method", "error"],
            registry=r,
        )
        self.slack_rate_limited_total = Counter(
            "deckhand_slack_rate_limited", "Slack Web API 429 answers", ["method"], registry=r
        )
        self.watch_reconnects_total = Counter(
            "deckhand_watch_reconnects",
            "Kubernetes watches reopened after a drop, a failure or a 410",
            ["resource"],
            registry=r,
        )
        self.socket_mode_rebuilds_total = Counter(
            "deckhand_socket_mode_rebuilds",
            "Socket Mode connections thrown away and rebuilt by the watchdog",
            ["reason"],
            registry=r,
        )
        self.is_leader = Gauge(
            "deckhand_is_leader", "1 while this replica holds the leader Lease", registry=r
        )
        self.build_info = Gauge(
            "deckhand_build_info", "Always 1; the labels name the build", ["version"], registry=r
        )
        self.build_info.labels(version=version).set(1)

    def render(self) -> bytes:
        """The registry in Prometheus' text format (see `CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # ---- hooks (bound methods are handed to the instrumented modules) ----

    def deploy_ended(self, env: str, result: str, duration_s: float | None) -> None:
        """A deploy ended as `result` (one of `RESULTS`); `duration_s` None: never rolled."""
        self.deploys_total.labels(env=env, result=result).inc()
        if duration_s is not None and result != "refused":
            self.rollout_duration.labels(env=env).observe(duration_s)

    def slack_error(self, method: str, error: str) -> None:
        self.slack_api_errors_total.labels(method=method, error=error).inc()

    def slack_rate_limited(self, method: str) -> None:
        self.slack_rate_limited_total.labels(method=method).inc()

    def socket_rebuilt(self, reason: str) -> None:
        self.socket_mode_rebuilds_total.labels(reason=reason).inc()

    def watch_reconnected(self, resource: str) -> None:
        self.watch_reconnects_total.labels(resource=resource).inc()

    def set_leader(self, leading: bool) -> None:
        self.is_leader.set(1 if leading else 0)


async def count_cluster_gauges(metrics: Metrics, kube: KubeClient, *, namespace: str) -> None:
    """Count pending approval and open incident ConfigMaps in `namespace` into the two
    gauges. A failed count keeps the last value and is logged at debug level (the
    cluster's unavailability is reported elsewhere). Each list has the client's deadline."""
    for gauge, selector in (
        (metrics.approvals_pending, APPROVALS_PENDING_SELECTOR),
        (metrics.alerts_open, ALERTS_OPEN_SELECTOR),
    ):
        try:
            listed = await kube.list(CONFIGMAPS, namespace=namespace, label_selector=selector)
        except KubeError as e:
            log.debug("metrics: could not count %s: %s", selector, e.sentence())
            continue
        gauge.set(len(listed.items))


async def poll_cluster_gauges(
    metrics: Metrics, kube: KubeClient, *, namespace: str, interval_s: float
) -> None:
    """`count_cluster_gauges` every `interval_s`, until cancelled (a supervised task).
    The approvals and alerts modules need no hook: their ConfigMaps are the truth."""
    while True:
        await count_cluster_gauges(metrics, kube, namespace=namespace)
        await asyncio.sleep(interval_s)
