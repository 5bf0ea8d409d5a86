"""The chat front door: every `/deploy` command and button, from text to action.

`DeckhandBackend` is the `DeployBackend` the Slack handlers call (`bot.slack.contexts`):

    parse (commands.grammar) → validate against the config (commands.validate)
    → authorize per environment (commands.authz, user groups from Slack)
    → act: a deploy/rollback flow, or a compact answer.

Replies:
- help, parse errors (usage of the nearest command + "did you mean"), validation
  refusals (unknown service/env, tag policy) and authorization refusals are
  ephemeral: only the requester sees them, and nothing changes;
- `status`, `history`, `tags` answer ephemerally (reading is allowed to anyone);
  every ephemeral answer goes through the command's response_url, so it arrives in a
  DM or a channel the bot was never invited to (`Replier.ephemeral`);
- deploys, restarts and rollbacks get ONE channel message each (`bot.deploys.deploy_flow`),
  posted before anything changes: where the bot is not a member, the requester is
  told to `/invite @deckhand` and nothing happens;
- `lock` / `unlock` are announced in the channel: the team needs to know (so the
  bot's membership is checked before the lock changes).
The Roll back button (`deckhand:rollback`, value = deploy id) rolls back every
service of that deploy, after the same authorization as the command. A new image's
Deploy button (`deckhand:deploy_push:ENV`, value `service|tag|env`) is exactly the
clicker typing `/deploy SERVICE TAG to ENV`.
Approvals (`bot.approvals.gate.ApprovalDesk`): the Approve / Reject /
Force buttons and their reason modals go to the desk, `/deploy cancel ID` withdraws a
request there, and `/deploy history` adds the approval trail.

A cluster or registry failure while answering is an answer too (ephemeral sentence);
anything else escaping is a bug, reported by the handlers with a correlation id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.approvals.gate import Approval, ApprovalDesk
from bot.approvals.render import APPROVAL_ACTIONS
from bot.deploys.deploy_flow import DeployFlow
from bot.deploys.read_answers import history_text, status_text, tags_text
from bot.deploys.render import ROLLBACK_ACTION
from bot.rollout.engine import RolloutEngine, refusing
from bot.slack.blocks import section
from bot.slack.contexts import ActionContext, CommandContext, Replier, ViewContext
from bot.slack.usergroups import UserGroups
from commands import help as help_
from commands import texts
from commands.authz import Action, authorize
from commands.config import DeckhandConfig
from commands.delivery import DEPLOY_PUSH_ACTION, parse_button_value
from commands.grammar import parse
from commands.requests import Cancel, Help, ParseError, Refusal
from commands.validate import (
    ValidatedDeploy,
    ValidatedHistory,
    ValidatedLock,
    ValidatedPromote,
    ValidatedRestart,
    ValidatedRollback,
    ValidatedStatus,
    ValidatedTags,
    ValidatedUnlock,
    validate,
)

log = logging.getLogger(__name__)


class DeckhandBackend:
    """Deckhand on Slack (see the module docstring). Implements `DeployBackend`."""

    def __init__(
        self,
        engine: RolloutEngine,
        *,
        flow: DeployFlow,
        usergroups: UserGroups,
        approvals: ApprovalDesk,
    ) -> None:
        self._config: DeckhandConfig = engine.config
        self._engine = engine
        self._flow = flow
        self._groups = usergroups
        self._approvals = approvals

    async def authorize(
        self, *, user: str, channel: str, env: str, action: Action
    ) -> Refusal | None:
        """None when allowed; user groups are looked up only when they can matter."""
        env_config = self._config.environments[env]
        deployers = env_config.deployers
        groups: frozenset[str] = frozenset()
        if channel in env_config.channels and user not in deployers.users:
            groups = await self._groups.member_of(user, among=deployers.usergroups)
        verdict = authorize(
            user=user,
            channel=channel,
            env=env,
            env_config=env_config,
            user_groups=groups,
            action=action,
        )
        return verdict if isinstance(verdict, Refusal) else None

    async def handle_command(self, request: CommandContext) -> None:
        replier = request.replier
        parsed = parse(request.text)
        if isinstance(parsed, ParseError):
            await replier.ephemeral(parsed.text)
            return
        if isinstance(parsed, Help):
            await replier.ephemeral(help_.answer(parsed))
            return
        checked = validate(parsed, self._config)
        if isinstance(checked, Refusal):
            await replier.ephemeral(checked.text)
            return
        user, channel = request.user_id, request.channel_id
        match checked:
            case ValidatedDeploy() | ValidatedRestart() | ValidatedPromote():
                refusal = await self.authorize(
                    user=user, channel=channel, env=checked.env, action=Action.DEPLOY
                )
                if refusal is not None:
                    await replier.ephemeral(refusal.text)
                    return
                if isinstance(checked, ValidatedRestart):
                    waiting = await self._flow.restart(request, checked)
                elif isinstance(checked, ValidatedPromote):
                    for pending in await self._flow.promote(request, checked):
                        await self._approvals.request(pending.plan, request, pending.live)
                    return
                else:
                    waiting = await self._flow.deploy(request, checked)
                if waiting is not None:
                    await self._approvals.request(waiting.plan, request, waiting.live)
            case ValidatedRollback():
                await self._rollback(replier, user, channel, checked)
            case ValidatedLock() | ValidatedUnlock():
                await self._lock(replier, user, channel, checked)
            case ValidatedStatus() | ValidatedHistory() | ValidatedTags():
                await self._read(replier, checked)
            case Cancel():
                await self._approvals.cancel(replier, user, checked.request_id)
            case Help():
                await replier.ephemeral(help_.answer(checked))

    def check_view(self, view: ViewContext) -> Mapping[str, str]:
        return self._approvals.check_view(view)

    async def handle_view(self, view: ViewContext) -> None:
        await self._roll_out(await self._approvals.handle_view(view))

    async def handle_action(self, action: ActionContext) -> None:
        if action.action_id in APPROVAL_ACTIONS:
            await self._roll_out(await self._approvals.handle_action(action))
            return
        if action.action_id.startswith(DEPLOY_PUSH_ACTION):
            await self._deploy_push(action)
            return
        if action.action_id != ROLLBACK_ACTION:
            log.info("[%s] ignoring action %s", action.correlation_id, action.action_id)
            return
        record = await self._engine.records.find(action.value)
        if record is None or record.env not in self._config.environments:
            await action.replier.ephemeral(texts.rollback_button_unknown(action.value))
            return
        for service in dict.fromkeys(record.services):
            if service not in self._config.services:
                continue
            request = ValidatedRollback(service, record.env, reason=f"after deploy {record.id}")
            await self._rollback(action.replier, action.user_id, action.channel_id, request)

    async def _deploy_push(self, action: ActionContext) -> None:
        """A new image's Deploy button: exactly `/deploy SERVICE TAG to ENV` by the clicker
        (authorization, approvals, locks, freeze windows, the live message)."""
        parts = parse_button_value(action.value)
        if parts is None:
            await action.replier.ephemeral(texts.push_button_stale(action.value))
            return
        service, tag, env = parts
        command = CommandContext(
            correlation_id=action.correlation_id,
            command="/deploy",
            text=f"{service} {tag} to {env}",
            user_id=action.user_id,
            user_name=action.user_name,
            channel_id=action.channel_id,
            team_id="",
            response_url=action.response_url,
            trigger_id=action.trigger_id,
            replier=action.replier,
        )
        await self.handle_command(command)

    async def deploy(self, ctx: CommandContext, request: ValidatedDeploy) -> None:
        """A validated, authorized deploy: the flow checks and rolls it out, or hands it to
        the approval desk (the Deploy buttons of new images and auto-deploys come here)."""
        waiting = await self._flow.deploy(ctx, request)
        if waiting is not None:
            await self._approvals.request(waiting.plan, ctx, waiting.live)

    async def _roll_out(self, approved: Approval | None) -> None:
        """What the approval desk decided to roll out, on the request's message."""
        if approved is not None:
            await self._flow.run_approved(
                approved.plan, channel=approved.channel, ts=approved.ts, note=approved.note
            )

    async def _rollback(
        self, replier: Replier, user: str, channel: str, request: ValidatedRollback
    ) -> None:
        refusal = await self.authorize(
            user=user, channel=channel, env=request.env, action=Action.ROLLBACK
        )
        if refusal is not None:
            await replier.ephemeral(refusal.text)
            return
        await self._flow.rollback(replier, user, request)

    async def _lock(
        self, replier: Replier, user: str, channel: str, request: ValidatedLock | ValidatedUnlock
    ) -> None:
        locking = isinstance(request, ValidatedLock)
        action = Action.LOCK if locking else Action.UNLOCK
        refusal = await self.authorize(user=user, channel=channel, env=request.env, action=action)
        if refusal is not None:
            await replier.ephemeral(refusal.text)
            return
        if await replier.bot_is_member() is False:  # the team must see it: else no change
            await replier.ephemeral(texts.bot_not_in_channel(channel))
            return
        if isinstance(request, ValidatedLock):
            said = await refusing("lock", self._engine.lock(request, user=user))
        else:
            said = await refusing("unlock", self._engine.unlock(request, user=user))
        if isinstance(said, Refusal):
            await replier.ephemeral(said.text)
            return
        text = said
        blocks = [section(text)]
        await replier.start_live(blocks, text=text)

    async def _read(
        self, replier: Replier, request: ValidatedStatus | ValidatedHistory | ValidatedTags
    ) -> None:
        answer: str | Refusal
        match request:
            case ValidatedStatus():
                statuses = await refusing(
                    "read the status", self._engine.statuses(request.services, request.envs)
                )
                answer = statuses if isinstance(statuses, Refusal) else status_text(statuses)
            case ValidatedHistory():
                view = await refusing("read the history", self._engine.history(request))
                answer = view if isinstance(view, Refusal) else history_text(view)
                if not isinstance(answer, Refusal):
                    trail = await self._approvals.history_lines(request.service, request.env)
                    answer = "\n".join([answer, *trail])
            case ValidatedTags():
                tags = await self._engine.tags(request.service)
                repository = self._config.services[request.service].image
                answer = (
                    tags
                    if isinstance(tags, Refusal)
                    else tags_text(request.service, repository, tags)
                )
        text = answer.text if isinstance(answer, Refusal) else answer
        await replier.ephemeral(text)
