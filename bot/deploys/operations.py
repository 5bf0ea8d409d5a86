"""`Operations`: the rollout engine and the registry as the Slack front-end calls them.

A thin adapter over helper E's `bot.rollout.engine.RolloutEngine` (check, execute,
rollback, status, history, lock/unlock, records) plus the long-lived registry client
for `tags`. It takes the front-end's already validated requests, so refusals from
the config were answered before, and turns the failures a front-end can explain
(`KubeError`, `RegistryError` while checking or answering) into `Refusal`s with the
error's sentence. Exceptions other than those are bugs and propagate.

    await ops.check_deploy(request, requested_by=…, deploy_id=…) -> DeployPlan | Refusal
    await ops.check_restart(request, requested_by=…, deploy_id=…) -> DeployPlan | Refusal
    await ops.execute(plan, on_progress=…, slack_channel=…, slack_ts=…) -> Outcome
    await ops.rollback(request, requested_by=…, on_progress=…) -> Outcome | Refusal
    await ops.status(services, envs) -> [ServiceStatus]
    await ops.history(service, env) -> HistoryView | Refusal
    await ops.tags(service) -> [tag, newest first] | Refusal
    await ops.lock(...) / ops.unlock(...) -> sentence | Refusal
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from bot.kube.errors import KubeError, NotFound
from bot.kube.kinds import CONFIGMAPS
from bot.registry.client import RegistryClient
from bot.registry.errors import RegistryError
from bot.rollout.background import together
from bot.rollout.engine import HistoryView, RolloutEngine, ServiceStatus
from bot.rollout.execute import OnProgress
from bot.rollout.outcome import Outcome
from bot.rollout.records import DeployRecord, RecordPhase, Records, from_configmap
from commands import texts
from commands.config import DeckhandConfig
from commands.plan import DeployPlan
from commands.requests import (
    Deploy,
    History,
    Lock,
    Refusal,
    RefusalCode,
    Restart,
    Rollback,
    Unlock,
)
from commands.validate import (
    ValidatedDeploy,
    ValidatedLock,
    ValidatedPromote,
    ValidatedRestart,
    ValidatedRollback,
    ValidatedUnlock,
)

TAGS_SHOWN = 10

DeployEnded = Callable[[str, str, float | None], None]
"""`(env, result, rollout seconds or None)`; result: succeeded|failed|rolled_back|refused."""


def _unavailable(what: str, error: KubeError | RegistryError) -> Refusal:
    return Refusal(RefusalCode.INVALID_REQUEST, texts.backend_unavailable(what, error.sentence()))


@dataclass
class Operations:
    """The front-end's view of the engine and the registry (see the module docstring)."""

    engine: RolloutEngine
    registry: RegistryClient
    on_deploy_end: DeployEnded = field(default=lambda env, result, duration_s: None)
    """Told how each deploy ended (metrics): a refusal of `check_deploy`, the outcome of
    `execute` / `resume_in_flight`. Every Slack deploy passes here exactly once."""

    @property
    def config(self) -> DeckhandConfig:
        return self.engine.config

    @property
    def records(self) -> Records:
        return self.engine.records

    # ---- deploys and rollbacks ----

    async def check_deploy(
        self, request: ValidatedDeploy, *, requested_by: str, deploy_id: str
    ) -> DeployPlan | Refusal:
        """Registry, Deployments and locks checked, then planned; nothing changes."""
        deploy = Deploy(
            request.services,
            request.tag,
            request.env,
            request.reason,
            digest=request.digest,
            promoted_from=request.promoted_from,
        )
        try:
            checked = await self.engine.check(deploy, user=requested_by, deploy_id=deploy_id)
        except (KubeError, RegistryError) as e:
            checked = _unavailable("check the deploy", e)
        if isinstance(checked, Refusal):
            self.on_deploy_end(request.env, "refused", None)
        return checked

    async def check_restart(
        self, request: ValidatedRestart, *, requested_by: str, deploy_id: str
    ) -> DeployPlan | Refusal:
        """A restart plan (Deployments and locks checked); nothing changes."""
        restart = Restart(request.service, request.env, request.reason)
        try:
            checked = await self.engine.check_restart(
                restart, user=requested_by, deploy_id=deploy_id
            )
        except KubeError as e:
            checked = _unavailable("check the restart", e)
        if isinstance(checked, Refusal):
            self.on_deploy_end(request.env, "refused", None)
        return checked

    async def promotions(self, request: ValidatedPromote) -> list[Deploy | Refusal]:
        """The pinned deploys a promotion makes (the source's digests), or why not."""
        try:
            return await self.engine.promotions(request)
        except KubeError as e:
            return [_unavailable("read the source environment", e)]

    async def execute(
        self, plan: DeployPlan, *, on_progress: OnProgress, slack_channel: str, slack_ts: str
    ) -> Outcome:
        """Roll out and follow (the record remembers the Slack message for resumes)."""
        outcome = await self.engine.execute(
            plan, on_progress=on_progress, slack_channel=slack_channel, slack_ts=slack_ts
        )
        self._ended(outcome)
        return outcome

    async def rollback(
        self, request: ValidatedRollback, *, requested_by: str, on_progress: OnProgress
    ) -> Outcome | Refusal:
        rollback = Rollback(
            request.service, request.env, request.to, request.revision, request.reason
        )
        try:
            return await self.engine.rollback(rollback, user=requested_by, on_progress=on_progress)
        except (KubeError, RegistryError) as e:
            return _unavailable("check the rollback", e)

    async def resume_in_flight(
        self, on_progress: OnProgress, *, only: frozenset[str] | None = None
    ) -> list[Outcome]:
        outcomes = await self.engine.resume_in_flight(on_progress, only=only)
        for outcome in outcomes:
            if outcome.reported:  # else another Deckhand finished (and counted) it
                self._ended(outcome)
        return outcomes

    def _ended(self, outcome: Outcome) -> None:
        refused = outcome.phase.value == "refused"
        duration = None if refused else outcome.duration_s
        self.on_deploy_end(outcome.env, outcome.phase.value, duration)

    # ---- answers ----

    async def status(
        self, services: Sequence[str], envs: Sequence[str]
    ) -> list[ServiceStatus] | Refusal:
        try:
            found = await together(*(self.engine.status(s, e) for e in envs for s in services))
        except KubeError as e:
            return _unavailable("read the status", e)
        return list(found)

    async def history(self, service: str, env: str) -> HistoryView | Refusal:
        try:
            return await self.engine.history(History(service, env))
        except KubeError as e:
            return _unavailable("read the history", e)

    async def tags(self, service: str) -> list[str] | Refusal:
        """The newest tags of `service`'s repository, newest first."""
        try:
            tags = await self.registry.list_tags(self.config.services[service].reference())
        except RegistryError as e:
            return Refusal(RefusalCode.IMAGE_PROBLEM, e.sentence())
        return tags[:TAGS_SHOWN]

    async def lock(self, request: ValidatedLock, *, user: str) -> str | Refusal:
        try:
            return await self.engine.lock(
                Lock(request.service, request.env, request.reason), user=user
            )
        except KubeError as e:
            return _unavailable("lock", e)

    async def unlock(self, request: ValidatedUnlock, *, user: str) -> str | Refusal:
        try:
            return await self.engine.unlock(Unlock(request.service, request.env), user=user)
        except KubeError as e:
            return _unavailable("unlock", e)

    # ---- records the front-end reports from ----

    async def record(self, deploy_id: str) -> DeployRecord | None:
        try:
            return await self.records.get(deploy_id)
        except (NotFound, ValueError):
            return None

    async def unreported(self) -> list[DeployRecord]:
        """Finished deploys whose final Slack report was not delivered, oldest first."""
        listed = await self.engine.kube.list(
            CONFIGMAPS,
            namespace=self.config.deckhand.namespace,
            label_selector="deckhand.dev/record=deploy",
        )
        found: list[DeployRecord] = []
        for obj in listed.items:
            try:
                record = from_configmap(obj)
            except (ValueError, TypeError, KeyError):
                continue  # someone else's ConfigMap with our label
            finished = record.phase is not RecordPhase.ROLLING_OUT
            if finished and not record.reported and record.slack_ts:
                found.append(record)
        return sorted(found, key=lambda r: r.when)

    async def set_reported(self, deploy_id: str, reported: bool) -> None:
        await self.records.update(
            deploy_id,
            lambda r: replace(r, reported=reported, reported_by=r.reported_by if reported else ""),
        )
