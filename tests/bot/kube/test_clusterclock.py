"""The cluster's clock read off `Date` headers (`bot.kube.clusterclock`).

Covers: no sample → the local wall clock; the rate stays 1 while the samples fit real
time within their one-second resolution (a real API server, a clock offset of hours);
a sped-up server (×10) is recognised after half a local second; a clock set back
starts over; unreadable headers are ignored; `ClusterClock.wall` converts cluster
seconds to local ones (capped until the rate is known) and `monotonic` never goes
backwards. Against the sandbox at
speed 10, `KubeClient.clock` agrees with the cluster's own clock within a second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.kube.client import KubeClient
from bot.kube.clusterclock import ClusterClock, ClusterTime
from sandbox.cluster.server import SandboxCluster

BASE = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)


class Local:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def date(seconds: float) -> str:
    return format_datetime(BASE + timedelta(seconds=int(seconds)), usegmt=True)


@pytest.mark.parametrize(
    ("rate", "offset", "span", "expected_rate"),
    [
        (1.0, 0.0, 0.2, 1.0),
        (1.0, 0.0, 30.0, 1.0),
        (1.0, 7200.0, 3.0, 1.0),  # two hours ahead of the bot's node: an offset, rate 1
        (10.0, 0.0, 0.5, 10.0),
        (10.0, 0.0, 5.0, 10.0),
        (50.0, 0.0, 0.2, 50.0),
    ],
)
def test_rate_and_now_from_samples(
    rate: float, offset: float, span: float, expected_rate: float
) -> None:
    local = Local()
    time = ClusterTime(local)
    steps = 10
    for n in range(steps + 1):
        local.t = 100.0 + span * n / steps
        time.observe(date(offset + (local.t - 100.0) * rate))
    assert time.rate == pytest.approx(expected_rate, rel=0.25)
    truth = BASE + timedelta(seconds=offset + span * rate)
    assert abs((time.now() - truth).total_seconds()) <= 1.0


def test_no_sample_is_the_wall_clock_and_bad_headers_are_ignored() -> None:
    time = ClusterTime(Local())
    for header in (None, "", "yesterday", "Fri, 99 Foo 2026 25:00:00 GMT"):
        time.observe(header)
    assert time.age() is None
    assert abs((time.now() - datetime.now(UTC)).total_seconds()) < 5


def test_a_clock_set_back_starts_over() -> None:
    local = Local()
    time = ClusterTime(local)
    time.observe(date(0))
    local.t += 1
    time.observe(date(10))  # ×10
    local.t += 1
    time.observe(date(-3600))  # someone set the server's clock back an hour
    assert time.rate == 1.0
    assert abs((time.now() - (BASE - timedelta(seconds=3600))).total_seconds()) <= 1


async def test_cluster_clock_converts_and_never_goes_back() -> None:
    local = Local()
    time = ClusterTime(local)
    refreshed = []

    async def refresh() -> None:
        refreshed.append(local.t)
        time.observe(date((local.t - 100.0) * 10))

    clock = ClusterClock(time, refresh)
    await clock.sync()
    local.t += 1.0
    await clock.sync()
    assert len(refreshed) == 2
    await clock.sync()  # fresh enough: no request
    assert len(refreshed) == 2
    assert clock.wall(20.0) == 1.0  # the rate isn't known well yet: come back in a second
    local.t += 1.5
    await clock.sync()
    assert clock.wall(20.0) == pytest.approx(2.0, rel=0.25)
    first = clock.monotonic()
    time.observe(date(0))  # an older-looking sample must not move monotonic back
    assert clock.monotonic() >= first


async def test_kube_client_reads_the_sandbox_clock(
    kube: KubeClient, kube_cluster: SandboxCluster
) -> None:
    await kube.version()
    await kube_cluster.clock.sleep(20)
    await kube.version()
    assert kube.time.rate == pytest.approx(kube_cluster.clock.speed, rel=0.3)
    said = kube.clock.now()
    assert abs((said - kube_cluster.clock.now()).total_seconds()) <= 1.5
