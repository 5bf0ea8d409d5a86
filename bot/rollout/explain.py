"""Turn a failed rollout's finding into what a person needs: cause, sentence, next step, logs.

`Explainer` is the `Follower`'s `explain` step. The words come from
`commands.diagnosis.explain` (texts in `commands.texts`); this module adds what
needs I/O:

- a pull failure is re-checked against the registry with the namespace's own pull
  secret (`bot.rollout.recheck`), which settles "the tag is gone" versus "the
  cluster's pull secret was rejected" — kubelet's text alone often can't;
- a crash loop, or a container the kubelet killed for a failing liveness or startup
  probe, gets the last lines its previous container instance logged (the failing probe
  itself, named with its evidence, comes from `commands.diagnosis`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import DEPLOYMENTS
from bot.registry.client import RegistryClient
from bot.rollout.follow import Failure, FollowTarget
from bot.rollout.recheck import PullRecheck, RecheckResult, pull_secret_of, recheck_pull
from commands import diagnosis, texts
from commands.diagnosis import Cause, Finding
from commands.images import Platform
from commands.rollout_decisions import Judgement

log = logging.getLogger(__name__)

PULL_CAUSES = frozenset({Cause.TAG_NOT_FOUND, Cause.PULL_AUTH, Cause.INVALID_IMAGE})
LOGGED_CAUSES = frozenset({Cause.CRASH_LOOP, Cause.LIVENESS_PROBE, Cause.STARTUP_PROBE})
"""Causes where the previous container's last log lines say what happened."""


def recheck_verdict(result: RecheckResult, cause: Cause) -> tuple[Cause, str]:
    """The cause after the registry re-check, and a sentence to lead with (pure)."""
    if result.outcome is PullRecheck.SECRET_REJECTED:
        return Cause.PULL_AUTH, texts.secret_rejected(result.secret)
    if result.outcome is PullRecheck.TAG_GONE:
        return Cause.TAG_NOT_FOUND, texts.tag_gone()
    if result.outcome is PullRecheck.PLATFORM_MISSING:
        return Cause.PLATFORM_MISMATCH, ""
    if result.outcome is PullRecheck.SECRET_MISSING and cause is Cause.PULL_AUTH:
        return cause, texts.no_usable_secret(result.detail)
    if result.outcome is PullRecheck.IMAGE_OK:
        return cause, texts.nodes_see_another_registry()
    return cause, ""


@dataclass
class Explainer:
    kube: KubeClient
    registry: RegistryClient
    platform: Platform
    pull_secret: str | None = None
    """The env's configured pull secret; None: the Deployment's first `imagePullSecrets`."""
    log_lines: int = 20
    recheck_timeout_s: float = 30.0

    async def __call__(self, target: FollowTarget, judgement: Judgement) -> Failure:
        finding = judgement.finding or Finding(Cause.UNKNOWN, True)
        secret = self.pull_secret
        cause, lead = finding.cause, ""
        if cause in PULL_CAUSES:
            if secret is None:
                secret = await self._deployment_secret(target)
            try:
                async with asyncio.timeout(self.recheck_timeout_s):
                    result = await recheck_pull(
                        self.kube,
                        self.registry,
                        namespace=target.namespace,
                        secret_name=secret,
                        image=target.image,
                        platform=self.platform,
                    )
            except TimeoutError:
                result = RecheckResult(
                    PullRecheck.UNKNOWN, "the registry re-check timed out", secret
                )
            log.info("pull re-check for %s: %s (%s)", target.image, result.outcome, result.detail)
            cause, lead = recheck_verdict(result, cause)
        said = diagnosis.explain(
            replace(finding, cause=cause),
            image=target.image,
            namespace=target.namespace,
            pull_secret=secret,
            platform=str(self.platform),
        )
        logs: tuple[str, ...] = ()
        if cause in LOGGED_CAUSES and finding.pod:
            logs = await self._last_logs(target, finding)
        sentence = f"{lead}: {said.sentence}" if lead else said.sentence
        return Failure(cause, sentence, said.next_step, finding.pod, finding.evidence, logs)

    async def _deployment_secret(self, target: FollowTarget) -> str | None:
        try:
            deployment = await self.kube.get(
                DEPLOYMENTS, target.deployment, namespace=target.namespace
            )
        except KubeError:
            return None
        return pull_secret_of(deployment)

    async def _last_logs(self, target: FollowTarget, finding: Finding) -> tuple[str, ...]:
        assert finding.pod is not None
        try:
            text = await self.kube.read_log(
                finding.pod,
                namespace=target.namespace,
                container=finding.container,
                tail_lines=self.log_lines,
                previous=True,
            )
            if not text:
                text = await self.kube.read_log(
                    finding.pod,
                    namespace=target.namespace,
                    container=finding.container,
                    tail_lines=self.log_lines,
                )
        except KubeError as e:
            return (f"(logs unavailable: {e.sentence()})",)
        return tuple(diagnosis.redact(line) for line in text.splitlines()[-self.log_lines :])
