"""`SlackSender`: plays Slack's side of HTTP mode against Deckhand's `/slack/events`.

Builds the request bodies Slack sends (slash command form, `payload=` JSON for block
actions and view submissions), signs them exactly as Slack does

    X-Slack-Request-Timestamp: <unix seconds>
    X-Slack-Signature: v0=hex(hmac_sha256(signing_secret, f"v0:{timestamp}:{raw body}"))

and gives each a `response_url` served by a `LocalSlack` (when one is passed).
`forge=True` signs with a wrong secret; `stale=True` uses a timestamp 10 minutes old.
The payload builders are plain functions so Socket Mode tests deliver the same shapes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp

from sandbox.slack.methods import TEAM_ID
from sandbox.slack.web_api import LocalSlack

APP_ID = "A0DECKHAND"
STALE_BY_S = 600


def sign(body: str | bytes, *, secret: str, timestamp: int) -> str:
    """Slack's v0 request signature of `body` (raw bytes: signed as they are)."""
    raw = body if isinstance(body, bytes) else body.encode()
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _trigger_id() -> str:
    """A trigger_id no local Slack issued (views.open refuses it: invalid_trigger_id)."""
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:16]}"


def slash_command_payload(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    command: str = "/deploy",
    user_name: str | None = None,
    response_url: str = "",
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The fields of a slash command request (form-encoded over HTTP)."""
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "team_domain": "deckhand-sandbox",
        "channel_id": channel_id,
        "channel_name": channel_id.lower(),
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }


def block_actions_payload(
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    action_id: str,
    value: str,
    block_id: str = "deckhand-actions",
    user_name: str | None = None,
    response_url: str = "",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload for a button click on a channel message."""
    return {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_name or user_id.lower(),
            "name": user_name or user_id.lower(),
            "team_id": TEAM_ID,
        },
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": TEAM_ID, "domain": "deckhand-sandbox"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": {"type": "message", "ts": message_ts, "text": "", "blocks": []},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission_payload(
    *,
    user_id: str,
    callback_id: str,
    values: dict[str, Any],
    private_metadata: str = "",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `view_submission` payload for a modal with the given state values."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "deckhand-sandbox"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": "V00000001",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": uuid.uuid4().hex[:12],
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }


class SlackSender:
    """Sends signed Slack requests to `events_url` (async context manager).

    Each method returns `(HTTP status, response body text)`.
    """

    def __init__(
        self, events_url: str, signing_secret: str, *, slack: LocalSlack | None = None
    ) -> None:
        self.events_url = events_url
        self._secret = signing_secret
        self._slack = slack
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _trigger_id(self) -> str | None:
        return self._slack.new_trigger_id() if self._slack is not None else None

    def _response_url(self, *, channel_id: str, user_id: str, message_ts: str | None) -> str:
        if self._slack is None:
            return ""
        return self._slack.response_url(
            channel_id=channel_id, user_id=user_id, message_ts=message_ts
        )

    async def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/deploy",
        user_name: str | None = None,
        forge: bool = False,
        stale: bool = False,
    ) -> tuple[int, str]:
        fields = slash_command_payload(
            text,
            user_id=user_id,
            channel_id=channel_id,
            command=command,
            user_name=user_name,
            response_url=self._response_url(
                channel_id=channel_id, user_id=user_id, message_ts=None
            ),
            trigger_id=self._trigger_id(),
        )
        status, body = await self.post(urlencode(fields), forge=forge, stale=stale)
        if status == 200 and self._slack is not None:
            self._slack.show_ack(channel_id=channel_id, user_id=user_id, body=body)
        return status, body

    async def block_action(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str,
        block_id: str = "deckhand-actions",
        forge: bool = False,
        stale: bool = False,
    ) -> tuple[int, str]:
        payload = block_actions_payload(
            user_id=user_id,
            channel_id=channel_id,
            message_ts=message_ts,
            action_id=action_id,
            value=value,
            block_id=block_id,
            response_url=self._response_url(
                channel_id=channel_id, user_id=user_id, message_ts=message_ts
            ),
            trigger_id=self._trigger_id(),
        )
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), forge=forge, stale=stale
        )

    async def view_submission(
        self,
        *,
        user_id: str,
        callback_id: str,
        values: dict[str, Any],
        private_metadata: str = "",
        forge: bool = False,
        stale: bool = False,
    ) -> tuple[int, str]:
        payload = view_submission_payload(
            user_id=user_id,
            callback_id=callback_id,
            values=values,
            private_metadata=private_metadata,
            trigger_id=self._trigger_id(),
        )
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), forge=forge, stale=stale
        )

    async def app_home_opened(
        self, *, user_id: str, tab: str = "home", forge: bool = False
    ) -> tuple[int, str]:
        """The Events API `event_callback` Slack sends when a user opens the app's Home."""
        payload = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {
                "type": "app_home_opened",
                "user": user_id,
                "channel": "D0" + user_id[-8:],
                "tab": tab,
                "event_ts": f"{time.time():.6f}",
            },
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
        }
        return await self.post(json.dumps(payload), forge=forge, content_type="application/json")

    async def post(
        self,
        body: str | bytes,
        *,
        forge: bool = False,
        stale: bool = False,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> tuple[int, str]:
        """POST a raw body (a form unless told), signed (or mis-signed) as asked."""
        if self._session is None:
            raise RuntimeError("use SlackSender as an async context manager")
        timestamp = int(time.time()) - (STALE_BY_S if stale else 0)
        secret = self._secret + "-forged" if forge else self._secret
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, secret=secret, timestamp=timestamp),
        }
        async with self._session.post(self.events_url, data=body, headers=headers) as resp:
            return resp.status, await resp.text()
