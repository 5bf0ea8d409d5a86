"""`LiveMessage`: one channel message per deploy, edited in place as the rollout moves.

Contract:
- `LiveMessage.post(...)` posts the message (chat.postMessage) and returns the handle;
  `BotNotInChannel` when the bot is not a member of the channel.
- `update(blocks, text=...)` never blocks and never fails: it records the newest state
  and makes sure a supervised flusher task will send it. At most one chat.update per
  `interval_s` per message; intermediate states may be skipped (newest wins). A failed
  intermediate update is logged and superseded by the next state.
- `await finish(blocks, text=...)` delivers the final state: it waits for an in-flight
  update (so states never arrive out of order), respects the interval, and sends the
  final state, all within `finish_timeout_s`. If it still fails after the client's
  retries, it raises `FinalUpdateFailed` carrying the state, for the caller to retry
  later; it is never silently dropped.
- `reply_in_thread(text, blocks=...)` posts details under the message (not coalesced).
Blocks and texts are fitted to Block Kit limits (`bot.slack.blocks`) before sending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import Supervisor, SupervisorClosed
from bot.slack import writes
from bot.slack.blocks import Block, fit_blocks, fit_text
from bot.slack.client import FinalUpdateFailed, SlackError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageState:
    """What the message shows: fallback text plus blocks (already fitted)."""

    text: str
    blocks: list[Block]

    @classmethod
    def fitted(cls, blocks: Sequence[Mapping[str, Any]], *, text: str) -> MessageState:
        return cls(text=fit_text(text), blocks=fit_blocks(blocks))


class LiveMessage:
    """A posted channel message that is edited in place (see the module contract)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        ts: str,
        supervisor: Supervisor,
        interval_s: float,
        finish_timeout_s: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._client = client
        self.channel = channel
        self.ts = ts
        self._supervisor = supervisor
        self._interval_s = interval_s
        self._finish_timeout_s = finish_timeout_s
        self._clock = clock or asyncio.get_running_loop().time
        self._last_sent = self._clock()
        self._pending: MessageState | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._finishing = False
        self.updates_sent = 0

    @classmethod
    async def post(
        cls,
        client: AsyncWebClient,
        blocks: Sequence[Mapping[str, Any]],
        *,
        text: str,
        channel: str,
        supervisor: Supervisor,
        interval_s: float = 1.0,
        finish_timeout_s: float = 120.0,
    ) -> LiveMessage:
        """Post the message to `channel`; raises `SlackCallFailed` if Slack refuses it."""
        state = MessageState.fitted(blocks, text=text)
        posted_in, ts = await writes.post_message(
            client, channel=channel, text=state.text, blocks=state.blocks
        )
        return cls(
            client,
            channel=posted_in,
            ts=ts,
            supervisor=supervisor,
            interval_s=interval_s,
            finish_timeout_s=finish_timeout_s,
        )

    @property
    def finished(self) -> bool:
        return self._finishing

    def update(self, blocks: Sequence[Mapping[str, Any]], *, text: str) -> None:
        """Record the newest state; a flusher sends it within the interval."""
        if self._finishing:
            raise RuntimeError(f"live message {self.ts} is already finished")
        self._pending = MessageState.fitted(blocks, text=text)
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = self._supervisor.spawn(
                    self._flush(), name=f"live-message:{self.channel}:{self.ts}"
                )
            except SupervisorClosed:
                # Shutting down: intermediate states no longer matter; finish() still
                # sends the final one itself.
                logger.debug("live message %s: update dropped during shutdown", self.ts)

    async def _pace(self) -> None:
        delay = self._last_sent + self._interval_s - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send(self, state: MessageState) -> None:
        try:
            await writes.update_message(
                self._client, channel=self.channel, ts=self.ts, text=state.text, blocks=state.blocks
            )
        finally:
            # A failed call counts too: it consumed rate budget.
            self._last_sent = self._clock()
        self.updates_sent += 1

    async def _flush(self) -> None:
        while self._pending is not None and not self._finishing:
            await self._pace()
            state, self._pending = self._pending, None
            if self._finishing or state is None:
                return  # finish() sends the final state itself
            try:
                await self._send(state)
            except SlackError as e:
                logger.warning("live message %s: update skipped: %s", self.ts, e)

    async def finish(self, blocks: Sequence[Mapping[str, Any]], *, text: str) -> None:
        """Deliver the final state (see the module contract); raises `FinalUpdateFailed`."""
        self._finishing = True
        self._pending = None
        final = MessageState.fitted(blocks, text=text)
        flusher = self._flusher
        try:
            async with asyncio.timeout(self._finish_timeout_s):
                if flusher is not None and not flusher.done():
                    await asyncio.wait([flusher])
                await self._pace()
                await self._send(final)
        except TimeoutError as e:
            if flusher is not None:
                flusher.cancel()
            raise FinalUpdateFailed(
                channel=self.channel,
                ts=self.ts,
                text=final.text,
                blocks=final.blocks,
                cause=f"not delivered within {self._finish_timeout_s:.0f}s",
            ) from e
        except SlackError as e:
            raise FinalUpdateFailed(
                channel=self.channel, ts=self.ts, text=final.text, blocks=final.blocks, cause=str(e)
            ) from e

    async def reply_in_thread(
        self, text: str, *, blocks: Sequence[Mapping[str, Any]] | None = None
    ) -> str:
        """Post a reply in the message's thread; returns its ts (`SlackCallFailed` on error)."""
        state = MessageState.fitted(blocks or [], text=text)
        _, ts = await writes.post_message(
            self._client,
            channel=self.channel,
            thread_ts=self.ts,
            text=state.text,
            blocks=state.blocks or None,
        )
        return ts
