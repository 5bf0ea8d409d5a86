"""`deckhand run` as real processes against an API that goes away, and a SIGKILL.

Each Deckhand is the `deckhand` console script (HTTP mode, JSON logs, leader election)
reaching the sandbox cluster through `sandbox.faults.FaultyProxy` (its kubeconfig
points at the proxy); LocalSlack and the cluster run in this process. `worker` pods get
Ready only after `READY_AFTER_S` sandbox seconds, so a rollout is still going when the
fault starts.

Covers:
- SIGKILL mid-rollout (no shutdown path at all: the leader Lease and the deploy lock
  stay taken), the rollout finishing in the cluster meanwhile, a new process: the verdict
  reaches the ORIGINAL message from the sweep the new process runs the moment it leads
  (`bot.leader.LeaderWork`; its interval is set longer than any test, so no later round
  can be the one), "Succeeded" once, the record final, the lock free.
- The API unreachable for `OUTAGE_S` (every connection reset, then refused) while the
  rollout completes: the message says "lost contact with the cluster, retrying (…)"
  meanwhile, then "Succeeded" on the same message once the API answers; the record is
  final, the lock free, and the next deploy is accepted and succeeds.
- The same outage outliving `rollout.max_duration_s`: at the deadline the message says
  "unknown: couldn't reach the cluster for …" (recorded once the cluster answers), then
  ends "Unknown", no Roll back button, the record `unknown`, the lock free.
The measured latencies are printed (`-s`) for the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.cluster.resources import CONFIGMAPS, DEPLOYMENTS, LEASES
from sandbox.env import (
    ALERT_CHANNEL,
    APPROVER,
    CHANNEL,
    DECKHAND_NAMESPACE,
    DEVS_GROUP,
    ENVIRONMENTS,
    REQUESTER,
    SERVICES,
    SandboxEnv,
    SeedService,
)
from sandbox.faults import FaultyProxy, point_kubeconfig
from sandbox.process import DeckhandProcess
from sandbox.slack import LocalSlack, SlackSender
from sandbox.slack.store import StoredMessage

pytestmark = pytest.mark.slow

WORKER = SERVICES[1]
SIGNING_SECRET = "outage-test-signing-secret"
READY_AFTER_S = 160
"""Sandbox seconds before a `worker` pod is Ready: 8 s of wall time at speed 20."""
OUTAGE_S = 30.0
"""Wall seconds the API stays unreachable."""
NEVER_S = "86400"
"""A sweep interval no test outlives: a sweep round after it can't have happened."""


@dataclass
class OutageEnv(SandboxEnv):
    """The seeded team; `worker` pods are slow to get Ready; the rollout limits are set."""

    max_duration_s: int = 6000

    def deployment(self, service: SeedService, *, tag: str | None = None) -> dict[str, Any]:
        obj = super().deployment(service, tag=tag)
        if service.name == WORKER.name:
            notes = {"sandbox.deckhand.dev/ready-after-seconds": str(READY_AFTER_S)}
            obj["spec"]["template"]["metadata"]["annotations"] = notes
        return obj

    def config(self) -> dict[str, Any]:
        config = super().config()
        config["rollout"] = {"readiness_timeout_s": 6000, "max_duration_s": self.max_duration_s}
        return config


