"""RolloutEngine across deploys: concurrency, restarts, rollback and history.

Covers: two concurrent deploys (the second refused naming the holder); a Deckhand
stopped mid-rollout and a new engine that resumes it and reports exactly once (a
third resume finds nothing to do); an engine never resumes a deploy it runs itself;
`rollback` as `kubectl rollout undo` (previous revision, then a named tag) and its
refusals; `history` from records and revisions; the sweep releases a lock whose
deploy record is final.
"""

from __future__ import annotations

import asyncio

from bot.kube.kinds import DEPLOYMENTS
from bot.rollout.engine import HistoryView, RolloutEngine
from bot.rollout.outcome import Outcome
from commands.plan import DeployPlan
from commands.progress import Phase, Progress
from commands.requests import Deploy, History, Refusal, RefusalCode, Rollback
from commands.rollout_decisions import images_of
from tests.fixtures.rollout import Stage, ask

SLOW = {"sandbox.deckhand.dev/ready-after-seconds": "20"}


async def plan_for(stage: Stage, tag: str, user: str = "U1") -> DeployPlan:
    plan = await ask(stage.engine, "check", Deploy(("api",), tag, "prod"), user=user)
    assert isinstance(plan, DeployPlan), plan
    return plan


async def test_second_concurrent_deploy_is_refused_naming_the_holder(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    stage.push("2222222")
    stage.push("3333333")
    first = await plan_for(stage, "2222222", "U1")
    second = await plan_for(stage, "3333333", "U2")
    a, b = await asyncio.gather(stage.engine.execute(first), stage.engine.execute(second))
    phases = sorted([a.phase, b.phase])
    assert phases == sorted([Phase.SUCCEEDED, Phase.REFUSED]), (a.summary, b.summary)
    refused, won = (a, b) if a.phase is Phase.REFUSED else (b, a)
    holder = "U1" if won is a else "U2"
    assert f"being deployed by {holder} (deploy {won.deploy_id})" in refused.summary
    # Once the first is done the lock is free again.
    assert await stage.engine.locks.holder("api", "prod") is None


async def test_check_while_a_deploy_runs_is_refused(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"), template_annotations=SLOW)
    stage.push("2222222")
    stage.push("3333333")
    first = await plan_for(stage, "2222222", "U1")
    started = asyncio.Event()

    async def note(progress: Progress) -> None:
        started.set()

    async with asyncio.TaskGroup() as group:
        running = group.create_task(stage.engine.execute(first, on_progress=note))
        await started.wait()
        refused = await ask(stage.engine, "check", Deploy(("api",), "3333333", "prod"), user="U2")
        assert isinstance(refused, Refusal)
        assert refused.code is RefusalCode.LOCKED
        assert "U1" in refused.text
    assert running.result().phase is Phase.SUCCEEDED


async def test_resume_skips_the_deploys_the_engine_itself_runs(stage: Stage) -> None:
    # A replica that becomes leader while its own deploy runs must not follow it twice.
    await stage.deployment(stage.push("1111111"), template_annotations=SLOW)
    stage.push("2222222")
    plan = await plan_for(stage, "2222222")
    rolling = asyncio.Event()

    async def note(progress: Progress) -> None:
        if progress.updated:
            rolling.set()

    async with asyncio.TaskGroup() as group:
        running = group.create_task(stage.engine.execute(plan, on_progress=note))
        await rolling.wait()
        assert [r.id for r in await stage.engine.records.in_flight()] == [plan.deploy_id]
        assert await stage.engine.resume_in_flight(note) == []
    assert running.result().phase is Phase.SUCCEEDED


async def test_restart_resumes_and_reports_exactly_once(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"), template_annotations=SLOW)
    stage.push("2222222")
    plan = await plan_for(stage, "2222222")
    finals: list[Progress] = []
    rolling = asyncio.Event()

    async def watch(progress: Progress) -> None:
        if progress.is_final:
            finals.append(progress)
        elif progress.updated:
            rolling.set()

    first = asyncio.ensure_future(stage.engine.execute(plan, on_progress=watch))
    await asyncio.wait_for(rolling.wait(), 10)
    first.cancel()  # Deckhand stops mid-rollout
    await asyncio.gather(first, return_exceptions=True)
    (in_flight,) = await stage.engine.records.in_flight()
    assert in_flight.id == plan.deploy_id
    holder = await stage.engine.locks.holder("api", "prod")  # kept for the resumer
    assert holder is not None
    assert holder.holder == plan.deploy_id

    restarted = RolloutEngine(
        stage.engine.config, stage.kube, stage.registry_client, stage.cluster.clock
    )
    outcomes: list[Outcome] = await restarted.resume_in_flight(watch)
    assert [o.phase for o in outcomes] == [Phase.SUCCEEDED]
    assert outcomes[0].reported
    assert [f.phase for f in finals] == [Phase.SUCCEEDED]
    again = RolloutEngine(
        stage.engine.config, stage.kube, stage.registry_client, stage.cluster.clock
    )
    assert await again.resume_in_flight(watch) == []
    assert len(finals) == 1
    record = await stage.engine.records.get(plan.deploy_id)
    assert record.reported
    assert record.phase.value == "succeeded"


async def test_rollback_to_previous_then_to_a_tag_and_history(stage: Stage) -> None:
    one = stage.push("1111111")
    two = stage.push("2222222")
    three = stage.push("3333333")
    await stage.deployment(one)
    for tag in ("2222222", "3333333"):
        outcome = await stage.engine.execute(await plan_for(stage, tag))
        assert outcome.phase is Phase.SUCCEEDED, outcome.summary

    back = await ask(stage.engine, "rollback", Rollback("api", "prod"), user="U3")
    assert isinstance(back, Outcome)
    assert back.phase is Phase.SUCCEEDED, back.summary
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": two}
    assert "rolled back" in d["metadata"]["annotations"]["kubernetes.io/change-cause"]

    to_one = await ask(stage.engine, "rollback", Rollback("api", "prod", to="1111111"), user="U3")
    assert isinstance(to_one, Outcome)
    assert to_one.phase is Phase.SUCCEEDED, to_one.summary
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": one}

    same = await ask(stage.engine, "rollback", Rollback("api", "prod", to="1111111"), user="U3")
    assert isinstance(same, Refusal)
    missing = await ask(stage.engine, "rollback", Rollback("api", "prod", revision=42), user="U3")
    assert isinstance(missing, Refusal)

    history = await ask(stage.engine, "history", History("api", "prod"))
    assert isinstance(history, HistoryView)
    assert [r.tag for r in history.records][:2] == ["1111111", "2222222"]
    assert history.revisions[0].image == one
    assert {r.image for r in history.revisions} >= {two, three}


async def test_stopped_before_the_patch_resumes_as_nothing_changed(stage: Stage) -> None:
    """Deckhand stops after writing the record but before patching: the resume says so,
    and the automatic rollback leaves the untouched Deployment alone (undoing it would
    go one revision too far)."""
    stage.reconfigure(auto_rollback=True)
    one = stage.push("1111111")
    await stage.deployment(one)
    stage.push("2222222")
    plan = await plan_for(stage, "2222222")
    recorded = asyncio.Event()

    async def stall(progress: Progress) -> None:
        recorded.set()  # the first ROLLING_OUT comes after the record, before the patch
        await asyncio.sleep(3600)

    first = asyncio.ensure_future(stage.engine.execute(plan, on_progress=stall))
    await asyncio.wait_for(recorded.wait(), 10)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": one}  # never patched

    restarted = RolloutEngine(
        stage.engine.config, stage.kube, stage.registry_client, stage.cluster.clock
    )
    (outcome,) = await restarted.resume_in_flight()
    assert outcome.phase is Phase.FAILED, outcome.summary
    assert "stopped before it patched api" in outcome.summary
    assert outcome.services[0].rolled_back_to is None
    d = await stage.kube.get(DEPLOYMENTS, "api", namespace="honeydue")
    assert images_of(d) == {"api": one}


async def test_the_sweep_releases_a_lock_whose_deploy_ended(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    stage.push("2222222")
    done = await stage.engine.execute(await plan_for(stage, "2222222"))
    assert done.phase is Phase.SUCCEEDED
    engine = stage.engine
    # The release was lost (the API went away just then): the lock still names the deploy.
    await engine.locks.acquire("api", "prod", deploy_id=done.deploy_id, who="U1", why="")
    await engine.locks.acquire("worker", "prod", deploy_id="d-running", who="U2", why="")
    assert await engine.release_finished_locks() == 1
    assert await engine.locks.holder("api", "prod") is None
    kept = await engine.locks.holder("worker", "prod")  # no final record: left to its lease
    assert kept is not None
    assert kept.holder == "d-running"
