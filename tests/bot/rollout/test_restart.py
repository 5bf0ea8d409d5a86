"""`kubectl rollout restart` through the engine: `check_restart` then `execute`.

Covers: every pod is replaced (new ReplicaSet, same image, the pod template carries
`kubectl.kubernetes.io/restartedAt`), the verdict is SUCCEEDED and the deploy record
says `restart`; a restart of a service someone else locked is refused naming the
lock; a restart of a missing Deployment is refused.
"""

from __future__ import annotations

from bot.kube.kinds import DEPLOYMENTS, PODS
from commands.plan import RESTARTED_AT, DeployPlan
from commands.progress import Phase
from commands.requests import Lock, Refusal, RefusalCode, Restart
from commands.rollout_decisions import images_of
from tests.fixtures.rollout import Stage, ask


async def test_restart_replaces_every_pod_and_succeeds(stage: Stage) -> None:
    image = stage.push("1111111")
    await stage.deployment(image)
    before = {
        p["metadata"]["name"] for p in (await stage.kube.list(PODS, namespace="honeydue")).items
    }
    plan = await ask(
        stage.engine, "check_restart", Restart("api", "prod", "pull secret renewed"), user="U1"
    )
    assert isinstance(plan, DeployPlan), plan
    assert plan.kind == "restart"
    assert plan.approvals_required == 0
    outcome = await stage.engine.execute(plan)
    assert outcome.phase is Phase.SUCCEEDED, outcome.summary
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": image}
    assert RESTARTED_AT in d["spec"]["template"]["metadata"]["annotations"]
    pods = (await stage.kube.list(PODS, namespace="honeydue")).items
    live = {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}
    assert len(live) == 3
    assert not live & before
    (record,) = await stage.engine.records.history("api", "prod")
    assert record.extra.get("kind") == "restart"
    assert "restarted the pods" in d["metadata"]["annotations"]["kubernetes.io/change-cause"]


async def test_restart_respects_locks_and_missing_deployments(stage: Stage) -> None:
    missing = await ask(stage.engine, "check_restart", Restart("api", "prod"), user="U1")
    assert isinstance(missing, Refusal)
    assert missing.code is RefusalCode.DEPLOYMENT_MISSING
    await stage.deployment(stage.push("1111111"))
    said = await ask(stage.engine, "lock", Lock("api", "prod", "incident 42"), user="U2")
    assert isinstance(said, str)
    locked = await ask(stage.engine, "check_restart", Restart("api", "prod"), user="U1")
    assert isinstance(locked, Refusal)
    assert locked.code is RefusalCode.LOCKED
    assert "incident 42" in locked.text
