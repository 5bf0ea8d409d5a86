"""Bolt listeners: acknowledge first, then hand the work to the backend in a supervised task.

For `/deploy` and for `deckhand:*` button clicks the sequence is always:

1. `ack()` immediately (an empty 200: Slack's 3-second deadline is met before any
   network call of ours). While shutting down, the ack itself says "restarting".
   A modal submission is checked first, without I/O (`ViewBackend.check_view`): errors
   are the ack (`response_action: "errors"`) and keep it open.
2. Build a frozen `CommandContext` / `ActionContext` with a fresh correlation id.
3. `supervisor.spawn(...)` the backend call, named after the request and the id.
4. If the backend raises unexpectedly: log the traceback under the correlation id and
   tell the user, ephemerally, that id (so a report can be matched to the log). A
   `BotNotInChannel` is no bug: the user is told to `/invite @deckhand`.
Answers to the requester go through the request's response_url (`Replier.ephemeral`):
it works in any conversation, DMs and channels the bot is not in included.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import Supervisor, SupervisorClosed
from bot.logs import correlation_id as bind_correlation_id
from bot.settings import Settings
from bot.slack.client import BotNotInChannel, SlackError
from bot.slack.contexts import (
    ActionContext,
    CommandContext,
    DeployBackend,
    HomeBackend,
    HomeContext,
    Replier,
    ViewBackend,
    ViewContext,
)
from commands import texts

logger = logging.getLogger(__name__)

ACTION_ID_PATTERN = re.compile(r"^deckhand:")


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:8]


def _str_or_none(value: Any) -> str | None:
    return str(value) if value else None


def _metadata_channel(metadata: str) -> str:
    """The `channel_id` a modal's JSON `private_metadata` names, or ''."""
    try:
        found = json.loads(metadata)
    except ValueError:
        return ""
    return str(found.get("channel_id") or "") if isinstance(found, dict) else ""


def _view_values(view: dict[str, Any]) -> dict[str, str]:
    """block_id → the value of its (first) input, from a submitted view's state."""
    values: dict[str, str] = {}
    for block_id, inputs in ((view.get("state") or {}).get("values") or {}).items():
        if isinstance(inputs, dict) and inputs:
            first = next(iter(inputs.values()))
            if isinstance(first, dict):
                values[str(block_id)] = str(first.get("value") or "")
    return values


