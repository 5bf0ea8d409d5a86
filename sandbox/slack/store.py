"""What the local Slack remembers: channels, their messages, threads, ephemerals, users.

Plain data, no I/O: `sandbox.slack.web_api` mutates it while answering Web API calls,
and tests read it to assert the final state of a message (not just the calls made).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

ChannelKind = Literal["public", "private", "im"]


class RecordedCall(NamedTuple):
    """One Web API call as received: method, merged params (query, form, JSON), wall time."""

    method: str
    params: dict[str, Any]
    at: float


@dataclass
class StoredMessage:
    """A channel message or a thread reply, in its current (latest) state."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    thread_ts: str | None = None
    replies: list[StoredMessage] = field(default_factory=list)
    # Every earlier (text, blocks) the message had, oldest first: edits are visible to tests.
    history: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    deleted: bool = False

    def edit(self, *, text: str | None, blocks: list[dict[str, Any]] | None) -> None:
        self.history.append((self.text, self.blocks))
        if text is not None:
            self.text = text
        if blocks is not None:
            self.blocks = blocks


@dataclass(frozen=True)
class EphemeralMessage:
    """A message only `user` saw (chat.postEphemeral or an ephemeral response_url post)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None


def kind_of(channel_id: str) -> ChannelKind:
    """A conversation's kind from its id, as Slack assigns them: C public, G private, D DM."""
    if channel_id.startswith("D"):
        return "im"
    if channel_id.startswith("G"):
        return "private"
    return "public"


@dataclass
class Channel:
    """A conversation. The bot sees it only as a member (`bot_member`): nobody invited it
    anywhere until a test or the sandbox seed does (`LocalSlack.invite_bot`)."""

    id: str
    name: str
    kind: ChannelKind = "public"
    bot_member: bool = False
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    ephemerals: list[EphemeralMessage] = field(default_factory=list)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    tz: str = "Europe/London"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "real_name": self.real_name,
            "tz": self.tz,
            "is_bot": False,
            "deleted": False,
            "profile": {"display_name": self.name, "real_name": self.real_name},
        }


@dataclass(frozen=True)
class Usergroup:
    id: str
    handle: str
    members: tuple[str, ...]


class Workspace:
    """The workspace state. Channels spring into existence on first use (`channel()`),
    their kind taken from the id (`kind_of`), without the bot as a member.

    `clock` (seconds, monotonic) times what expires: trigger_ids (3 s after the
    interaction) and response_urls (30 minutes).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.views: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        # trigger_id -> when it was issued (clock seconds)
        self.triggers: dict[str, float] = {}
        self.clock = clock
        self._ts_counter = itertools.count(1)

    def channel(self, channel_id: str) -> Channel:
        if channel_id not in self.channels:
            self.channels[channel_id] = Channel(
                id=channel_id, name=channel_id.lower(), kind=kind_of(channel_id)
            )
        return self.channels[channel_id]

    def next_ts(self) -> str:
        """A unique, increasing Slack timestamp ("seconds.micro-counter")."""
        return f"{int(time.time())}.{next(self._ts_counter):06d}"

    def find(self, channel_id: str, ts: str) -> StoredMessage | None:
        """The channel message or thread reply with this ts."""
        channel = self.channels.get(channel_id)
        if channel is None:
            return None
        if ts in channel.messages:
            return channel.messages[ts]
        for message in channel.messages.values():
            for reply in message.replies:
                if reply.ts == ts:
                    return reply
        return None
