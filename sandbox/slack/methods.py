"""The Web API methods the local Slack answers, as functions of (workspace, params).

Each handler returns the JSON body slack.com would (`{"ok": true, ...}` or
`{"ok": false, "error": "<code>"}`) and applies the call's effect to the workspace.
Block Kit limits are checked like Slack does (`invalid_blocks`), so code that forgets
to truncate fails here the way it would in production.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.slack.store import EphemeralMessage, StoredMessage, Workspace

BOT_USER_ID = "U0DECKHAND"
BOT_ID = "B0DECKHAND"
TEAM_ID = "T0SANDBOX"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_BUTTON_TEXT = 75

Json = dict[str, Any]
Handler = Callable[[Workspace, Json, str], Json]


def _error(code: str) -> Json:
    return {"ok": False, "error": code}


def blocks_problem(blocks: object) -> str | None:
    """Why Slack would reject these blocks (None when it would accept them)."""
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > MAX_BLOCKS:
        return f"{len(blocks)} blocks > {MAX_BLOCKS}"
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "a block without a type"
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            return f"section text > {MAX_SECTION_TEXT} chars"
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and element.get("type") == "button":
                label = element.get("text", {}).get("text", "")
                if len(label) > MAX_BUTTON_TEXT:
                    return f"button text > {MAX_BUTTON_TEXT} chars"
    return None


def _content(params: Json) -> tuple[str | None, list[dict[str, Any]] | None, Json | None]:
    """(text, blocks, error body) of a message-carrying call."""
    text = params.get("text")
    blocks = params.get("blocks")
    if blocks is not None:
        problem = blocks_problem(blocks)
        if problem is not None:
            return None, None, {"ok": False, "error": "invalid_blocks", "errors": [problem]}
    if not text and not blocks:
        return None, None, _error("no_text")
    return (str(text) if text is not None else None), blocks, None


def _message_json(message: StoredMessage) -> Json:
    body: Json = {
        "type": "message",
        "user": message.user,
        "bot_id": BOT_ID,
        "text": message.text,
        "blocks": message.blocks,
        "ts": message.ts,
    }
    if message.thread_ts is not None:
        body["thread_ts"] = message.thread_ts
    return body


def auth_test(ws: Workspace, params: Json, base: str) -> Json:
    return {
        "ok": True,
        "url": f"{base}/",
        "team": "Deckhand Sandbox",
        "user": "deckhand",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def chat_post_message(ws: Workspace, params: Json, base: str) -> Json:
    channel_id = params.get("channel")
    if not channel_id:
        return _error("channel_not_found")
    text, blocks, error = _content(params)
    if error is not None:
        return error
    channel = ws.channel(str(channel_id))
    thread_ts = params.get("thread_ts")
    message = StoredMessage(
        channel=channel.id,
        ts=ws.next_ts(),
        text=text or "",
        blocks=blocks or [],
        user=BOT_USER_ID,
        thread_ts=str(thread_ts) if thread_ts else None,
    )
    if thread_ts:
        parent = channel.messages.get(str(thread_ts))
        if parent is None:
            return _error("thread_not_found")
        parent.replies.append(message)
    else:
        channel.messages[message.ts] = message
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": _message_json(message)}


def chat_update(ws: Workspace, params: Json, base: str) -> Json:
    channel_id, ts = str(params.get("channel", "")), str(params.get("ts", ""))
    message = ws.find(channel_id, ts)
    if message is None or message.deleted:
        return _error("message_not_found")
    text, blocks, error = _content(params)
    if error is not None:
        return error
    message.edit(text=text, blocks=blocks)
    return {
        "ok": True,
        "channel": channel_id,
        "ts": ts,
        "text": message.text,
        "message": _message_json(message),
    }


def chat_post_ephemeral(ws: Workspace, params: Json, base: str) -> Json:
    channel_id, user = params.get("channel"), params.get("user")
    if not channel_id:
        return _error("channel_not_found")
    if not user:
        return _error("user_not_found")
    text, blocks, error = _content(params)
    if error is not None:
        return error
    channel = ws.channel(str(channel_id))
    thread_ts = params.get("thread_ts")
    channel.ephemerals.append(
        EphemeralMessage(
            channel=channel.id,
            user=str(user),
            text=text or "",
            blocks=blocks or [],
            thread_ts=str(thread_ts) if thread_ts else None,
        )
    )
    return {"ok": True, "message_ts": ws.next_ts()}


def chat_get_permalink(ws: Workspace, params: Json, base: str) -> Json:
    channel_id, ts = str(params.get("channel", "")), str(params.get("message_ts", ""))
    if ws.find(channel_id, ts) is None:
        return _error("message_not_found")
    return {
        "ok": True,
        "channel": channel_id,
        "permalink": f"{base}/archives/{channel_id}/p{ts.replace('.', '')}",
    }


def users_info(ws: Workspace, params: Json, base: str) -> Json:
    user = ws.users.get(str(params.get("user", "")))
    if user is None:
        return _error("user_not_found")
    return {"ok": True, "user": user.as_json()}


def usergroups_users_list(ws: Workspace, params: Json, base: str) -> Json:
    group = ws.usergroups.get(str(params.get("usergroup", "")))
    if group is None:
        return _error("no_such_subteam")
    return {"ok": True, "users": list(group.members)}


def conversations_info(ws: Workspace, params: Json, base: str) -> Json:
    channel_id = str(params.get("channel", ""))
    if not channel_id:
        return _error("channel_not_found")
    channel = ws.channel(channel_id)
    return {
        "ok": True,
        "channel": {"id": channel.id, "name": channel.name, "is_channel": True, "is_member": True},
    }


def views_open(ws: Workspace, params: Json, base: str) -> Json:
    if not params.get("trigger_id"):
        return _error("invalid_trigger_id")
    view = params.get("view")
    if not isinstance(view, dict):
        return _error("invalid_arguments")
    opened = {**view, "id": f"V{len(ws.views) + 1:08d}", "team_id": TEAM_ID}
    ws.views.append(opened)
    return {"ok": True, "view": opened}


def apps_connections_open(ws: Workspace, params: Json, base: str) -> Json:
    # The URL needs the socket server; `LocalSlack` answers this one itself.
    return _error("not_allowed_token_type")


HANDLERS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "conversations.info": conversations_info,
    "views.open": views_open,
    "apps.connections.open": apps_connections_open,
}


def apply_response(
    ws: Workspace, payload: Json, *, channel: str, user: str, message_ts: str | None
) -> None:
    """Apply a response_url post the way Slack renders it."""
    text = str(payload.get("text", ""))
    blocks = payload.get("blocks") or []
    if message_ts is not None and payload.get("delete_original"):
        original = ws.find(channel, message_ts)
        if original is not None:
            original.deleted = True
        return
    if message_ts is not None and payload.get("replace_original"):
        original = ws.find(channel, message_ts)
        if original is not None:
            original.edit(text=text, blocks=blocks)
        return
    if payload.get("response_type") == "in_channel":
        chat_post_message(ws, {"channel": channel, "text": text, "blocks": blocks}, "")
        return
    ws.channel(channel).ephemerals.append(
        EphemeralMessage(channel=channel, user=user, text=text, blocks=blocks)
    )
