"""Alerts at scale: detection latency, CPU per watch event and RSS of `deckhand run`.

For each size N (500 / 5,000 / 20,000 pods) in a fresh API-only sandbox (no
controllers: the pods are written straight into the store, Running and Ready, in
`honeydue-staging`, 50 per ReplicaSet of an inert Deployment `load-<k>`), a real `deckhand
run` process (leader, alerts on, `alerts.grace_s: 0`, rate limit out of the way) watches
them. Then, for `window_s` wall seconds, an in-process churn generator rewrites pod
statuses at `rate` updates/s (readiness flapping: `ready` and the Ready condition) and,
one at a time, a probe pod is turned into ErrImagePull on a tag missing from the
registry. Detection latency = probe's status write → `chat.postMessage` in the alert
channel received by LocalSlack (both `time.monotonic()` in this process); that path
includes Deckhand's registry re-check, its incident ConfigMap and the Slack call. The
probe pod is restored afterwards (the incident resolves). The probes take turns over
the alert kinds (`KINDS`): a pull failure, and the kinds beyond pulls — a crash loop
(`CrashLoopBackOff`, exit 1; Deckhand reads the pod's last log lines), an OOM kill
(`OOMKilled`, 137) and an unschedulable pod (`PodScheduled=False`) — each on an image
of its own, so every probe is a new incident; latency is reported per kind.

CPU seconds per 1,000 watch events = the process's user+system CPU over the window /
pod updates written × 1,000 (every update is one MODIFIED event on Deckhand's pod watch;
the probes and the lease renewals are in the CPU but not in the count). RSS is read
after the initial list and warm-up alert (before churn) and at the end of the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Figure, median, quantile
from bench.world import BenchEnv, cpu_s, deckhand_process, open_slack, rss_mb, wait_for
from sandbox.cluster.resources import DEPLOYMENTS, PODS, REPLICASETS
from sandbox.env import ALERT_CHANNEL
from sandbox.slack import LocalSlack

NAMESPACE = "honeydue-staging"
PER_RS = 50
PROBES = 10
"""Pods set aside for probes (never churned)."""


KINDS = ("pull", "crash", "oom", "unschedulable")


@dataclass
class SizeResult:
    pods: int
    latencies_ms: list[float]
    """Pull alerts (the figures' headline)."""
    rss_synced_mb: float
    rss_end_mb: float
    cpu_s: float
    updates: int
    window_s: float
    populate_s: float
    missed: int
    first_alert_s: float
    """`deckhand run` started → the warm-up alert: start-up, leader, initial list, one alert."""
    lag_ms: list[float]
    """This process's event-loop lag during the window (the sandbox, registry and Slack
    stand-ins share it): high values mean the harness, not Deckhand, was slow."""
    by_kind: dict[str, list[float]] | None = None
    """Latencies per alert kind beyond pulls (`crash`, `oom`, `unschedulable`)."""


def _running_status(name: str, image: str, ready: bool, stamp: str) -> dict[str, Any]:
    state = "True" if ready else "False"
    return {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": state, "lastTransitionTime": stamp},
            {"type": "ContainersReady", "status": state, "lastTransitionTime": stamp},
        ],
        "containerStatuses": [
            {
                "name": name,
                "image": image,
                "imageID": "",
                "ready": ready,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": stamp}},
            }
        ],
        "hostIP": "10.0.0.1",
        "podIP": "10.1.0.1",
        "startTime": stamp,
    }


