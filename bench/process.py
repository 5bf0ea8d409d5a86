"""`deckhand run` as a process on the seeded sandbox: idle RSS, slash-command acks, API economy.

One real `deckhand run` (HTTP mode, leader, alerts on) against the example team
(`BenchEnv`, controllers on) and LocalSlack:

- idle RSS: VmRSS a few seconds after it leads, before any command (the highest of
  five samples, one a second);
- ack latency: signed `/deploy status api` slash commands POSTed to its
  `/slack/events` through the real Bolt HTTP stack, one at a time and 20 at once;
  latency = POST sent → HTTP response (Slack's limit is 3 s);
- API economy of one successful `/deploy api <tag>` (staging): Kubernetes requests
  Deckhand made (the leader Lease's renewals are counted apart), Slack Web API calls
  and registry requests, from the command to the final message plus its thread reply.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from bench.report import Figure, median, quantile
from bench.world import SIGNING_SECRET, BenchEnv, deckhand_process, open_slack, rss_mb, wait_for
from sandbox.cluster.resources import DEPLOYMENTS
from sandbox.env import CHANNEL, REQUESTER, SERVICES
from sandbox.slack import LocalSlack, SlackSender

SLACK_BUDGET = 6
"""Slack Web API calls a successful single-service deploy may cost (the issue's target)."""
FINAL = ("Succeeded", "Failed", "Refused", "rolled back")


async def ack_latencies(
    sender: SlackSender, *, concurrency: int, commands: int, within_s: float = 120.0
) -> tuple[list[float], list[int]]:
    """`commands` slash commands in batches of `concurrency`; ms per ack and HTTP statuses."""
    latencies: list[float] = []
    statuses: list[int] = []

    async def one() -> None:
        began = time.monotonic()
        status, _ = await sender.slash_command("status api", user_id=REQUESTER, channel_id=CHANNEL)
        latencies.append((time.monotonic() - began) * 1000)
        statuses.append(status)

    async with asyncio.timeout(within_s):
        for _ in range(max(1, commands // concurrency)):
            await asyncio.gather(*(one() for _ in range(concurrency)))
    return latencies, statuses


def _final(slack: LocalSlack, count: int) -> bool:
    tops = [m for m in slack.messages(CHANNEL) if m.thread_ts is None]
    if len(tops) < count:
        return False
    message = tops[count - 1]
    text = " ".join(str(b.get("text", "")) for b in message.blocks) + message.text
    return any(word in text for word in FINAL) and bool(message.replies)


async def deploy_economy(
    env: BenchEnv, slack: LocalSlack, sender: SlackSender
) -> tuple[dict[str, int], Counter[str], Counter[str], bool]:
    """One `/deploy api <good tag>`: (totals, Kubernetes routes, Slack methods, succeeded)."""
    tag = SERVICES[0].good[1]
    count = len([m for m in slack.messages(CHANNEL) if m.thread_ts is None]) + 1
    calls_before = len(slack.calls)
    registry_before = len(env.registry.requests)
    routes_before = Counter(env.requests.by_route)
    store = env.cluster.store

    def generation() -> int:
        return int(store.get(DEPLOYMENTS, "honeydue-staging", "api")["metadata"]["generation"])

    first = generation()
    await sender.slash_command(f"api {tag}", user_id=REQUESTER, channel_id=CHANNEL)
    # Until the patch, every registry request is Deckhand's; after it the kubelet pulls too.
    await wait_for(lambda: generation() > first, within_s=60)
    registry = len(env.registry.requests) - registry_before
    finished = await wait_for(lambda: _final(slack, count), within_s=120, step_s=0.05)
    await asyncio.sleep(1.0)  # a late chat.update or thread reply still counts
    routes = Counter(env.requests.by_route)
    routes.subtract(routes_before)
    routes = +routes
    methods = Counter(c.method for c in slack.calls[calls_before:])
    leases = sum(n for route, n in routes.items() if "leases/deckhand-leader" in route)
    message = [m for m in slack.messages(CHANNEL) if m.thread_ts is None][count - 1]
    succeeded = "Succeeded" in " ".join(str(b.get("text", "")) for b in message.blocks)
    # The live message's edits: the coalescing promise is at most one per second.
    edits = sorted(
        c.at
        for c in slack.calls[calls_before:]
        if c.method == "chat.update" and c.params.get("ts") == message.ts
    )
    peak = max((sum(1 for t in edits if start <= t < start + 1.0) for start in edits), default=0)
    totals = {
        "kubernetes": sum(routes.values()) - leases,
        "lease": leases,
        "slack": sum(methods.values()),
        "registry": registry,
        "edits": len(edits),
        "peak_edits_per_s": peak,
    }
    return totals, routes, methods, finished and succeeded


async def run(
    directory: Path, *, speed: float = 100.0, commands: int = 100
) -> tuple[list[Figure], dict[str, object]]:
    figures: list[Figure] = []
    details: dict[str, object] = {}
    async with (
        BenchEnv(directory, speed=speed) as env,
        open_slack() as slack,
        deckhand_process(env, slack, directory / "deckhand.log") as deckhand,
    ):
        samples = []
        for _ in range(5):
            await asyncio.sleep(1.0)
            samples.append(rss_mb(deckhand.pid))
        idle = max(samples)
        figures.append(
            Figure(
                "5 memory",
                "RSS of deckhand run, idle (seeded team, 12 pods)",
                idle,
                "MB",
                note=f"target < 80 MB: {'met' if idle < 80 else 'MISSED'}",
            )
        )
        async with SlackSender(deckhand.events_url, SIGNING_SECRET, slack=slack) as sender:
            await ack_latencies(sender, concurrency=1, commands=5)  # warm-up
            for concurrency in (1, 20):
                lat, statuses = await ack_latencies(
                    sender, concurrency=concurrency, commands=commands
                )
                bad = sum(1 for s in statuses if s != 200)
                figures.append(
                    Figure(
                        "3 slash ack",
                        f"{concurrency} concurrent: ack p50",
                        median(lat),
                        "ms wall",
                        note=f"n={len(lat)}, non-200: {bad}",
                    )
                )
                p99 = quantile(lat, 0.99)
                figures.append(
                    Figure(
                        "3 slash ack",
                        f"{concurrency} concurrent: ack p99",
                        p99,
                        "ms wall",
                        note=f"Slack's limit 3,000 ms: {'met' if p99 < 3000 else 'MISSED'}",
                    )
                )
            await asyncio.sleep(2.0)  # the status replies finish
            totals, routes, methods, ok = await deploy_economy(env, slack, sender)
        details["deploy_kubernetes_routes"] = dict(routes)
        details["deploy_slack_methods"] = dict(methods)
        outcome = "succeeded" if ok else "DID NOT SUCCEED"
        figures += [
            Figure(
                "6 API economy",
                "Kubernetes requests per deploy",
                totals["kubernetes"],
                "requests",
                note=f"1 deploy ({outcome}); leader Lease requests meanwhile "
                f"(not counted): {totals['lease']}",
            ),
            Figure(
                "6 API economy",
                "Slack Web API calls per deploy",
                totals["slack"],
                "calls",
                note=f"target ≤ {SLACK_BUDGET}: "
                f"{'met' if totals['slack'] <= SLACK_BUDGET else 'MISSED'}; "
                + ", ".join(f"{m} {n}" for m, n in sorted(methods.items())),
            ),
            Figure(
                "6 API economy",
                "highest update rate on one Slack message",
                totals["peak_edits_per_s"],
                "updates/s",
                note=f"most chat.update calls within any 1 s on the deploy's message "
                f"({totals['edits']} edits in all; coalesced to ≤ 1/s)",
            ),
            Figure(
                "6 API economy",
                "registry requests per deploy (Deckhand's, before the patch)",
                totals["registry"],
                "requests",
                note="cold client: the first deploy of this process",
            ),
        ]
    return figures, details
