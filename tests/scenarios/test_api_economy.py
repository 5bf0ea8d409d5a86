"""The Kubernetes requests of one `/deploy api <tag>`, route by route (issue #15: at most 14).

The composed Deckhand (`tests.bot.deploys.harness`: real Bolt, leader work, alerts and
drift on) deploys `api` to staging twice; the sandbox API server counts what it answers
(`ApiServer.served`, by client and route) from the slash command until the deploy's lock
is free again. Counts, not timings: the same deploy always asks the same questions.
The leader's own Lease is counted apart (as the bench does), the periodic sweeps are set
to an hour so that none falls inside the window, and the lock's heartbeat to ten minutes,
so that no renewal does either (the bench, `bench.process`, counts them at the default
cadence).

Covers: two deploys after a first one (which shares its window with Deckhand's start and
creates the lock's Lease; a first deploy POSTs the Lease where these PUT it): the lock
taken by one PUT from the check's read, no list before any watch, no pod events read
while nothing goes wrong, one read of the Deployment (the check's: the patch carries its
resourceVersion, the follower its answer), each record and lock write one request.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from sandbox.cluster.resources import LEASES
from sandbox.env import DECKHAND_NAMESPACE, SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import DeployStack, deploy_stack

API = SERVICES[0]
BUDGET = 14
"""Kubernetes requests one successful single-service deploy may cost (issue #15)."""
LOCK = "leases/deckhand-lock-api-staging"

FOLLOW = {
    "GET deployments": 1,  # the check's read (the patch starts from it)
    f"GET {LOCK}": 1,  # the check's read (the lock is taken from it)
    "POST configmaps": 1,  # the deploy record
    "PATCH deployments": 1,
    "GET deployments watch": 1,  # each watch starts with the current state: no list
    "GET replicasets watch": 1,
    "GET pods watch": 1,  # (pod events: only once a pod shows trouble, never here)
    "PUT configmaps": 2,  # the final record with its report claim; drift's new baseline
    f"PUT {LOCK}": 2,  # taken (from the check's read), released
}


async def _long_heartbeat(env: SandboxEnv, slack: LocalSlack) -> None:
    config = env.config()
    config["deckhand"] = {**config.get("deckhand", {}), "lock_heartbeat_s": 600}
    env.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _lock_free(stack: DeployStack) -> bool:
    leases = stack.env.cluster.store.list(LEASES, DECKHAND_NAMESPACE)[0]
    lock = next((o for o in leases if o["metadata"]["name"] == LOCK.split("/")[1]), None)
    return lock is not None and not (lock.get("spec") or {}).get("holderIdentity")


def _deckhands(stack: DeployStack) -> Counter[str]:
    served = stack.env.cluster.api.served
    return Counter(
        {
            route: n
            for (agent, route), n in served.items()
            if agent == "deckhand" and "leases/deckhand-leader" not in route
        }
    )


async def _one_deploy(stack: DeployStack, tag: str, count: int) -> Counter[str]:
    before = _deckhands(stack)
    await stack.command(f"api {tag}")
    message = await stack.wait_message(count=count)
    text = await stack.wait_final(message)
    assert "Succeeded" in text, text
    await stack.env.cluster.store.wait_until(lambda: _lock_free(stack), within_s=30)
    after = _deckhands(stack)
    after.subtract(before)
    return +after


async def test_a_deploy_costs_at_most_14_kubernetes_requests(tmp_path: Path) -> None:
    async with deploy_stack(
        tmp_path / "env",
        prepare=_long_heartbeat,
        report_retry_interval_s=3600.0,
        approval_expiry_interval_s=3600.0,
    ) as stack:
        # The first deploy shares its window with Deckhand's start (the alert view's and
        # drift's first lists) and creates the lock's Lease: the next ones are counted.
        await _one_deploy(stack, API.good[1], 1)
        for count, tag in ((2, API.good[2]), (3, API.good[1])):
            routes = await _one_deploy(stack, tag, count)
            # The alert view reads a new ReplicaSet once (its owner), when it gets to
            # the new pods: inside this window or just after it.
            assert routes.get("GET replicasets", 0) <= 1, routes
            assert sum(routes.values()) <= BUDGET, routes
            del routes["GET replicasets"]
            assert dict(routes) == FOLLOW, routes
