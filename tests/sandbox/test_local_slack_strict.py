"""The local Slack refuses what slack.com refuses (a stand-in is never kinder).

Covers: channel membership (`not_in_channel` for a public channel the bot wasn't
invited to, `channel_not_found` for a private channel or a DM; response_urls and ack
bodies work anywhere); scopes from manifest.yaml (`missing_scope` with needed/provided,
`x-oauth-scopes` on every answer, conversations.info's scope by conversation kind);
Block Kit validated by slack_sdk's models plus the limits they skip (button text and
value, unique block_id/action_id, the cumulative text of a message, views); trigger_id
expiry on the local clock; response_url expiry and invalid blocks there; Socket Mode
delivering to any one connection.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.slack import LocalSlack
from sandbox.slack.web_api import manifest_scopes


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def strict(clock: ManualClock) -> AsyncIterator[LocalSlack]:
    async with LocalSlack(clock=clock) as slack:
        slack.add_user("U0ALICE", "alice")
        slack.add_channel("C0DEPLOYS", "deploys")
        slack.add_channel("C0RANDOM", "random")
        slack.add_channel("G0SECRET", "secret")
        slack.invite_bot("C0DEPLOYS")
        yield slack


@pytest.fixture
async def call(strict: LocalSlack) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:

        async def do(method: str, **params: Any) -> tuple[dict[str, Any], Any]:
            headers = {"Authorization": f"Bearer {strict.bot_token}"}
            async with session.post(strict.api_url + method, json=params, headers=headers) as r:
                return await r.json(), r.headers

        yield do


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(label: str, action_id: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


@pytest.mark.parametrize(
    ("channel", "method", "error"),
    [
        ("C0RANDOM", "chat.postMessage", "not_in_channel"),
        ("C0RANDOM", "chat.postEphemeral", "not_in_channel"),
        ("C0RANDOM", "chat.update", "not_in_channel"),
        ("G0SECRET", "chat.postMessage", "channel_not_found"),
        ("D0ALICEDM", "chat.postMessage", "channel_not_found"),
        ("D0ALICEDM", "chat.postEphemeral", "channel_not_found"),
    ],
)
async def test_the_bot_writes_only_where_it_was_invited(
    call: Any, channel: str, method: str, error: str
) -> None:
    body, _ = await call(method, channel=channel, user="U0ALICE", ts="1.000001", text="hi")
    assert body == {"ok": False, "error": error}


async def test_an_invitation_lets_the_bot_post(strict: LocalSlack, call: Any) -> None:
    strict.invite_bot("C0RANDOM", "G0SECRET")
    for channel in ("C0RANDOM", "G0SECRET"):
        body, _ = await call("chat.postMessage", channel=channel, text="hi")
        assert body["ok"] is True
    strict.remove_bot("C0RANDOM")
    body, _ = await call("chat.postMessage", channel="C0RANDOM", text="hi")
    assert body["error"] == "not_in_channel"


async def test_conversations_info_tells_membership_and_hides_private_channels(
    call: Any,
) -> None:
    deploys, headers = await call("conversations.info", channel="C0DEPLOYS")
    assert deploys["channel"]["is_member"] is True
    assert headers["x-accepted-oauth-scopes"] == "channels:read"
    random_, _ = await call("conversations.info", channel="C0RANDOM")
    assert random_["channel"]["is_member"] is False
    secret, headers = await call("conversations.info", channel="G0SECRET")
    # groups:read is not in manifest.yaml, so Slack refuses before looking.
    expected = "channel_not_found" if "groups:read" in manifest_scopes() else "missing_scope"
    assert secret["error"] == expected


async def test_scopes_come_from_the_manifest_and_are_checked(clock: ManualClock) -> None:
    async with (
        LocalSlack(scopes=("commands",), clock=clock) as slack,
        aiohttp.ClientSession() as session,
    ):
        slack.invite_bot("C0DEPLOYS")
        headers = {"Authorization": f"Bearer {slack.bot_token}"}
        params = {"channel": "C0DEPLOYS", "text": "hi"}
        async with session.post(
            slack.api_url + "chat.postMessage", json=params, headers=headers
        ) as resp:
            body = await resp.json()
            assert resp.headers["x-oauth-scopes"] == "commands"
    assert body == {
        "ok": False,
        "error": "missing_scope",
        "needed": "chat:write",
        "provided": "commands",
    }
    async with LocalSlack() as default:
        assert default.scopes == manifest_scopes()
        assert {"commands", "chat:write"} <= set(default.scopes)


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "bogus"}], "invalid_blocks"),
        ([{"type": "section"}], "invalid_blocks"),  # neither text nor fields
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "invalid_blocks"),
        ([{"type": "actions", "elements": [button("x" * 76, "a")]}], "invalid_blocks"),
        ([{"type": "actions", "elements": [button("ok", "a", "v" * 2001)]}], "invalid_blocks"),
        (
            [{"type": "actions", "elements": [button("one", "a"), button("two", "a")]}],
            "invalid_blocks",
        ),
        ([section("a", block_id="b"), section("b", block_id="b")], "invalid_blocks"),
        ([{"type": "divider"}] * 51, "invalid_blocks"),
        ([section("x" * 2900) for _ in range(5)], "msg_blocks_too_long"),
    ],
)
async def test_block_kit_is_validated_as_slack_does(
    call: Any, blocks: list[dict[str, Any]], error: str
) -> None:
    body, _ = await call("chat.postMessage", channel="C0DEPLOYS", text="t", blocks=blocks)
    assert body["error"] == error
    if error == "invalid_blocks":
        assert body["errors"]
        assert "json-pointer:/blocks" in body["response_metadata"]["messages"][0]


async def test_a_text_over_40k_characters_is_refused(call: Any) -> None:
    body, _ = await call("chat.postMessage", channel="C0DEPLOYS", text="x" * 40_001)
    assert body == {"ok": False, "error": "msg_too_long"}


async def test_valid_blocks_pass(call: Any) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
        section("x" * 3000),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "hi"}]},
        {"type": "actions", "elements": [button("Roll back", "a"), button("Cancel", "b")]},
    ]
    body, _ = await call("chat.postMessage", channel="C0DEPLOYS", text="t", blocks=blocks)
    assert body["ok"] is True


def modal(**extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "deckhand:reject",
        "title": {"type": "plain_text", "text": "Reject"},
        "blocks": [section("why?")],
        **extra,
    }


async def test_trigger_ids_expire_three_seconds_after_the_interaction(
    strict: LocalSlack, clock: ManualClock, call: Any
) -> None:
    assert (await call("views.open", trigger_id="made-up", view=modal()))[0]["error"] == (
        "invalid_trigger_id"
    )
    fresh = strict.new_trigger_id()
    clock.now += 2.9
    assert (await call("views.open", trigger_id=fresh, view=modal()))[0]["ok"] is True
    late = strict.new_trigger_id()
    clock.now += 3.1
    assert (await call("views.open", trigger_id=late, view=modal()))[0]["error"] == (
        "expired_trigger_id"
    )


@pytest.mark.parametrize(
    "view",
    [
        modal(title={"type": "plain_text", "text": "x" * 25}),
        modal(private_metadata="x" * 3001),
        modal(blocks=[section("x")] * 101),
        modal(blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]),
    ],
)
async def test_invalid_views_are_refused(strict: LocalSlack, call: Any, view: Any) -> None:
    body, _ = await call("views.open", trigger_id=strict.new_trigger_id(), view=view)
    assert body["error"] == "invalid_arguments"
    assert body["response_metadata"]["messages"]
    assert strict.workspace.views == []


async def test_response_urls_work_anywhere_but_expire_and_check_blocks(
    strict: LocalSlack, clock: ManualClock
) -> None:
    dm = strict.response_url(channel_id="D0ALICEDM", user_id="U0ALICE")
    stranger = strict.response_url(channel_id="C0RANDOM", user_id="U0ALICE")
    old = strict.response_url(channel_id="C0RANDOM", user_id="U0ALICE")
    async with aiohttp.ClientSession() as session:

        async def post(url: str, payload: dict[str, Any]) -> tuple[int, str]:
            async with session.post(url, json=payload) as resp:
                return resp.status, await resp.text()

        assert await post(dm, {"text": "help"}) == (200, "ok")
        assert await post(stranger, {"text": "refused"}) == (200, "ok")
        bad = {"text": "x", "blocks": [{"type": "bogus"}]}
        assert await post(stranger, bad) == (400, "invalid_blocks")
        clock.now += 30 * 60 + 1
        assert await post(old, {"text": "late"}) == (404, "expired_url")
    assert strict.responses_to(dm) == [{"text": "help"}]
    assert sorted(e.text for e in strict.ephemerals(user_id="U0ALICE")) == ["help", "refused"]


async def test_an_ack_body_is_shown_to_the_requester(strict: LocalSlack) -> None:
    strict.show_ack(channel_id="D0ALICEDM", user_id="U0ALICE", body='{"text": "restarting"}')
    strict.show_ack(channel_id="D0ALICEDM", user_id="U0ALICE", body="")
    assert [e.text for e in strict.ephemerals(user_id="U0ALICE")] == ["restarting"]


async def test_socket_mode_delivers_to_any_open_connection(strict: LocalSlack) -> None:
    strict.socket._rng = random.Random(7)
    received = [0, 0]
    async with aiohttp.ClientSession() as session:
        url = strict.socket.url(strict.base_url)
        sockets = [await session.ws_connect(url) for _ in range(2)]

        async def answer(index: int) -> None:
            async for msg in sockets[index]:
                data = json.loads(msg.data)
                if "envelope_id" in data:
                    received[index] += 1
                    await sockets[index].send_json({"envelope_id": data["envelope_id"]})

        async with asyncio.TaskGroup() as group:
            for i in (0, 1):
                group.create_task(answer(i))
            await strict.socket.wait_connections(2, within_s=3)
            for _ in range(12):
                await strict.socket.deliver("events_api", {}, within_s=3)
            for ws in sockets:
                await ws.close()
    assert sum(received) == 12
    assert min(received) > 0  # not always the newest connection
