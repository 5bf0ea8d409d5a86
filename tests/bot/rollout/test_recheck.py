"""bot.rollout.recheck: the registry asked again with the namespace's own pull secret.

Covers: tag present (IMAGE_OK), tag deleted (TAG_GONE), token revoked
(SECRET_REJECTED), secret missing (SECRET_MISSING), and the sentence each leads with.
"""

from __future__ import annotations

import pytest

from bot.rollout.explain import recheck_verdict
from bot.rollout.recheck import PullRecheck, RecheckResult, recheck_pull
from commands.diagnosis import Cause
from commands.images import Platform
from tests.fixtures.rollout import PULL_TOKEN, Stage

AMD64 = Platform("linux", "amd64")


async def test_recheck_outcomes(stage: Stage) -> None:
    image = stage.push("2222222")
    await stage.deployment(stage.push("1111111"), wait=False)

    async def ask(secret: str | None = "regcred") -> PullRecheck:
        result = await recheck_pull(
            stage.kube,
            stage.registry_client,
            namespace="honeydue",
            secret_name=secret,
            image=image,
            platform=AMD64,
        )
        return result.outcome

    assert await ask() is PullRecheck.IMAGE_OK
    assert await ask(None) is PullRecheck.SECRET_MISSING
    assert await ask("nope") is PullRecheck.SECRET_MISSING
    stage.registry.delete_tag("admin/honeydue-api", "2222222")
    assert await ask() is PullRecheck.TAG_GONE
    stage.registry.revoke_token(PULL_TOKEN)
    assert await ask() is PullRecheck.SECRET_REJECTED


@pytest.mark.parametrize(
    ("outcome", "before", "after", "lead"),
    [
        (PullRecheck.SECRET_REJECTED, Cause.TAG_NOT_FOUND, Cause.PULL_AUTH, "pull secret `s`"),
        (PullRecheck.TAG_GONE, Cause.PULL_AUTH, Cause.TAG_NOT_FOUND, "tag is gone"),
        (PullRecheck.PLATFORM_MISSING, Cause.TAG_NOT_FOUND, Cause.PLATFORM_MISMATCH, ""),
        (PullRecheck.UNKNOWN, Cause.PULL_AUTH, Cause.PULL_AUTH, ""),
        (PullRecheck.IMAGE_OK, Cause.TAG_NOT_FOUND, Cause.TAG_NOT_FOUND, "mirror"),
    ],
)
def test_recheck_verdict(outcome: PullRecheck, before: Cause, after: Cause, lead: str) -> None:
    cause, sentence = recheck_verdict(RecheckResult(outcome, "detail", "s"), before)
    assert cause is after
    assert lead in sentence
    assert bool(sentence) == bool(lead)