def populate(env: BenchEnv, pods: int) -> list[str]:
    """`pods` Running pods in `NAMESPACE` (see the module docstring); returns their names."""
    store = env.cluster.store
    image = f"{env.repository('api')}:{_good_tag()}"
    stamp = env.cluster.clock.timestamp()
    names = []
    for k in range((pods + PER_RS - 1) // PER_RS):
        deployment, template_hash = f"load-{k}", f"h{k:05d}"
        rs_name = f"{deployment}-{template_hash}"
        labels = {"app": deployment, "pod-template-hash": template_hash}
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": image}]},
        }
        owner_deployment = store.create(
            DEPLOYMENTS,
            {
                "metadata": {"name": deployment, "labels": {"app": deployment}},
                "spec": {
                    "replicas": PER_RS,
                    "selector": {"matchLabels": labels},
                    "template": template,
                },
            },
            namespace=NAMESPACE,
        )
        rs = store.create(
            REPLICASETS,
            {
                "metadata": {
                    "name": rs_name,
                    "labels": labels,
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": deployment,
                            "uid": owner_deployment["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": PER_RS,
                    "selector": {"matchLabels": labels},
                    "template": template,
                },
            },
            namespace=NAMESPACE,
        )
        owner = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": rs_name,
            "uid": rs["metadata"]["uid"],
            "controller": True,
        }
        for i in range(min(PER_RS, pods - k * PER_RS)):
            name = f"{rs_name}-{i:04d}"
            store.create(
                PODS,
                {
                    "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
                    "spec": {
                        "nodeName": "node-1",
                        "imagePullSecrets": [{"name": "gitea-credentials"}],
                        "containers": [{"name": "app", "image": image}],
                    },
                },
                namespace=NAMESPACE,
            )
            status = _running_status("app", image, True, stamp)
            store.mutate(PODS, NAMESPACE, name, _set_status(status), subresource="status")
            names.append(name)
    return names


def _good_tag() -> str:
    from sandbox.env import SERVICES

    return SERVICES[0].current


def _set_status(status: dict[str, Any]) -> Any:
    def apply(pod: dict[str, Any]) -> None:
        pod["status"] = status

    return apply


def _set_image(image: str) -> Any:
    def apply(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"][0]["image"] = image

    return apply


def _flap(pod: dict[str, Any]) -> None:
    status = pod["status"]
    ready = not status["containerStatuses"][0]["ready"]
    status["containerStatuses"][0]["ready"] = ready
    for condition in status["conditions"]:
        condition["status"] = "True" if ready else "False"


async def churn(env: BenchEnv, names: list[str], *, rate: float, stop: asyncio.Event) -> int:
    """Flap pod readiness at `rate` updates/s until `stop`; returns updates written."""
    store = env.cluster.store
    written = 0
    started = time.monotonic()
    cycle = _cycle(names)
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        for _ in range(min(due - written, int(rate))):  # bounded catch-up per tick
            store.mutate(PODS, NAMESPACE, next(cycle), _flap, subresource="status")
            written += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.01):
                await stop.wait()
    return written


def _cycle(names: list[str]) -> Iterator[str]:
    while True:
        yield from names


def _alerts(slack: LocalSlack) -> list[float]:
    return [
        c.at
        for c in slack.calls_to("chat.postMessage")
        if c.params.get("channel") == ALERT_CHANNEL and not c.params.get("thread_ts")
    ]


def _failing_status(kind: str, image: str) -> dict[str, Any]:
    """The status of a pod failing with `kind` on `image`."""
    container: dict[str, Any] = {
        "name": "app",
        "image": image,
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
    }
    status: dict[str, Any] = {"phase": "Pending", "containerStatuses": [container]}
    if kind == "pull":
        error = f"rpc error: code = NotFound desc = {image}: not found"
        container["state"] = {
            "waiting": {
                "reason": "ErrImagePull",
                "message": f'Failed to pull image "{image}": {error}',
            }
        }
    elif kind in ("crash", "oom"):
        ended = (
            {"exitCode": 137, "reason": "OOMKilled"}
            if kind == "oom"
            else {"exitCode": 1, "reason": "Error"}
        )
        status["phase"] = "Running"
        container.update(
            imageID=f"{image}@sha256:" + "0" * 64,
            restartCount=3,
            state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            lastState={"terminated": ended},
        )
    else:
        message = (
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
            "available: 3 No preemption victims found for incoming pod."
        )
        container["state"] = {"waiting": {"reason": "ContainerCreating"}}
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": message}
        ]  # fmt: skip
    return status


