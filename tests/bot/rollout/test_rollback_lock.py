"""Rollbacks stay rolled back: `lock_after_rollback` (on by default).

Covers: a rollback by one user leaves the service locked with the reason ("rolled back
from `3333333` by <@U3>: unlock to resume"), said in the outcome; a deploy by another
user is refused naming that lock and succeeds after `unlock`; the one who rolled back
may roll back further (their own lock); an automatic rollback locks too; with
`lock_after_rollback: false` nothing is locked.
"""

from __future__ import annotations

from bot.rollout.outcome import Outcome
from commands.plan import DeployPlan
from commands.progress import Phase
from commands.requests import Deploy, Refusal, RefusalCode, Rollback, Unlock
from tests.fixtures.rollout import PULL_TOKEN, Stage, ask


async def _deployed(stage: Stage, *tags: str) -> None:
    await stage.deployment(stage.push(tags[0]))
    for tag in tags[1:]:
        stage.push(tag)
        plan = await ask(stage.engine, "check", Deploy(("api",), tag, "prod"), user="U1")
        assert isinstance(plan, DeployPlan), plan
        outcome = await stage.engine.execute(plan)
        assert outcome.phase is Phase.SUCCEEDED, outcome.summary


async def test_rollback_locks_until_unlock_and_another_users_deploy_waits(stage: Stage) -> None:
    await _deployed(stage, "1111111", "2222222", "3333333")
    back = await ask(stage.engine, "rollback", Rollback("api", "prod"), user="U3")
    assert isinstance(back, Outcome), back
    assert back.phase is Phase.SUCCEEDED, back
    reason = "rolled back from `3333333` by <@U3>: unlock to resume"
    assert reason in back.summary
    assert back.notes
    assert "/deploy unlock api prod" in back.notes[0]
    holder = await stage.engine.locks.holder("api", "prod")
    assert holder is not None
    assert holder.manual
    assert holder.who == "U3"
    assert holder.why == reason

    stage.push("4444444")
    refused = await ask(stage.engine, "check", Deploy(("api",), "4444444", "prod"), user="U4")
    assert isinstance(refused, Refusal)
    assert refused.code is RefusalCode.LOCKED
    assert "rolled back from `3333333`" in refused.text

    # The one who rolled back may go further back through their own lock.
    further = await ask(stage.engine, "rollback", Rollback("api", "prod", to="1111111"), user="U3")
    assert isinstance(further, Outcome), further
    assert further.phase is Phase.SUCCEEDED, further

    said = await ask(stage.engine, "unlock", Unlock("api", "prod"), user="U4")
    assert isinstance(said, str)
    assert "unlocked" in said
    plan = await ask(stage.engine, "check", Deploy(("api",), "4444444", "prod"), user="U4")
    assert isinstance(plan, DeployPlan), plan
    assert (await stage.engine.execute(plan)).phase is Phase.SUCCEEDED


async def test_automatic_rollback_locks_the_service(stage: Stage) -> None:
    stage.reconfigure(auto_rollback=True)
    await _deployed(stage, "1111111")
    stage.push("2222222")
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan
    stage.registry.revoke_token(PULL_TOKEN)
    outcome = await stage.engine.execute(plan)
    assert outcome.phase is Phase.ROLLED_BACK, outcome.summary
    assert "rolled back automatically from `2222222` by <@U1>" in outcome.summary
    holder = await stage.engine.locks.holder("api", "prod")
    assert holder is not None
    assert holder.manual


async def test_lock_after_rollback_off_leaves_no_lock(stage: Stage) -> None:
    stage.reconfigure(lock_after_rollback=False)
    await _deployed(stage, "1111111", "2222222")
    back = await ask(stage.engine, "rollback", Rollback("api", "prod"), user="U3")
    assert isinstance(back, Outcome), back
    assert back.phase is Phase.SUCCEEDED, back
    assert back.notes == ()
    assert await stage.engine.locks.holder("api", "prod") is None
