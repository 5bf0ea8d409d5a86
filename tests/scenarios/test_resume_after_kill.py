"""A deploy whose follower was killed a moment ago (its lock renewed just before: it still
looks alive) is taken over once that follower's heartbeat is stale, by the Deckhand that
found it at start, not a whole sweep later.

The killed Deckhand is played by hand, before Deckhand starts (`leave_a_deploy_in_flight`:
a message in #deploys, the Deployment patched to a pinned image, the deploy record in
phase `rolling_out`) plus the deploy's lock, renewed now by a follower that will never
renew it again. The periodic
sweep is set to an hour: only the start's resume and its one look later can finish it.
"""

from __future__ import annotations

from pathlib import Path

from bot.kube.client import KubeClient
from bot.rollout.locks import Locks
from sandbox.env import CHANNEL, DECKHAND_NAMESPACE, REQUESTER, SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import deploy_stack, leave_a_deploy_in_flight

API = SERVICES[0]
DEPLOY_ID = "d-killed"


async def test_a_just_killed_followers_deploy_is_taken_over_once_it_is_stale(
    tmp_path: Path,
) -> None:
    seeded: dict[str, str] = {}
    tag = API.good[2]

    async def killed_mid_rollout(env: SandboxEnv, slack: LocalSlack) -> None:
        async with KubeClient.from_kubeconfig(env.kubeconfig) as kube:
            seeded["ts"] = await leave_a_deploy_in_flight(
                env, slack, kube, deploy_id=DEPLOY_ID, tag=tag
            )
            dead = Locks(
                kube, DECKHAND_NAMESPACE, env.cluster.clock, duration_s=900, follower="killed"
            )
            await dead.acquire("api", "staging", deploy_id=DEPLOY_ID, who=REQUESTER, why="")

    async with deploy_stack(
        tmp_path / "env",
        prepare=killed_mid_rollout,
        report_retry_interval_s=3600.0,
    ) as stack:
        message = stack.slack.message(CHANNEL, seeded["ts"])
        text = await stack.wait_final(message, within_s=60)
        assert "Succeeded" in text, text
        assert DEPLOY_ID in text
        assert len(stack.deploy_messages()) == 1  # the recorded message, no new one
