"""A deploy left rolling out by a Deckhand that stopped is finished by the next one,
and its recorded Slack message (not a new one) gets the verdict.

The "previous Deckhand" is played by hand, before Deckhand starts: a message in
#deploys, the Deployment patched to a pinned image, and the deploy record (phase
`rolling_out`) pointing at that message.
"""

from __future__ import annotations

from pathlib import Path

from bot.kube.client import KubeClient
from bot.kube.kinds import DEPLOYMENTS
from bot.rollout.records import DeployRecord, Records, TargetRecord
from sandbox.env import CHANNEL, DECKHAND_NAMESPACE, ENVIRONMENTS, REQUESTER, SERVICES, SandboxEnv
from sandbox.slack import LocalSlack
from tests.bot.deploys.harness import deploy_stack

API = SERVICES[0]
DEPLOY_ID = "d-resume"


async def test_an_in_flight_deploy_is_resumed_and_its_message_finished(tmp_path: Path) -> None:
    seeded: dict[str, str] = {}
    tag = API.good[2]

    async def leave_a_deploy_in_flight(env: SandboxEnv, slack: LocalSlack) -> None:
        seeded["ts"] = slack.seed_message(CHANNEL, f"Deploy api {tag} → staging: Rolling out")
        repo = env.registry.store.repo(f"admin/honeydue-{API.name}")
        assert repo is not None
        digest = repo.tags[tag]
        image = f"{env.repository(API.name)}:{tag}@{digest}"
        namespace = ENVIRONMENTS["staging"]
        async with KubeClient.from_kubeconfig(env.kubeconfig) as kube:
            before = await kube.get(DEPLOYMENTS, API.name, namespace=namespace)
            previous = before["spec"]["template"]["spec"]["containers"][0]["image"]
            body = {
                "spec": {"template": {"spec": {"containers": [{"name": "api", "image": image}]}}}
            }
            await kube.patch(DEPLOYMENTS, API.name, body, namespace=namespace)
            record = DeployRecord(
                id=DEPLOY_ID,
                who=REQUESTER,
                when=env.cluster.clock.now(),
                env="staging",
                namespace=namespace,
                tag=tag,
                targets=(TargetRecord("api", "api", "api", image, digest, previous),),
                slack_channel=CHANNEL,
                slack_ts=seeded["ts"],
            )
            await Records(kube, DECKHAND_NAMESPACE).create(record)

    async with deploy_stack(tmp_path / "env", prepare=leave_a_deploy_in_flight) as stack:
        message = stack.slack.message(CHANNEL, seeded["ts"])
        text = await stack.wait_final(message, within_s=60)
        assert "Succeeded" in text, text
        assert DEPLOY_ID in text
        assert len(stack.deploy_messages()) == 1  # the recorded message, no new one
        assert tag in stack.image_of("api")
