"""`deckhand run` as a real process: SIGTERM mid-rollout, and the next start finishes it.

Deckhand runs as the `deckhand` console script (HTTP mode, `bot.app.main`: JSON logs at
DEBUG, metrics, leader election) against a `SandboxEnv` (cluster + Gitea registry)
and a `LocalSlack` in this process; signed slash commands reach it over loopback.

Covers:
- SIGTERM while `worker` rolls out (its pods boot for `sandbox.deckhand.dev/boot-seconds`
  inside their startup probe's budget, so the rollout takes a while): the process
  exits 0 within its shutdown grace, the deploy record (ConfigMap in `deckhand`, label
  `deckhand.dev/record=deploy`) is still `rolling_out` and the message not final; the
  next `deckhand run` resumes it and the SAME message reaches "Succeeded" exactly once;
  its `/metrics` counts that deploy once (`result="succeeded"`) and says it leads.
- `/metrics` of a process after an ordinary deploy:
  `deckhand_deploys_total{env="staging",result="succeeded"} 1.0`.
- Both processes' log files (JSON lines) hold no token or secret.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandbox.cluster.resources import CONFIGMAPS, DEPLOYMENTS
from sandbox.env import (
    ALERT_CHANNEL,
    APPROVER,
    CHANNEL,
    DECKHAND_NAMESPACE,
    DEVS_GROUP,
    ENVIRONMENTS,
    OUTSIDER,
    REQUESTER,
    SERVICES,
    SandboxEnv,
    SeedService,
)
from sandbox.process import DeckhandProcess
from sandbox.slack import LocalSlack, SlackSender
from sandbox.slack.store import StoredMessage

pytestmark = pytest.mark.slow

API, WORKER = SERVICES[0], SERVICES[1]
SIGNING_SECRET = "sigterm-test-signing-secret"
READY_AFTER_S = 160
"""Sandbox seconds a `worker` pod boots (then its startup probe passes): 8 s wall at speed 20."""
GRACE_S = 3.0
START_WITHIN_S = 60.0
REPORT_RETRY_INTERVAL_S = 0.5


@dataclass
class SlowWorkerEnv(SandboxEnv):
    """The seeded team, except that `worker` pods take `READY_AFTER_S` to get Ready (and
    `rollout.readiness_timeout_s` waits for that)."""

    def deployment(self, service: SeedService, *, tag: str | None = None) -> dict[str, Any]:
        obj = super().deployment(service, tag=tag)
        if service.name == WORKER.name:
            notes = {"sandbox.deckhand.dev/boot-seconds": str(READY_AFTER_S)}
            obj["spec"]["template"]["metadata"]["annotations"] = notes
            # A startup budget (30 × 10 s) that covers the slow start: Deckhand waits it out
            # instead of failing at `rollout.readiness_timeout_s` (60 s in the seeded config).
            (container,) = obj["spec"]["template"]["spec"]["containers"]
            container["startupProbe"] = {
                "exec": {"command": ["/healthcheck"]},
                "periodSeconds": 10,
                "failureThreshold": 30,
            }
        return obj

    def config(self) -> dict[str, Any]:
        # Slow but healthy: the readiness rule (cluster time) must outwait the boot.
        config = super().config()
        config["rollout"]["readiness_timeout_s"] = READY_AFTER_S * 4
        return config


@dataclass
class World:
    env: SandboxEnv
    slack: LocalSlack
    sender: SlackSender
    directory: Path
    runs: list[DeckhandProcess] = field(default_factory=list)

    async def deckhand(self) -> DeckhandProcess:
        run = DeckhandProcess(
            self.env,
            self.slack,
            self.directory / f"deckhand-{len(self.runs)}.log",
            signing_secret=SIGNING_SECRET,
            overrides={
                "DECKHAND_SLACK_UPDATE_INTERVAL_S": "0.2",
                "DECKHAND_SHUTDOWN_GRACE_S": str(GRACE_S),
                "DECKHAND_REPORT_RETRY_INTERVAL_S": str(REPORT_RETRY_INTERVAL_S),
                "DECKHAND_LOG_LEVEL": "DEBUG",
            },
        )
        self.runs.append(run)
        await run.start(within_s=START_WITHIN_S)
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

    async def first_message(self) -> StoredMessage:
        await self.until(lambda: bool(self.messages()), within_s=15)
        return self.messages()[0]

    def record(self) -> dict[str, Any]:
        """The one deploy record's ConfigMap ({} while there is none)."""
        found, _ = self.env.cluster.store.list(
            CONFIGMAPS, DECKHAND_NAMESPACE, label_selector="deckhand.dev/record=deploy"
        )
        assert len(found) <= 1, found
        return found[0] if found else {}

    def image_of(self, service: str) -> str:
        obj = self.env.cluster.store.get(DEPLOYMENTS, ENVIRONMENTS["staging"], service)
        return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])

    def secrets(self) -> dict[str, str]:
        token = self.env.token
        found = {
            "bot token": self.slack.bot_token,
            "signing secret": SIGNING_SECRET,
            "registry token": token,
            "base64 user:token": base64.b64encode(f"admin:{token}".encode()).decode(),
        }
        for n, issued in enumerate(self.env.registry.issued_tokens()):
            found[f"issued Bearer token #{n}"] = issued
        return found


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        env = await stack.enter_async_context(SlowWorkerEnv(tmp_path / "env"))
        slack = await stack.enter_async_context(LocalSlack())
        for user, name in ((REQUESTER, "alice"), (APPROVER, "bob"), (OUTSIDER, "mallory")):
            slack.add_user(user, name)
        slack.add_usergroup(DEVS_GROUP, "devs", [])
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(ALERT_CHANNEL, "alerts")
        slack.invite_bot(CHANNEL, ALERT_CHANNEL)
        sender = await stack.enter_async_context(SlackSender("", SIGNING_SECRET, slack=slack))
        found = World(env, slack, sender, tmp_path)
        try:
            yield found
        finally:
            for run in found.runs:
                await run.close()