async def probe(
    env: BenchEnv, slack: LocalSlack, pod: str, n: int, *, within_s: float, kind: str = "pull"
) -> float:
    """Make `pod` fail as `kind` (a missing tag by default); ms until the alert reached
    Slack (nan: none)."""
    store = env.cluster.store
    good = f"{env.repository('api')}:{_good_tag()}"
    bad = f"{env.repository('api')}:{kind}-{n}"
    before = len(_alerts(slack))
    store.mutate(PODS, NAMESPACE, pod, _set_image(bad))
    sent = time.monotonic()
    store.mutate(
        PODS, NAMESPACE, pod, _set_status(_failing_status(kind, bad)), subresource="status"
    )
    arrived = await wait_for(lambda: len(_alerts(slack)) > before, within_s=within_s)
    latency = (_alerts(slack)[before] - sent) * 1000 if arrived else float("nan")
    stamp = env.cluster.clock.timestamp()
    store.mutate(PODS, NAMESPACE, pod, _set_image(good))
    status = _running_status("app", good, True, stamp)
    store.mutate(PODS, NAMESPACE, pod, _set_status(status), subresource="status")
    return latency


async def measure(
    directory: Path,
    pods: int,
    *,
    rate: float,
    window_s: float,
    probes_per_s: float = 2.0,
    profile: Path | None = None,
    profile_startup: bool = False,
) -> SizeResult:
    """One size (see the module docstring); `profile`: py-spy records Deckhand's window."""
    async with (
        BenchEnv(directory, speed=1.0, api_only=True) as env,
        open_slack() as slack,
    ):
        env.write_config(grace_s=0, rate_limit_per_minute=100_000)
        began = time.monotonic()
        names = populate(env, pods)
        populate_s = time.monotonic() - began
        probe_pods, churned = names[:PROBES], names[PROBES:] or names
        launched = time.monotonic()
        spy: asyncio.subprocess.Process | None = None
        async with deckhand_process(env, slack, directory / "deckhand.log") as deckhand:
            if profile and profile_startup:
                spy = await _py_spy(deckhand.pid, profile, 40)
            # Warm-up: the first alert proves the initial list is done and the watch is live.
            warm = await probe(env, slack, probe_pods[0], 0, within_s=180)
            if warm != warm:  # nan
                raise RuntimeError(f"no warm-up alert at {pods} pods; see {directory}")
            first_alert_s = time.monotonic() - launched
            await asyncio.sleep(1.0)
            rss_synced = rss_mb(deckhand.pid)
            stop = asyncio.Event()
            cpu_before = cpu_s(deckhand.pid)
            window_start = time.monotonic()
            churner = asyncio.create_task(churn(env, churned, rate=rate, stop=stop))
            lag_ms: list[float] = []
            lagger = asyncio.create_task(loop_lag(lag_ms, stop))
            if profile and not profile_startup:
                spy = await _py_spy(deckhand.pid, profile, window_s)
            latencies: list[float] = []
            by_kind: dict[str, list[float]] = {k: [] for k in KINDS[1:]}
            missed = 0
            try:
                n = 1
                while time.monotonic() - window_start < window_s:
                    pod = probe_pods[n % len(probe_pods)]
                    kind = KINDS[n % len(KINDS)]
                    ms = await probe(env, slack, pod, n, within_s=10, kind=kind)
                    if ms != ms:
                        missed += 1
                    elif kind == "pull":
                        latencies.append(ms)
                    else:
                        by_kind[kind].append(ms)
                    n += 1
                    await asyncio.sleep(1 / probes_per_s)
            finally:
                stop.set()
                updates = await churner
                await lagger
                if spy is not None:
                    async with asyncio.timeout(30):
                        await spy.wait()
            window = time.monotonic() - window_start
            cpu = cpu_s(deckhand.pid) - cpu_before
            rss_end = rss_mb(deckhand.pid)
    return SizeResult(
        pods,
        latencies,
        rss_synced,
        rss_end,
        cpu,
        updates,
        window,
        populate_s,
        missed,
        first_alert_s,
        lag_ms,
        by_kind,
    )


async def loop_lag(samples: list[float], stop: asyncio.Event, *, every_s: float = 0.05) -> None:
    """How late this event loop wakes from a `every_s` sleep, in ms, until `stop`."""
    while not stop.is_set():
        began = time.monotonic()
        await asyncio.sleep(every_s)
        samples.append((time.monotonic() - began - every_s) * 1000)


