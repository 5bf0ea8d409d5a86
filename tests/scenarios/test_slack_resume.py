"""A deploy left rolling out by a Deckhand that stopped is finished by the next one,
and its recorded Slack message (not a new one) gets the verdict.

The "previous Deckhand" is played by hand, before Deckhand starts: a message in
#deploys, the Deployment patched to a pinned image, and the deploy record (phase
`rolling_out`) pointing at that message.
"""

from __future__ import annotations

from pathlib import Path

from bot.kube.client import KubeClient
from sandbox.env import CHANNEL, SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import deploy_stack, leave_a_deploy_in_flight

API = SERVICES[0]
DEPLOY_ID = "d-resume"


async def test_an_in_flight_deploy_is_resumed_and_its_message_finished(tmp_path: Path) -> None:
    seeded: dict[str, str] = {}
    tag = API.good[2]

    async def stopped_mid_rollout(env: SandboxEnv, slack: LocalSlack) -> None:
        async with KubeClient.from_kubeconfig(env.kubeconfig) as kube:
            seeded["ts"] = await leave_a_deploy_in_flight(
                env, slack, kube, deploy_id=DEPLOY_ID, tag=tag
            )

    async with deploy_stack(tmp_path / "env", prepare=stopped_mid_rollout) as stack:
        message = stack.slack.message(CHANNEL, seeded["ts"])
        text = await stack.wait_final(message, within_s=60)
        assert "Succeeded" in text, text
        assert DEPLOY_ID in text
        assert len(stack.deploy_messages()) == 1  # the recorded message, no new one
        assert tag in stack.image_of("api")