def phase_of(record: dict[str, Any]) -> str:
    return str((record.get("data") or {}).get("phase", ""))


def assert_no_secret_logged(world: World) -> None:
    logged = "\n".join(run.log_path.read_text(errors="replace") for run in world.runs)
    lines = [line for line in logged.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), "deckhand run logs JSON lines"
    assert any(json.loads(line)["level"] == "DEBUG" for line in lines)
    leaked = [name for name, value in world.secrets().items() if value in logged]
    assert not leaked, f"found in deckhand run's log: {leaked}"


async def test_sigterm_mid_rollout_is_resumed_by_the_next_start(world: World) -> None:
    first = await world.deckhand()
    tag = WORKER.good[2]
    status, _ = await world.sender.slash_command(
        f"worker {tag}", user_id=REQUESTER, channel_id=CHANNEL
    )
    assert status == 200
    message = await world.first_message()
    # Mid-rollout: recorded AND patched (a SIGTERM between the two is another story).
    await world.until(lambda: tag in world.image_of(WORKER.name), within_s=20, cluster=True)
    assert phase_of(world.record()) == "rolling_out"

    code, took = await first.terminate(within_s=GRACE_S + 5)
    assert code == 0, first.log_path.read_text()
    assert took < GRACE_S + 3
    record = world.record()
    assert phase_of(record) == "rolling_out", record
    assert record["data"]["slack_ts"] == message.ts
    assert "Succeeded" not in message.text

    second = await world.deckhand()
    await world.until(lambda: "Succeeded" in message.text, within_s=60)
    states = [text for text, _ in message.history] + [message.text]
    assert sum("Succeeded" in text for text in states) == 1, states
    assert len(world.messages()) == 1  # the same message, no new one
    assert phase_of(world.record()) == "succeeded"
    metrics = await second.metrics()
    deploys = [line for line in metrics.splitlines() if line.startswith("deckhand_deploys_total")]
    assert deploys == ['deckhand_deploys_total{env="staging",result="succeeded"} 1.0'], deploys
    assert "deckhand_is_leader 1.0" in metrics
    await second.terminate(within_s=GRACE_S + 5)
    assert_no_secret_logged(world)


async def test_metrics_count_a_deploy(world: World) -> None:
    run = await world.deckhand()
    await world.sender.slash_command(f"api {API.good[1]}", user_id=REQUESTER, channel_id=CHANNEL)
    message = await world.first_message()
    await world.until(lambda: "Succeeded" in message.text, within_s=60)
    metrics = await run.metrics()
    deploys = [line for line in metrics.splitlines() if line.startswith("deckhand_deploys_total")]
    assert deploys == ['deckhand_deploys_total{env="staging",result="succeeded"} 1.0'], deploys
    assert 'deckhand_rollout_duration_seconds_count{env="staging"} 1.0' in metrics
    assert "deckhand_build_info{version=" in metrics
    code, _ = await run.terminate(within_s=GRACE_S + 5)
    assert code == 0
    assert_no_secret_logged(world)
