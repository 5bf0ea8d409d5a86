"""A Deployment changed between the deploy's check and its patch (someone's `kubectl set
image`, or the hour an approval took): the patch carries the check's resourceVersion, so
the change is noticed (409), the Deployment read again, patched on what it is now, and
the deploy record's previous image is what the patch really replaced.
"""

from __future__ import annotations

from typing import Any

from commands.plan import DeployPlan
from commands.progress import Phase
from commands.requests import Deploy
from sandbox.cluster import resources
from tests.fixtures.rollout import Stage, ask


async def test_a_change_after_the_check_is_what_the_record_calls_previous(stage: Stage) -> None:
    await stage.deployment(stage.push("1111111"))
    new, meanwhile = stage.push("2222222"), stage.push("3333333")
    plan = await ask(stage.engine, "check", Deploy(("api",), "2222222", "prod"), user="U1")
    assert isinstance(plan, DeployPlan), plan

    def set_image(deployment: dict[str, Any]) -> None:
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = meanwhile

    stage.cluster.store.mutate(resources.DEPLOYMENTS, "honeydue", "api", set_image)
    patches = stage.cluster.api.served[("deckhand", "PATCH deployments")]
    outcome = await stage.engine.execute(plan)
    assert outcome.phase is Phase.SUCCEEDED, outcome.summary
    (record,) = await stage.engine.records.history("api", "prod")
    assert record.targets[0].previous_image == meanwhile
    assert record.targets[0].image == new
    # refused on the check's version (409), then patched on the current one
    assert stage.cluster.api.served[("deckhand", "PATCH deployments")] - patches == 2