async def _py_spy(pid: int, output: Path, seconds: float) -> asyncio.subprocess.Process:
    """py-spy (PyPI; `BENCH_PY_SPY` names the binary) recording `pid` for `seconds`."""
    binary = os.environ.get("BENCH_PY_SPY", "py-spy")
    return await asyncio.create_subprocess_exec(
        binary,
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-o",
        str(output),
        "--format",
        {".json": "speedscope", ".txt": "raw"}.get(output.suffix, "flamegraph"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def figures(
    result: SizeResult, *, section: str, rate: float, memory_section: str | None = None
) -> list[Figure]:
    n = len(result.latencies_ms)
    churn_note = f"{result.updates / result.window_s:.0f} updates/s achieved (target {rate:g})"
    lat = result.latencies_ms
    kinds = [
        Figure(
            section,
            f"{result.pods:,} pods: {kind} alert latency p99",
            quantile(values, 0.99) if values else None,
            "ms wall",
            note=f"n={len(values)}, p50 {median(values):.0f} ms" if values else "n=0",
        )
        for kind, values in (result.by_kind or {}).items()
    ]
    return [*kinds, *_figures(result, section=section, lat=lat, n=n, churn_note=churn_note,
                              memory_section=memory_section)]  # fmt: skip


def _figures(
    result: SizeResult,
    *,
    section: str,
    lat: list[float],
    n: int,
    churn_note: str,
    memory_section: str | None,
) -> list[Figure]:
    return [
        Figure(
            section,
            f"{result.pods:,} pods: alert latency p50",
            median(lat) if lat else None,
            "ms wall",
            note=f"n={n}, missed (>10 s)={result.missed}; {churn_note}",
        ),
        Figure(
            section,
            f"{result.pods:,} pods: alert latency p99",
            quantile(lat, 0.99) if lat else None,
            "ms wall",
            note=f"harness loop lag p99 {quantile(result.lag_ms, 0.99):.0f} ms"
            if result.lag_ms
            else "",
        ),
        Figure(
            section,
            f"{result.pods:,} pods: start → first alert",
            result.first_alert_s,
            "s wall",
            note="process start, leader, initial list, first alert",
        ),
        Figure(
            section,
            f"{result.pods:,} pods: CPU per 1,000 watch events",
            result.cpu_s / result.updates * 1000 if result.updates else None,
            "CPU s",
            note=f"{result.cpu_s:.1f} CPU s over {result.window_s:.0f} s wall",
        ),
        Figure(
            memory_section or section,
            f"{result.pods:,} pods: RSS of deckhand run",
            max(result.rss_synced_mb, result.rss_end_mb),
            "MB",
            note=f"after sync {result.rss_synced_mb:.0f} MB, after churn {result.rss_end_mb:.0f}",
        ),
    ]


def growth_rows(results: list[SizeResult]) -> list[dict[str, float | int | None]]:
    rows: list[dict[str, float | int | None]] = []
    for r in sorted(results, key=lambda r: r.pods):
        lat = r.latencies_ms
        cpu = round(r.cpu_s / r.updates * 1000, 3) if r.updates else None
        rows.append(
            {
                "pods": r.pods,
                "alert_p50_ms": round(median(lat), 1) if lat else None,
                "alert_p99_ms": round(quantile(lat, 0.99), 1) if lat else None,
                "rss_mb": round(max(r.rss_synced_mb, r.rss_end_mb), 1),
                "cpu_s_per_1000_events": cpu,
                "updates_per_s": round(r.updates / r.window_s),
                "first_alert_s": round(r.first_alert_s, 1),
                "harness_lag_p99_ms": round(quantile(r.lag_ms, 0.99)) if r.lag_ms else None,
                **{
                    f"{kind}_alert_p99_ms": round(quantile(values, 0.99), 1) if values else None
                    for kind, values in (r.by_kind or {}).items()
                },
            }
        )
    return rows


def growth_table(results: list[SizeResult]) -> str:
    """The cost curve: one line per size."""
    lines = [
        "| pods | alert p50 (ms wall) | alert p99 (ms wall) | RSS (MB) | CPU s / 1,000 events "
        "| start → first alert (s wall) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in growth_rows(results):
        lines.append(
            f"| {row['pods']:,} | {row['alert_p50_ms']} | {row['alert_p99_ms']} | "
            f"{row['rss_mb']} | {row['cpu_s_per_1000_events']} | {row['first_alert_s']} |"
        )
    return "\n".join(lines)