@dataclass
class World:
    env: SandboxEnv
    slack: LocalSlack
    sender: SlackSender
    proxy: FaultyProxy
    directory: Path
    runs: list[DeckhandProcess] = field(default_factory=list)

    async def deckhand(self, **overrides: str) -> DeckhandProcess:
        kubeconfig = point_kubeconfig(
            self.env.kubeconfig, self.proxy.url, into=self.directory / "proxied-kubeconfig"
        )
        run = DeckhandProcess(
            self.env,
            self.slack,
            self.directory / f"deckhand-{len(self.runs)}.log",
            signing_secret=SIGNING_SECRET,
            overrides={
                "DECKHAND_KUBECONFIG": str(kubeconfig),
                "DECKHAND_SLACK_UPDATE_INTERVAL_S": "0.2",
                "DECKHAND_LEADER_LEASE_DURATION_S": "4",
                "DECKHAND_LEADER_RENEW_DEADLINE_S": "3",
                "DECKHAND_LOG_LEVEL": "DEBUG",
                **overrides,
            },
        )
        self.runs.append(run)
        await run.start(within_s=60)
        self.sender.events_url = run.events_url
        return run

    async def until(
        self, predicate: Callable[[], bool], *, within_s: float, cluster: bool = False
    ) -> None:
        """Until `predicate()` holds, re-checked after every Web API call Slack answers
        (`cluster`: after every change in the sandbox cluster)."""
        if not cluster:
            await self.slack.wait_until(predicate, within_s=within_s)
            return
        await self.env.cluster.store.wait_until(predicate, within_s=within_s)

    def messages(self) -> list[StoredMessage]:
        return [m for m in self.slack.messages(CHANNEL) if m.thread_ts is None]

    async def deploy(self, tag: str) -> StoredMessage:
        before = len(self.messages())
        status, _ = await self.sender.slash_command(
            f"worker {tag}", user_id=REQUESTER, channel_id=CHANNEL
        )
        assert status == 200
        await self.until(lambda: len(self.messages()) > before, within_s=15)
        return self.messages()[-1]

    def records(self) -> list[dict[str, Any]]:
        found, _ = self.env.cluster.store.list(
            CONFIGMAPS, DECKHAND_NAMESPACE, label_selector="deckhand.dev/record=deploy"
        )
        return found

    def phase_of(self, message: StoredMessage) -> str:
        (record,) = [r for r in self.records() if r["data"].get("slack_ts") == message.ts]
        return str(record["data"]["phase"])

    def lock_holder(self) -> str:
        try:
            lease = self.env.cluster.store.get(
                LEASES, DECKHAND_NAMESPACE, "deckhand-lock-worker-staging"
            )
        except Exception:  # never taken: free
            return ""
        return str((lease.get("spec") or {}).get("holderIdentity") or "")

    def worker(self) -> dict[str, Any]:
        return self.env.cluster.store.get(DEPLOYMENTS, ENVIRONMENTS["staging"], WORKER.name)

    def patched(self, tag: str) -> Callable[[], bool]:
        def check() -> bool:
            containers = self.worker()["spec"]["template"]["spec"]["containers"]
            return tag in str(containers[0]["image"])

        return check

    def rolled_out(self, tag: str) -> Callable[[], bool]:
        def check() -> bool:
            status = self.worker().get("status") or {}
            return (
                self.patched(tag)()
                and status.get("updatedReplicas") == 1
                and status.get("availableReplicas") == 1
                and status.get("replicas") == 1
            )

        return check


async def _world(tmp_path: Path, env: SandboxEnv) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(env)
        slack = await stack.enter_async_context(LocalSlack())
        for user, name in ((REQUESTER, "alice"), (APPROVER, "bob")):
            slack.add_user(user, name)
        slack.add_usergroup(DEVS_GROUP, "devs", [])
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(ALERT_CHANNEL, "alerts")
        slack.invite_bot(CHANNEL, ALERT_CHANNEL)
        sender = await stack.enter_async_context(SlackSender("", SIGNING_SECRET, slack=slack))
        proxy = await stack.enter_async_context(FaultyProxy("127.0.0.1", env.cluster.port))
        found = World(env, slack, sender, proxy, tmp_path)
        try:
            yield found
        finally:
            for run in found.runs:
                await run.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for found in _world(tmp_path, OutageEnv(tmp_path / "env")):
        yield found


@pytest.fixture
async def short_world(tmp_path: Path) -> AsyncIterator[World]:
    """`max_duration_s` 200 sandbox seconds: 10 s of wall time, well inside the outage."""
    async for found in _world(tmp_path, OutageEnv(tmp_path / "env", max_duration_s=200)):
        yield found


def shown(message: StoredMessage) -> str:
    """Everything the message shows now: its fallback text and its blocks' texts."""
    return message.text + "\n" + json.dumps(message.blocks)


def states(message: StoredMessage) -> list[str]:
    return [text for text, _ in message.history] + [message.text]


def has_buttons(message: StoredMessage) -> bool:
    return any(b.get("type") == "actions" for b in message.blocks)


