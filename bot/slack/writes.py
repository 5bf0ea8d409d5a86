"""Every write to Slack goes through here: fitted to Slack's limits, errors translated.

    ts = await post_message(client, channel=C, text=…, blocks=…, thread_ts=None)
    await update_message(client, channel=C, ts=ts, text=…, blocks=…)
    await post_ephemeral(client, channel=C, user=U, text=…, blocks=…)
    await respond(client, response_url, text=…, blocks=…, response_type=…)
    view_id = await open_view(client, trigger_id=…, view=…)
    await update_view(client, view_id=view_id, view=…)
    await publish_view(client, user_id=U, view=…)

Blocks go through `fit_blocks` (50 a message, 100 a view, each text within its limit,
the message's text within Slack's cumulative limit) and the fallback text through
`fit_text`, so no caller can send what Slack refuses with `invalid_blocks`.
A write refused because the bot is not a member of the conversation raises
`BotNotInChannel` (its fix: `/invite @deckhand`); any other failure `SlackCallFailed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack.blocks import MAX_VIEW_BLOCKS, Block, fit_blocks, fit_text
from bot.slack.client import NOT_A_MEMBER, BotNotInChannel, SlackCallFailed, slack_call

Blocks = Sequence[Mapping[str, Any]]


async def _write(method: str, channel: str, call: Any) -> Any:
    try:
        return await slack_call(method, call)
    except SlackCallFailed as e:
        if e.error in NOT_A_MEMBER and not isinstance(e, BotNotInChannel):
            raise BotNotInChannel(method, error=e.error, channel=channel) from e
        raise


def _fitted(blocks: Blocks | None) -> list[Block] | None:
    return fit_blocks(blocks) if blocks else None


async def post_message(
    client: AsyncWebClient,
    *,
    channel: str,
    text: str,
    blocks: Blocks | None = None,
    thread_ts: str | None = None,
) -> tuple[str, str]:
    """Post a message (or a thread reply); returns (channel id, ts)."""
    response = await _write(
        "chat.postMessage",
        channel,
        client.chat_postMessage(
            channel=channel, text=fit_text(text), blocks=_fitted(blocks), thread_ts=thread_ts
        ),
    )
    return str(response["channel"]), str(response["ts"])


async def update_message(
    client: AsyncWebClient, *, channel: str, ts: str, text: str, blocks: Blocks | None
) -> None:
    """Edit a message the bot posted."""
    await _write(
        "chat.update",
        channel,
        client.chat_update(channel=channel, ts=ts, text=fit_text(text), blocks=_fitted(blocks)),
    )


async def post_ephemeral(
    client: AsyncWebClient, *, channel: str, user: str, text: str, blocks: Blocks | None = None
) -> None:
    """A message only `user` sees in `channel` (needs the bot there: prefer `respond`)."""
    await _write(
        "chat.postEphemeral",
        channel,
        client.chat_postEphemeral(
            channel=channel, user=user, text=fit_text(text), blocks=_fitted(blocks)
        ),
    )


async def respond(
    client: AsyncWebClient,
    response_url: str,
    *,
    text: str,
    blocks: Blocks | None = None,
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral",
    replace_original: bool = False,
) -> None:
    """Answer through a request's response_url (any conversation; 5 uses in 30 min)."""
    session = client.session
    webhook = AsyncWebhookClient(
        response_url,
        session=session if isinstance(session, aiohttp.ClientSession) else None,
        retry_handlers=client.retry_handlers,
        timeout=client.timeout,
    )
    result = await slack_call(
        "response_url",
        webhook.send(
            text=fit_text(text),
            blocks=_fitted(blocks),
            response_type=response_type,
            replace_original=replace_original,
        ),
    )
    if result.status_code != 200:
        raise SlackCallFailed(
            "response_url", error=result.body or "error", status=result.status_code
        )


async def bot_is_member(client: AsyncWebClient, channel: str) -> bool | None:
    """Whether the bot may post in `channel` (conversations.info `is_member`), asked
    before a change that must be announced there; None when Slack won't say (a scope
    the app lacks, an error): then the post itself decides."""
    try:
        response = await slack_call(
            "conversations.info", client.conversations_info(channel=channel)
        )
    except SlackCallFailed as e:
        return False if e.error == "channel_not_found" else None
    return bool((response.get("channel") or {}).get("is_member"))


def fit_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A view with its blocks within Slack's limits (100 blocks, each text fitted). Pure."""
    fitted = dict(view)
    fitted["blocks"] = fit_blocks(view.get("blocks") or [], max_blocks=MAX_VIEW_BLOCKS)
    return fitted


async def open_view(client: AsyncWebClient, *, trigger_id: str, view: Mapping[str, Any]) -> str:
    """Open a modal; returns its view id. The trigger_id works for 3 s after the
    interaction: call this before any other I/O of the click."""
    response = await slack_call(
        "views.open", client.views_open(trigger_id=trigger_id, view=fit_view(view))
    )
    return str((response.get("view") or {}).get("id", ""))


async def update_view(client: AsyncWebClient, *, view_id: str, view: Mapping[str, Any]) -> None:
    """Replace an open modal's content (no trigger_id needed)."""
    await slack_call("views.update", client.views_update(view_id=view_id, view=fit_view(view)))


async def publish_view(client: AsyncWebClient, *, user_id: str, view: Mapping[str, Any]) -> None:
    """Publish a user's App Home tab."""
    await slack_call("views.publish", client.views_publish(user_id=user_id, view=fit_view(view)))