class SlackHandlers:
    """The listeners, bound to one backend, supervisor and Web API client."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: DeployBackend,
        supervisor: Supervisor,
        client: AsyncWebClient,
    ) -> None:
        self._settings = settings
        self._backend = backend
        self._supervisor = supervisor
        self._client = client

    def register(self, app: AsyncApp, *, command: str = "/deploy") -> None:
        app.command(command)(self.on_command)
        app.action(ACTION_ID_PATTERN)(self.on_action)
        app.view(ACTION_ID_PATTERN)(self.on_view)
        app.event("app_home_opened")(self.on_home)

    def _replier(self, *, channel_id: str, user_id: str, response_url: str | None) -> Replier:
        return Replier(
            self._client,
            supervisor=self._supervisor,
            channel_id=channel_id,
            user_id=user_id,
            response_url=response_url,
            update_interval_s=self._settings.slack_update_interval_s,
            finish_timeout_s=self._settings.slack_finish_timeout_s,
        )

    async def on_command(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        if not self._supervisor.accepting:
            await ack(text=texts.restarting())
            return
        await ack()
        channel_id, user_id = str(body.get("channel_id", "")), str(body.get("user_id", ""))
        response_url = _str_or_none(body.get("response_url"))
        replier = self._replier(channel_id=channel_id, user_id=user_id, response_url=response_url)
        context = CommandContext(
            correlation_id=new_correlation_id(),
            command=str(body.get("command", "")),
            text=str(body.get("text", "")).strip(),
            user_id=user_id,
            user_name=str(body.get("user_name", user_id)),
            channel_id=channel_id,
            team_id=str(body.get("team_id", "")),
            response_url=response_url,
            trigger_id=_str_or_none(body.get("trigger_id")),
            replier=replier,
        )
        logger.info(
            "[%s] %s %r from %s in %s",
            context.correlation_id,
            context.command,
            context.text,
            user_id,
            channel_id,
            extra={"correlation_id": context.correlation_id},
        )
        self._spawn(
            self._backend.handle_command(context),
            name=f"command:{context.correlation_id}",
            correlation_id=context.correlation_id,
            replier=replier,
        )

    async def on_action(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        await ack()
        if not self._supervisor.accepting:
            return  # a click during shutdown: nothing started; the user can click again
        action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel_id = str((body.get("channel") or {}).get("id") or container.get("channel_id", ""))
        user_id = str(user.get("id", ""))
        response_url = _str_or_none(body.get("response_url"))
        replier = self._replier(channel_id=channel_id, user_id=user_id, response_url=response_url)
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        context = ActionContext(
            correlation_id=new_correlation_id(),
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            block_id=_str_or_none(action.get("block_id")),
            user_id=user_id,
            user_name=str(user.get("username") or user.get("name") or user_id),
            channel_id=channel_id,
            message_ts=_str_or_none(message_ts),
            response_url=response_url,
            trigger_id=_str_or_none(body.get("trigger_id")),
            replier=replier,
        )
        logger.info(
            "[%s] action %s=%r from %s in %s",
            context.correlation_id,
            context.action_id,
            context.value,
            user_id,
            channel_id,
            extra={"correlation_id": context.correlation_id},
        )
        self._spawn(
            self._backend.handle_action(context),
            name=f"action:{context.correlation_id}",
            correlation_id=context.correlation_id,
            replier=replier,
        )

    async def on_view(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        """A modal submitted: checked first (errors keep it open, naming the field), then
        acked (closes it) and `handle_view` run, if the backend takes views."""
        if not self._supervisor.accepting or not isinstance(self._backend, ViewBackend):
            await ack()
            return
        view = body.get("view") or {}
        metadata = str(view.get("private_metadata") or "")
        channel_id = _metadata_channel(metadata)
        user_id = str((body.get("user") or {}).get("id", ""))
        replier = self._replier(channel_id=channel_id, user_id=user_id, response_url=None)
        context = ViewContext(
            correlation_id=new_correlation_id(),
            callback_id=str(view.get("callback_id", "")),
            private_metadata=metadata,
            values=_view_values(view),
            user_id=user_id,
            channel_id=channel_id,
            replier=replier,
        )
        errors = dict(self._backend.check_view(context))
        if errors:
            await ack(response_action="errors", errors=errors)
            logger.info(
                "[%s] view %s from %s kept open: %s",
                context.correlation_id,
                context.callback_id,
                user_id,
                ", ".join(sorted(errors)),
                extra={"correlation_id": context.correlation_id},
            )
            return
        await ack()
        logger.info(
            "[%s] view %s from %s",
            context.correlation_id,
            context.callback_id,
            user_id,
            extra={"correlation_id": context.correlation_id},
        )
        self._spawn(
            self._backend.handle_view(context),
            name=f"view:{context.correlation_id}",
            correlation_id=context.correlation_id,
            replier=replier,
        )

    async def on_home(self, ack: Callable[..., Awaitable[Any]], event: dict[str, Any]) -> None:
        """`app_home_opened`: publish the Home tab (the Messages tab opening is ignored)."""
        await ack()
        if (
            not self._supervisor.accepting
            or event.get("tab", "home") != "home"
            or not isinstance(self._backend, HomeBackend)
        ):
            return
        user_id = str(event.get("user", ""))
        context = HomeContext(correlation_id=new_correlation_id(), user_id=user_id)
        logger.info(
            "[%s] home opened by %s",
            context.correlation_id,
            user_id,
            extra={"correlation_id": context.correlation_id},
        )
        replier = self._replier(channel_id="", user_id=user_id, response_url=None)
        self._spawn(
            self._backend.handle_home(context),
            name=f"home:{context.correlation_id}",
            correlation_id=context.correlation_id,
            replier=replier,
        )

    def _spawn(
        self,
        work: Awaitable[None],
        *,
        name: str,
        correlation_id: str,
        replier: Replier,
    ) -> None:
        try:
            self._supervisor.spawn(
                guarded(work, correlation_id=correlation_id, replier=replier), name=name
            )
        except SupervisorClosed:
            logger.warning(
                "[%s] refused: shutting down",
                correlation_id,
                extra={"correlation_id": correlation_id},
            )


async def guarded(work: Awaitable[None], *, correlation_id: str, replier: Replier) -> None:
    """Await the backend call; an unexpected exception becomes a log entry + an ephemeral.

    Every log line of the call (and of tasks it starts) carries `correlation_id`
    (`bot.logs.CORRELATION_ID`). Cancellation (shutdown) propagates untouched.
    """
    with bind_correlation_id(correlation_id):
        try:
            await work
        except BotNotInChannel as e:
            # Not a bug: the bot was not invited where it had to post. Say how to fix it.
            logger.warning("[%s] %s: the bot is not in %s", correlation_id, e.method, e.channel)
            try:
                await replier.ephemeral(texts.bot_not_in_channel(e.channel, nothing_changed=False))
            except SlackError as told:
                logger.error("[%s] could not tell the user: %s", correlation_id, told)
        except Exception:
            logger.exception("[%s] unexpected error while handling the request", correlation_id)
            try:
                await replier.ephemeral(texts.unexpected_error(correlation_id))
            except SlackError as e:
                logger.error("[%s] could not tell the user about the error: %s", correlation_id, e)
