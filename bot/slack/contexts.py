"""The request contexts: what the Slack plumbing hands the deploy logic, and how it answers.

The Slack handlers acknowledge a request, build a frozen context and call a
`DeployBackend` in a supervised task. The backend never sees Bolt, a request body or a
token: it gets the user, the channel, the command text or the clicked action, and a
`Replier` to answer with (ephemeral to the user, a `LiveMessage` in the channel, or the
request's `response_url`). Anything the backend raises unexpectedly is logged with the
context's `correlation_id` and the user is told that id (see `bot.slack.handlers`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import Supervisor
from bot.slack import writes
from bot.slack.client import SlackCallFailed
from bot.slack.live_message import LiveMessage

logger = logging.getLogger(__name__)


class Replier:
    """How a backend answers one request. All methods raise `SlackCallFailed` on failure."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        supervisor: Supervisor,
        channel_id: str,
        user_id: str,
        response_url: str | None,
        update_interval_s: float,
        finish_timeout_s: float,
    ) -> None:
        self._client = client
        self._supervisor = supervisor
        self.channel_id = channel_id
        self.user_id = user_id
        self.response_url = response_url
        self._interval_s = update_interval_s
        self._finish_timeout_s = finish_timeout_s

    async def ephemeral(
        self, text: str, *, blocks: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """A message only the requesting user sees.

        Through the request's response_url when it has one: that works in any
        conversation, DMs and channels the bot was never invited to included. Else
        (a modal's submission, or a response_url Slack no longer takes: 5 uses, 30
        minutes) `chat.postEphemeral` in the request's channel, which needs the bot there.
        """
        if self.response_url:
            try:
                await self.respond(text, blocks=blocks)
                return
            except SlackCallFailed as e:
                logger.info("response_url not taken (%s): chat.postEphemeral instead", e.error)
        await writes.post_ephemeral(
            self._client, channel=self.channel_id, user=self.user_id, text=text, blocks=blocks
        )

    async def start_live(
        self, blocks: Sequence[Mapping[str, Any]], *, text: str, channel_id: str | None = None
    ) -> LiveMessage:
        """Post the message that will be edited in place (default: the request's channel).

        Raises `BotNotInChannel` when the bot is not a member there (nothing was posted).
        """
        return await LiveMessage.post(
            self._client,
            blocks,
            text=text,
            channel=channel_id or self.channel_id,
            supervisor=self._supervisor,
            interval_s=self._interval_s,
            finish_timeout_s=self._finish_timeout_s,
        )

    async def bot_is_member(self) -> bool | None:
        """Whether the bot may post in the request's channel (None: Slack won't say)."""
        return await writes.bot_is_member(self._client, self.channel_id)

    async def respond(
        self,
        text: str,
        *,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        response_type: Literal["ephemeral", "in_channel"] = "ephemeral",
        replace_original: bool = False,
    ) -> None:
        """Answer through the request's response_url (Slack allows 5 uses in 30 min)."""
        if not self.response_url:
            raise SlackCallFailed("response_url", error="no_response_url")
        await writes.respond(
            self._client,
            self.response_url,
            text=text,
            blocks=blocks,
            response_type=response_type,
            replace_original=replace_original,
        )


@dataclass(frozen=True)
class CommandContext:
    """One slash command (`/deploy api 237c6b8`): who, where, what, and how to answer."""

    correlation_id: str
    command: str
    text: str
    user_id: str
    user_name: str
    channel_id: str
    team_id: str
    response_url: str | None
    trigger_id: str | None
    replier: Replier


@dataclass(frozen=True)
class ActionContext:
    """One button click on a Deckhand message (action_id `deckhand:*`)."""

    correlation_id: str
    action_id: str
    value: str
    block_id: str | None
    user_id: str
    user_name: str
    channel_id: str
    message_ts: str | None
    response_url: str | None
    trigger_id: str | None
    replier: Replier


@dataclass(frozen=True)
class ViewContext:
    """One modal submitted (`view_submission`, callback_id `deckhand:*`).

    `values` maps each input block's `block_id` to its (plain text) value. A modal's
    `private_metadata` is the backend's own; when it is a JSON object with a
    `channel_id`, replies go to that channel.
    """

    correlation_id: str
    callback_id: str
    private_metadata: str
    values: Mapping[str, str]
    user_id: str
    channel_id: str
    replier: Replier


@dataclass(frozen=True)
class HomeContext:
    """A user opened Deckhand's App Home (`app_home_opened`, tab `home`)."""

    correlation_id: str
    user_id: str


@runtime_checkable
class HomeBackend(Protocol):
    """A backend that also publishes the Home tab (optional: the handlers check)."""

    async def handle_home(self, home: HomeContext) -> None: ...


@runtime_checkable
class ViewBackend(Protocol):
    """A backend that also takes modal submissions (optional: the handlers check).

    `check_view` runs before the submission is acknowledged and must not do I/O: the
    errors it returns (input `block_id` -> message) keep the modal open, showing them
    (`response_action: "errors"`); `{}` lets it close and `handle_view` run.
    """

    def check_view(self, view: ViewContext) -> Mapping[str, str]: ...

    async def handle_view(self, view: ViewContext) -> None: ...


class DeployBackend(Protocol):
    """What the Slack handlers call, after acknowledging, in a supervised task.

    Expected problems (bad input, unknown service, image not found) are answered through
    `replier` by the backend itself; an exception escaping these methods is treated as a
    bug: logged with the correlation id and reported to the user with that id.
    """

    async def handle_command(self, request: CommandContext) -> None: ...

    async def handle_action(self, action: ActionContext) -> None: ...
