"""What the demo page shows of the local Slack: channels, messages, threads, ephemerals,
and the App Home tab (pseudo-channel `HOME`: the view Deckhand last published).

`SlackView` reads a `LocalSlack` workspace and builds the JSON the page renders for one
demo user: every channel's messages as currently edited (with `edited` when they were
changed), their thread replies, and the ephemerals only that user saw. Slack does not
timestamp ephemerals, and the slash commands a visitor types are not Slack messages, so
the view gives both a display `ts` when it first sees them (from the workspace's own
counter), which keeps everything in the order it happened.

Deterministic and I/O-free; `snapshot()` is cheap enough to call a few times a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.env import ALERT_CHANNEL, APPROVER, CHANNEL, OUTSIDER, REQUESTER
from sandbox.slack.methods import BOT_USER_ID
from sandbox.slack.store import EphemeralMessage, StoredMessage, Workspace

Json = dict[str, Any]


@dataclass(frozen=True)
class DemoUser:
    """A person the visitor can act as."""

    id: str
    name: str
    real_name: str
    role: str


DEMO_USERS = (
    DemoUser(REQUESTER, "alice", "Alice", "requester: may deploy, may not approve her own"),
    DemoUser(APPROVER, "bob", "Bob", "approver: may deploy and approve prod"),
    DemoUser(OUTSIDER, "mallory", "Mallory", "outsider: may do neither"),
)
DEMO_CHANNELS = {CHANNEL: "deploys", ALERT_CHANNEL: "deploy-alerts"}
HOME = "HOME"
"""The pseudo-channel showing Deckhand's App Home tab as `views.publish` left it."""
BOT_NAME = "Deckhand"


def demo_user(user_id: str) -> DemoUser | None:
    return next((u for u in DEMO_USERS if u.id == user_id), None)


@dataclass(frozen=True)
class Echo:
    """A slash command as its user typed it (shown to everyone, like `in_channel`)."""

    channel: str
    user: str
    text: str
    ts: str


def _order(ts: str) -> int:
    # Workspace ts are "<seconds>.<global counter>": the counter orders everything.
    return int(ts.partition(".")[2] or 0)


class SlackView:
    """Per-user snapshots of a workspace (see the module docstring)."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace
        self._echoes: list[Echo] = []
        self._ephemeral_ts: dict[tuple[str, int], str] = {}

    def echo(self, *, channel: str, user: str, text: str) -> str:
        """Record a typed command for display; returns its display ts."""
        echo = Echo(channel=channel, user=user, text=text, ts=self._ws.next_ts())
        self._echoes.append(echo)
        return echo.ts

    def _name(self, user_id: str) -> str:
        if user_id == BOT_USER_ID:
            return BOT_NAME
        user = self._ws.users.get(user_id)
        return user.real_name if user is not None else user_id

    def _message(self, message: StoredMessage) -> Json:
        return {
            "ts": message.ts,
            "user": message.user,
            "name": self._name(message.user),
            "bot": message.user == BOT_USER_ID,
            "text": message.text,
            "blocks": message.blocks,
            "edited": bool(message.history),
            "ephemeral": False,
            "replies": [self._message(r) for r in message.replies if not r.deleted],
        }

    def _ephemeral(self, eph: EphemeralMessage, ts: str) -> Json:
        return {
            "ts": ts,
            "user": BOT_USER_ID,
            "name": BOT_NAME,
            "bot": True,
            "text": eph.text,
            "blocks": eph.blocks,
            "edited": False,
            "ephemeral": True,
            "replies": [],
        }

    def _echo(self, echo: Echo) -> Json:
        return {
            "ts": echo.ts,
            "user": echo.user,
            "name": self._name(echo.user),
            "bot": False,
            "text": echo.text,
            "blocks": [],
            "edited": False,
            "ephemeral": False,
            "command": True,
            "replies": [],
        }

    def _ephemeral_display_ts(self, channel: str, index: int) -> str:
        key = (channel, index)
        if key not in self._ephemeral_ts:
            self._ephemeral_ts[key] = self._ws.next_ts()
        return self._ephemeral_ts[key]

    def snapshot(self, user_id: str) -> Json:
        """`{"channels": [{"id", "name", "messages": [...]}]}` as `user_id` sees them.

        Messages are oldest first; a thread's replies (and the user's ephemerals in it)
        sit in its parent's `replies`.
        """
        ids = list(DEMO_CHANNELS) + sorted(set(self._ws.channels) - set(DEMO_CHANNELS))
        channels = []
        for channel_id in ids:
            channel = self._ws.channel(channel_id)
            top = {m.ts: self._message(m) for m in channel.messages.values() if not m.deleted}
            rows = list(top.values())
            for index, eph in enumerate(channel.ephemerals):
                ts = self._ephemeral_display_ts(channel_id, index)
                if eph.user != user_id:
                    continue
                if eph.thread_ts is not None and eph.thread_ts in top:
                    top[eph.thread_ts]["replies"].append(self._ephemeral(eph, ts))
                else:
                    rows.append(self._ephemeral(eph, ts))
            rows.extend(self._echo(e) for e in self._echoes if e.channel == channel_id)
            rows.sort(key=lambda m: _order(str(m["ts"])))
            for row in top.values():
                row["replies"].sort(key=lambda m: _order(str(m["ts"])))
            name = DEMO_CHANNELS.get(channel_id, channel.name)
            channels.append({"id": channel_id, "name": name, "messages": rows})
        channels.append({"id": HOME, "name": "Home (Deckhand)", "messages": self._home(user_id)})
        return {"channels": channels}

    def _home(self, user_id: str) -> list[Json]:
        """The user's published Home view, as one message of the bot ([] until opened)."""
        view = self._ws.home_views.get(user_id)
        if view is None:
            return []
        return [
            {
                "ts": "home",
                "user": BOT_USER_ID,
                "name": BOT_NAME,
                "bot": True,
                "text": "",
                "blocks": view.get("blocks") or [],
                "edited": False,
                "ephemeral": False,
                "replies": [],
            }
        ]
