"""RolloutEngine.execute against the sandbox cluster (real controllers, real pulls) and Gitea.

Covers: the happy path (3 replicas, verdict within a second of completion, change-cause
on the new ReplicaSet, pods running the pinned digest, progress events, the record);
a pull secret revoked after the pre-check (fails long before the deadline with "the
cluster's pull secret was rejected", auto-rollback restores the image and says so);
CrashLoopBackOff with exit code and logs; CreateContainerConfigError;
ProgressDeadlineExceeded; readiness timeout; an unschedulable pod (after the readiness
timeout); a 403 on the patch naming verb, resource and namespace; a tag deleted after
the check (the pinned digest still deploys).
"""

from __future__ import annotations

from datetime import datetime

from bot.kube.kinds import DEPLOYMENTS, PODS, REPLICASETS
from bot.rollout.outcome import Outcome
from commands.diagnosis import Cause
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Deploy
from commands.rollout_decisions import images_of, revision_of
from tests.fixtures.rollout import PULL_TOKEN, Stage, ask


async def deploy(stage: Stage, tag: str, seen: list[Progress]) -> Outcome:
    plan = await ask(stage.engine, "check", Deploy(("api",), tag, "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan

    async def record(progress: Progress) -> None:
        seen.append(progress)

    return await stage.engine.execute(plan, on_progress=record)


async def test_happy_path(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    new = stage.push("2222222")
    seen: list[Progress] = []
    outcome = await deploy(stage, "2222222", seen)
    assert outcome.phase is Phase.SUCCEEDED, outcome.summary
    assert "2222222 in prod is live (3/3 available" in outcome.summary
    # The verdict came within a second (wall) of the Deployment's completion.
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    completed = datetime.fromisoformat(progressing["lastUpdateTime"].replace("Z", "+00:00"))
    lag_s = (stage.cluster.clock.now() - completed).total_seconds()
    assert lag_s < stage.cluster.clock.speed * 1 + 1  # one wall second, second-precision stamp
    # The new ReplicaSet carries the change-cause; its pods run the pinned digest.
    sets = (await stage.kube.list(REPLICASETS, namespace="honeydue")).items
    newest = max(sets, key=revision_of)
    assert "2222222" in newest["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert images_of(newest) == {"api": new}
    pods = (await stage.kube.list(PODS, namespace="honeydue", label_selector="app=api")).items
    hash_ = newest["metadata"]["labels"]["pod-template-hash"]
    mine = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == hash_]
    assert len(mine) == 3
    assert all(p["spec"]["containers"][0]["image"] == new for p in mine)
    assert "@sha256:" in new
    # Progress: rolling out with counts, then exactly one final event.
    assert seen[0].phase is Phase.ROLLING_OUT
    assert any(p.phase is Phase.ROLLING_OUT and p.available for p in seen)
    finals = [p for p in seen if p.is_final]
    assert [f.phase for f in finals] == [Phase.SUCCEEDED]
    (record,) = await stage.engine.records.history("api", "prod")
    assert record.phase.value == "succeeded"
    assert record.targets[0].previous_image.endswith(stage.push("1111111").split(":", 2)[-1])
    assert record.reported


async def test_revoked_pull_secret_fails_fast_and_rolls_back(stage: Stage) -> None:
    stage.reconfigure(auto_rollback=True)
    old = stage.push("1111111")
    await stage.deployment(old)
    stage.push("2222222")
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan
    stage.registry.revoke_token(PULL_TOKEN)  # after the pre-check, before the rollout
    outcome = await stage.engine.execute(plan)
    assert outcome.phase is Phase.ROLLED_BACK, outcome.summary
    (service,) = outcome.services
    assert service.failure is not None
    assert service.failure.cause is Cause.PULL_AUTH
    assert "pull secret `regcred` was rejected" in service.failure.sentence
    assert outcome.duration_s < 120  # cluster seconds; the progress deadline is 600
    assert service.rolled_back_to == old
    assert "rolled it back automatically" in outcome.summary
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": old}


async def test_crash_loop_reports_exit_code_and_logs(stage: Stage) -> None:
    crash = {"sandbox.deckhand.dev/crash": "exit-code=3,message=panic: no DATABASE_URL"}
    await stage.deployment(stage.push("1111111"), template_annotations=crash, wait=False)
    stage.push("2222222")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED, outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.CRASH_LOOP
    assert any("panic: no DATABASE_URL" in line for line in failure.logs), failure.logs
    assert outcome.duration_s < 300


async def test_progress_deadline_exceeded(stage: Stage) -> None:
    stage.reconfigure()
    stage.engine.config = stage.engine.config.model_copy(
        update={
            "rollout": stage.engine.config.rollout.model_copy(update={"readiness_timeout_s": 5000})
        }
    )
    never = {"sandbox.deckhand.dev/never-ready": "true"}
    await stage.deployment(
        stage.push("1111111"), template_annotations=never, progress_deadline_s=60, wait=False
    )
    stage.push("2222222")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED, outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.PROGRESS_DEADLINE
    assert outcome.duration_s < 300


async def test_readiness_timeout(stage: Stage) -> None:
    never = {"sandbox.deckhand.dev/never-ready": "true"}
    await stage.deployment(stage.push("1111111"), template_annotations=never, wait=False)
    stage.push("2222222")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED, outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.NOT_READY
    assert 120 <= outcome.duration_s < 300  # the readiness timeout, not the 600 s deadline


async def test_forbidden_patch_names_verb_resource_namespace(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    stage.push("2222222")
    stage.cluster.deny("patch", "deployments", "honeydue")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED
    assert "Deckhand's service account may not patch deployments in honeydue" in outcome.summary


async def test_tag_deleted_after_the_check_still_deploys_the_pinned_digest(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    new = stage.push("2222222")
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan
    stage.registry.delete_tag("admin/honeydue-api", "2222222")  # the manifest stays
    outcome = await stage.engine.execute(plan)
    assert outcome.phase is Phase.SUCCEEDED, outcome.summary
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": new}


async def test_unschedulable_fails_after_the_readiness_timeout(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"), node_selector={"disk": "nowhere"}, wait=False)
    stage.push("2222222")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED, outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.UNSCHEDULABLE
    # The rule counts from the pod's PodScheduled=False transition, which the API stores in
    # whole seconds (truncated): the verdict may come up to 1 s before 120 s of the deploy.
    assert 119 <= outcome.duration_s < 300


async def test_create_container_config_error_fails_at_once(stage: Stage) -> None:
    broken = {"sandbox.deckhand.dev/config-error": 'secret "api-env" not found'}
    await stage.deployment(stage.push("1111111"), template_annotations=broken, wait=False)
    stage.push("2222222")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED, outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.CONFIG_ERROR
    assert 'secret "api-env" not found' in failure.sentence
    assert outcome.duration_s < 60


async def test_forbidden_watch_is_a_failure_naming_it(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    stage.push("2222222")
    stage.cluster.deny("watch", "pods", "honeydue")
    outcome = await deploy(stage, "2222222", [])
    assert outcome.phase is Phase.FAILED
    assert "Deckhand's service account may not watch pods in honeydue." in outcome.summary


async def test_registry_down_fails_once_the_kubelet_backs_off(stage: Stage) -> None:
    """The registry goes away after the pre-check: the verdict names it, well before the
    deadline (the first failed pull alone is not fatal; the kubelet's back-off is)."""
    await stage.deployment(stage.push("1111111"))
    stage.push("2222222")
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan
    stage.registry.fail_next(10_000, 503, match="/v2/")  # down for the nodes and for Deckhand
    outcome = await stage.engine.execute(plan)
    assert outcome.phase in (Phase.FAILED, Phase.ROLLED_BACK), outcome.summary
    failure = outcome.services[0].failure
    assert failure is not None
    assert failure.cause is Cause.REGISTRY_UNREACHABLE, failure
    assert outcome.duration_s < 120  # cluster seconds; the progress deadline is 600
