"""`bot.slack.writes` against the strict local Slack: the one way every write goes.

Covers: blocks fitted before they are sent (a 60-block update and a 120-block view are
taken, not refused); a post where the bot isn't a member raises `BotNotInChannel`
(public: not_in_channel, DM: channel_not_found) with the channel; `bot_is_member`
reads conversations.info; response_url answers land as ephemerals in a DM.
"""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import writes
from bot.slack.client import BotNotInChannel
from sandbox.slack import LocalSlack

CHANNEL = "C0DEPLOYS"


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_every_write_is_fitted(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    channel, ts = await writes.post_message(slack_web_client, channel=CHANNEL, text="x" * 50_000)
    await writes.update_message(
        slack_web_client, channel=channel, ts=ts, text="t", blocks=[section("y" * 5000)] * 60
    )
    assert "more blocks not shown" in str(local_slack.message(CHANNEL, ts).blocks[-1])
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Many"},
        "blocks": [{"type": "divider"}] * 120,
    }
    view_id = await writes.open_view(
        slack_web_client, trigger_id=local_slack.new_trigger_id(), view=view
    )
    assert len(local_slack.workspace.views[0]["blocks"]) == 100
    await writes.update_view(slack_web_client, view_id=view_id, view=view)


@pytest.mark.parametrize(
    ("channel", "error"), [("C0RANDOM", "not_in_channel"), ("D0ALICE", "channel_not_found")]
)
async def test_a_write_where_the_bot_is_not_says_so(
    slack_web_client: AsyncWebClient, channel: str, error: str
) -> None:
    with pytest.raises(BotNotInChannel) as raised:
        await writes.post_message(slack_web_client, channel=channel, text="hi")
    assert (raised.value.channel, raised.value.error) == (channel, error)
    with pytest.raises(BotNotInChannel):
        await writes.post_ephemeral(slack_web_client, channel=channel, user="U0ALICE", text="hi")


async def test_membership_and_response_urls(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient
) -> None:
    assert await writes.bot_is_member(slack_web_client, CHANNEL) is True
    assert await writes.bot_is_member(slack_web_client, "C0RANDOM") is False
    url = local_slack.response_url(channel_id="D0ALICE", user_id="U0ALICE")
    await writes.respond(slack_web_client, url, text="only you", blocks=[section("z" * 4000)])
    (shown,) = local_slack.ephemerals(user_id="U0ALICE")
    assert shown.channel == "D0ALICE"
    assert len(shown.blocks[0]["text"]["text"]) == 3000