async def test_sigkill_mid_rollout_then_restart_reports_on_leading(world: World) -> None:
    """The verdict comes from the sweep run the moment leadership is gained: with a
    sweep interval no test outlives, there is no later round it could come from (the
    restart → verdict latency is printed; the bound of 30 s is only a hang guard)."""
    first = await world.deckhand()
    tag = WORKER.good[2]
    message = await world.deploy(tag)
    await world.until(world.patched(tag), within_s=20, cluster=True)
    assert world.phase_of(message) == "rolling_out"
    assert first.process is not None
    first.process.kill()  # SIGKILL: no shutdown path, nothing released
    await first.process.wait()
    await world.until(world.rolled_out(tag), within_s=30, cluster=True)
    assert "Succeeded" not in message.text
    # Returns once it holds the leader Lease.
    second = await world.deckhand(DECKHAND_REPORT_RETRY_INTERVAL_S=NEVER_S)
    leading = time.monotonic()
    await world.until(lambda: "Succeeded" in message.text, within_s=30)
    print(f"\nrestart -> verdict after leadership: {time.monotonic() - leading:.2f} s")
    assert sum("Succeeded" in text for text in states(message)) == 1
    assert len(world.messages()) == 1
    assert world.phase_of(message) == "succeeded"
    await world.until(lambda: world.lock_holder() == "", within_s=10, cluster=True)
    await second.terminate(within_s=10)


async def test_api_outage_during_a_rollout_that_completes_ends_in_success(world: World) -> None:
    await world.deckhand()
    tag, after = WORKER.good[2], WORKER.good[3]
    message = await world.deploy(tag)
    await world.until(world.patched(tag), within_s=20, cluster=True)
    await world.until(lambda: "updated" in shown(message), within_s=15)  # being followed
    cut_at = time.monotonic()
    await world.proxy.cut("reset")
    await world.until(lambda: "lost contact with the cluster" in shown(message), within_s=15)
    await world.proxy.cut("refuse")
    await world.until(world.rolled_out(tag), within_s=30, cluster=True)
    assert "Succeeded" not in message.text
    assert "Failed" not in message.text
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))  # the outage lasts
    assert "Failed" not in message.text
    await world.proxy.restore()
    restored = time.monotonic()
    await world.until(lambda: "Succeeded" in message.text, within_s=30)
    print(
        f"\noutage {restored - cut_at:.1f} s; API back -> Succeeded in "
        f"{time.monotonic() - restored:.2f} s"
    )
    assert not any("Failed" in text for text in states(message))
    assert len(world.messages()) == 1
    assert world.phase_of(message) == "succeeded"
    await world.until(lambda: world.lock_holder() == "", within_s=10, cluster=True)
    following = await world.deploy(after)
    await world.until(lambda: "Succeeded" in following.text, within_s=40)


async def test_api_outage_past_the_deadline_is_unknown_not_failed(short_world: World) -> None:
    world = short_world
    await world.deckhand()
    tag = WORKER.good[2]
    message = await world.deploy(tag)
    await world.until(world.patched(tag), within_s=20, cluster=True)
    await world.until(lambda: "updated" in shown(message), within_s=15)  # being followed
    cut_at = time.monotonic()
    await world.proxy.cut("reset")
    await world.until(lambda: "lost contact with the cluster" in shown(message), within_s=15)
    await world.proxy.cut("refuse")
    # The deadline passes out of contact: said at once, final once the record is written.
    await world.until(lambda: "as soon as the cluster answers" in shown(message), within_s=25)
    deadline_at = time.monotonic()
    assert "Unknown" not in message.text
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))  # the outage lasts
    await world.proxy.restore()
    restored = time.monotonic()
    await world.until(lambda: "Unknown" in message.text, within_s=30)
    print(f"\ncut -> unknown said at the deadline: {deadline_at - cut_at:.1f} s")
    print(
        f"\noutage {restored - cut_at:.1f} s past the deadline; API back -> Unknown in "
        f"{time.monotonic() - restored:.2f} s"
    )
    assert "couldn't reach the cluster for" in shown(message)
    assert not any("Failed" in text for text in states(message))
    assert not has_buttons(message)  # no Roll back: nothing says it failed
    assert world.phase_of(message) == "unknown"
    await world.until(lambda: world.lock_holder() == "", within_s=10, cluster=True)
