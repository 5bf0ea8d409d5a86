"""Slack messages of image-pull incidents: one per incident, edited in place.

    ts = await notifier.post(incident)        a new alert (chat.postMessage)
    await notifier.show(incident)             the same message, counts updated (chat.update)
    await notifier.resolved(incident)         marked resolved, and a follow-up in its thread
    ts = await notifier.post_summary(channel, incidents, limit)    over the rate limit
    await notifier.show_summary(channel, ts, incidents, limit)

Words come from `commands.texts` (the image-pull alerts section); this module only
lays them out as Block Kit (fitted to Slack's limits by `bot.slack.blocks`) and sends
them through the retrying client. Every call has a deadline (`timeout_s`); failures
leave as `bot.slack.client.SlackError`. The stored messages are redacted already:
nothing here adds a credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import writes
from bot.slack.blocks import Block, section
from commands import texts
from commands.health import WORKLOAD_CAUSES
from commands.incidents import Incident, Phase


def alert_content(incident: Incident) -> tuple[str, list[Block]]:
    """(notification text, blocks) of an incident's message (pure)."""
    key = incident.key
    resolved = incident.phase is Phase.RESOLVED
    facts: dict[str, Any] = {
        "image": key.image,
        "pods": incident.pods,
        "peak_pods": incident.peak_pods,
        "nodes": incident.nodes,
        "message": incident.message,
        "diagnosis": incident.diagnosis,
        "fix": incident.fix,
        "resolved": resolved,
    }
    if key.cause in WORKLOAD_CAUSES:
        title = texts.workload_alert_title(
            key.namespace, key.workload, key.cause.value, incident.cause_label, resolved=resolved
        )
        body = texts.alert_body(cause=key.cause.value, **facts)
    else:
        title = texts.pull_alert_title(
            key.namespace, key.workload, incident.cause_label, resolved=resolved
        )
        body = texts.alert_body(cause=None, **facts)
    return title, [section(title), section(body)]


def summary_content(incidents: Sequence[Incident], *, limit: int) -> tuple[str, list[Block]]:
    """(text, blocks) of a channel's rate-limit summary (pure)."""
    title = texts.pull_summary_title(len(incidents), limit)
    lines = [
        texts.pull_summary_line(
            i.key.namespace,
            i.key.workload,
            i.key.image,
            i.cause_label,
            i.pods,
            resolved=i.phase is Phase.RESOLVED,
        )
        for i in sorted(incidents, key=lambda i: i.opened_at)
    ]
    blocks = [section(title)]
    for start in range(0, len(lines), 10):  # 10 lines a block keeps each under 3000 chars
        chunk = "\n".join(lines[start : start + 10])
        blocks.append(section(chunk))
    return title, blocks


@dataclass
class Notifier:
    client: AsyncWebClient
    timeout_s: float = 30.0

    async def post(self, incident: Incident) -> str:
        text, blocks = alert_content(incident)
        return await self._post(incident.channel, text, blocks)

    async def show(self, incident: Incident) -> None:
        text, blocks = alert_content(incident)
        await self._update(incident.channel, incident.ts, text, blocks)

    async def resolved(self, incident: Incident, *, minutes: float) -> None:
        """Mark the message resolved and reply in its thread (summaries: reply only)."""
        if not incident.summarized:
            await self.show(incident)
        followup = (
            texts.workload_resolved_followup
            if incident.key.cause in WORKLOAD_CAUSES
            else texts.pull_resolved_followup
        )
        reply = followup(incident.key.image, incident.peak_pods, minutes)
        if incident.summarized:
            key = incident.key
            reply = f"`{key.namespace}/{key.workload}`: {reply}"
        async with asyncio.timeout(self.timeout_s):
            await writes.post_message(
                self.client, channel=incident.channel, thread_ts=incident.ts, text=reply
            )

    async def post_summary(self, channel: str, incidents: Sequence[Incident], *, limit: int) -> str:
        text, blocks = summary_content(incidents, limit=limit)
        return await self._post(channel, text, blocks)

    async def show_summary(
        self, channel: str, ts: str, incidents: Sequence[Incident], *, limit: int
    ) -> None:
        text, blocks = summary_content(incidents, limit=limit)
        await self._update(channel, ts, text, blocks)

    async def _post(self, channel: str, text: str, blocks: list[Block]) -> str:
        async with asyncio.timeout(self.timeout_s):
            _, ts = await writes.post_message(
                self.client, channel=channel, text=text, blocks=blocks
            )
        return ts

    async def _update(self, channel: str, ts: str, text: str, blocks: list[Block]) -> None:
        async with asyncio.timeout(self.timeout_s):
            await writes.update_message(
                self.client, channel=channel, ts=ts, text=text, blocks=blocks
            )
