"""The Web API methods the local Slack answers, as functions of (workspace, params).

Each handler returns the JSON body slack.com would (`{"ok": true, ...}` or
`{"ok": false, "error": "<code>"}`) and applies the call's effect to the workspace.
Slack's refusals are modelled as slack.com answers them: Block Kit (`invalid_blocks`,
`msg_blocks_too_long`, see `sandbox.slack.blockkit`), writes where the bot is not a
member (`not_in_channel` / `channel_not_found`), trigger_ids past their 3 s
(`expired_trigger_id`). Scopes (`missing_scope`) are checked by `LocalSlack` from
`SCOPE_OF` / `needed_scope` before a handler runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.slack.blockkit import message_blocks_problem, view_errors
from sandbox.slack.store import Channel, EphemeralMessage, StoredMessage, Workspace, kind_of

BOT_USER_ID = "U0DECKHAND"
BOT_ID = "B0DECKHAND"
TEAM_ID = "T0SANDBOX"

MAX_TEXT = 40_000
"""chat.postMessage / chat.update refuse a longer `text` (`msg_too_long`)."""
TRIGGER_TTL_S = 3.0
"""A trigger_id works this long after the interaction that carried it."""

Json = dict[str, Any]
Handler = Callable[[Workspace, Json, str], Json]

# Web API method -> the bot scope it needs (None: none). conversations.info depends on
# the conversation's kind (`needed_scope`).
SCOPE_OF: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "chat.getPermalink": None,
    "users.info": "users:read",
    "usergroups.users.list": "usergroups:read",
    "conversations.info": "channels:read",
    "views.open": None,
    "views.update": None,
    "views.publish": None,
    "apps.connections.open": None,
}
_CONVERSATION_SCOPE = {"public": "channels:read", "private": "groups:read", "im": "im:read"}


def needed_scope(ws: Workspace, method: str, params: Json) -> str | None:
    """The scope `method` needs for these params (conversations.info: by the kind)."""
    if method == "conversations.info":
        channel = ws.channels.get(str(params.get("channel", "")))
        kind = channel.kind if channel is not None else kind_of(str(params.get("channel", "")))
        return _CONVERSATION_SCOPE[kind]
    return SCOPE_OF.get(method)


def _error(code: str, **extra: Any) -> Json:
    return {"ok": False, "error": code, **extra}


def _not_member(channel: Channel) -> Json | None:
    """Slack's answer to a write where the bot is not a member (python-slack-sdk#734):
    `not_in_channel` for a public channel, `channel_not_found` for a private one or a DM."""
    if channel.bot_member:
        return None
    return _error("not_in_channel" if channel.kind == "public" else "channel_not_found")


def _content(params: Json) -> tuple[str | None, list[dict[str, Any]] | None, Json | None]:
    """(text, blocks, error body) of a message-carrying call."""
    text = params.get("text")
    blocks = params.get("blocks")
    if blocks is not None:
        problem = message_blocks_problem(blocks)
        if problem is not None:
            code, errors = problem
            extra: Json = {}
            if errors:
                extra = {
                    "errors": errors,
                    "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
                }
            return None, None, _error(code, **extra)
    if not text and not blocks:
        return None, None, _error("no_text")
    if text is not None and len(str(text)) > MAX_TEXT:
        return None, None, _error("msg_too_long")
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
    channel = ws.channel(str(channel_id))
    refused = _not_member(channel)
    if refused is not None:
        return refused
    text, blocks, error = _content(params)
    if error is not None:
        return error
    thread_ts = params.get("thread_ts")
    message = store_message(
        ws, channel, text=text or "", blocks=blocks or [], thread_ts=thread_ts or None
    )
    if message is None:
        return _error("thread_not_found")
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": _message_json(message)}


def store_message(
    ws: Workspace,
    channel: Channel,
    *,
    text: str,
    blocks: list[dict[str, Any]],
    thread_ts: str | None = None,
) -> StoredMessage | None:
    """Add a bot message (or thread reply) to `channel`; None when the thread is unknown."""
    message = StoredMessage(
        channel=channel.id,
        ts=ws.next_ts(),
        text=text,
        blocks=blocks,
        user=BOT_USER_ID,
        thread_ts=str(thread_ts) if thread_ts else None,
    )
    if thread_ts:
        parent = channel.messages.get(str(thread_ts))
        if parent is None:
            return None
        parent.replies.append(message)
    else:
        channel.messages[message.ts] = message
    return message


def chat_update(ws: Workspace, params: Json, base: str) -> Json:
    channel_id, ts = str(params.get("channel", "")), str(params.get("ts", ""))
    if not channel_id:
        return _error("channel_not_found")
    refused = _not_member(ws.channel(channel_id))
    if refused is not None:
        return refused
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
    channel = ws.channel(str(channel_id))
    refused = _not_member(channel)
    if refused is not None:
        return refused
    text, blocks, error = _content(params)
    if error is not None:
        return error
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
    if channel.kind != "public" and not channel.bot_member:
        return _error("channel_not_found")  # a private channel or DM the bot is not in
    return {
        "ok": True,
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "is_channel": channel.kind == "public",
            "is_group": channel.kind == "private",
            "is_im": channel.kind == "im",
            "is_private": channel.kind != "public",
            "is_member": channel.bot_member,
        },
    }


def _invalid_view(view: object) -> Json | None:
    errors = view_errors(view)
    if not errors:
        return None
    return _error(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
    )


def views_open(ws: Workspace, params: Json, base: str) -> Json:
    trigger_id = str(params.get("trigger_id") or "")
    issued = ws.triggers.get(trigger_id)
    if issued is None:
        return _error("invalid_trigger_id")
    if ws.clock() - issued > TRIGGER_TTL_S:
        return _error("expired_trigger_id")
    view = params.get("view")
    invalid = _invalid_view(view)
    if invalid is not None or not isinstance(view, dict):
        return invalid or _error("invalid_arguments")
    opened = {**view, "id": f"V{len(ws.views) + 1:08d}", "team_id": TEAM_ID}
    ws.views.append(opened)
    return {"ok": True, "view": opened}


def views_update(ws: Workspace, params: Json, base: str) -> Json:
    view_id = str(params.get("view_id") or "")
    index = next((i for i, v in enumerate(ws.views) if v.get("id") == view_id), None)
    if index is None:
        return _error("not_found")
    view = params.get("view")
    invalid = _invalid_view(view)
    if invalid is not None or not isinstance(view, dict):
        return invalid or _error("invalid_arguments")
    updated = {**view, "id": view_id, "team_id": TEAM_ID}
    ws.views[index] = updated
    return {"ok": True, "view": updated}


def views_publish(ws: Workspace, params: Json, base: str) -> Json:
    user = str(params.get("user_id") or "")
    if user not in ws.users:
        return _error("user_not_found")
    view = params.get("view")
    invalid = _invalid_view(view)
    if invalid is not None or not isinstance(view, dict):
        return invalid or _error("invalid_arguments")
    if view.get("type") != "home":
        return _error("invalid_arguments")
    published = {**view, "id": f"VH{user}", "team_id": TEAM_ID}
    ws.home_views[user] = published
    return {"ok": True, "view": published}


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
    "views.update": views_update,
    "views.publish": views_publish,
    "apps.connections.open": apps_connections_open,
}


def apply_response(
    ws: Workspace, payload: Json, *, channel: str, user: str, message_ts: str | None
) -> str | None:
    """Apply a response_url post the way Slack renders it; the refusal code, or None.

    A response_url needs no membership: it answers in any conversation, DMs included.
    """
    text = str(payload.get("text", ""))
    blocks = payload.get("blocks") or []
    problem = message_blocks_problem(blocks)
    if problem is not None:
        return problem[0]
    if not text and not blocks and not payload.get("delete_original"):
        return "no_text"
    if message_ts is not None and payload.get("delete_original"):
        original = ws.find(channel, message_ts)
        if original is not None:
            original.deleted = True
        return None
    if message_ts is not None and payload.get("replace_original"):
        original = ws.find(channel, message_ts)
        if original is not None:
            original.edit(text=text, blocks=blocks)
        return None
    if payload.get("response_type") == "in_channel":
        store_message(ws, ws.channel(channel), text=text, blocks=blocks)
        return None
    ws.channel(channel).ephemerals.append(
        EphemeralMessage(channel=channel, user=user, text=text, blocks=blocks)
    )
    return None
