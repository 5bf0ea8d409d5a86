"""The local Slack (`sandbox.slack`): Web API answers, state, failures, response_urls, signing.

Covers: token checks (not_authed / invalid_auth, app token only for
apps.connections.open); messages, edits, thread replies, ephemerals, permalinks, users,
usergroups, conversations, views; Block Kit validation; injected 429 (Retry-After) /
500 / error answers; response_url semantics and its 5-use limit; the sender's
signatures verified by slack_sdk's own `SignatureVerifier`; calls never record tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from sandbox.slack import LocalSlack, SlackSender


@pytest.fixture
async def api(local_slack: LocalSlack) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:

        async def call(
            method: str, token: str | None = local_slack.bot_token, **params: Any
        ) -> tuple[int, dict[str, Any], Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.post(
                local_slack.api_url + method, json=params, headers=headers
            ) as resp:
                return resp.status, await resp.json(), resp.headers

        yield call


async def test_tokens_are_checked(local_slack: LocalSlack, api: Any) -> None:
    assert (await api("auth.test", token=None))[1] == {"ok": False, "error": "not_authed"}
    assert (await api("auth.test", token="xoxb-nope"))[1]["error"] == "invalid_auth"
    assert (await api("auth.test"))[1]["ok"] is True
    assert (await api("apps.connections.open"))[1]["error"] == "invalid_auth"
    body = (await api("apps.connections.open", token=local_slack.app_token))[1]
    assert body["url"].startswith("ws://127.0.0.1:")
    assert all("token" not in c.params for c in local_slack.calls)


async def test_messages_edits_threads_and_ephemerals(local_slack: LocalSlack, api: Any) -> None:
    _, posted, _ = await api("chat.postMessage", channel="C0DEPLOYS", text="deploying")
    ts = posted["ts"]
    assert posted["channel"] == "C0DEPLOYS"
    assert posted["message"]["text"] == "deploying"
    _, reply, _ = await api("chat.postMessage", channel="C0DEPLOYS", text="log", thread_ts=ts)
    assert reply["message"]["thread_ts"] == ts
    _, updated, _ = await api("chat.update", channel="C0DEPLOYS", ts=ts, text="deployed")
    assert updated["text"] == "deployed"
    assert (await api("chat.update", channel="C0DEPLOYS", ts="9.9", text="x"))[1][
        "error"
    ] == "message_not_found"
    await api("chat.postEphemeral", channel="C0DEPLOYS", user="U0BOB", text="only you")
    _, link, _ = await api("chat.getPermalink", channel="C0DEPLOYS", message_ts=ts)
    assert link["permalink"].endswith(f"/archives/C0DEPLOYS/p{ts.replace('.', '')}")

    message = local_slack.message("C0DEPLOYS", ts)
    assert message.text == "deployed"
    assert message.history == [("deploying", [])]
    assert [r.text for r in message.replies] == ["log"]
    assert local_slack.message("C0DEPLOYS", reply["ts"]).text == "log"
    assert [m.ts for m in local_slack.messages("C0DEPLOYS")] == [ts]
    (eph,) = local_slack.ephemerals(user_id="U0BOB")
    assert (eph.channel, eph.text) == ("C0DEPLOYS", "only you")


async def test_directory_and_views(local_slack: LocalSlack, api: Any) -> None:
    # manifest.yaml asks no users:read (nothing calls users.info): Slack says so.
    refused = (await api("users.info", user="U0ALICE"))[1]
    assert (refused["error"], refused["needed"]) == ("missing_scope", "users:read")
    assert (await api("usergroups.users.list", usergroup="S0DEPLOYERS"))[1]["users"] == ["U0ALICE"]
    assert (await api("usergroups.users.list", usergroup="S0X"))[1]["error"] == "no_such_subteam"
    assert (await api("conversations.info", channel="C0DEPLOYS"))[1]["channel"]["name"] == "deploys"
    modal = {
        "type": "modal",
        "callback_id": "deckhand:why",
        "title": {"type": "plain_text", "text": "Why?"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Tell us"}}],
    }
    trigger = local_slack.new_trigger_id()
    _, opened, _ = await api("views.open", trigger_id=trigger, view=modal)
    assert opened["view"]["callback_id"] == "deckhand:why"
    assert local_slack.workspace.views == [opened["view"]]


async def test_block_kit_limits_are_enforced(api: Any) -> None:
    too_many = [{"type": "divider"}] * 51
    _, body, _ = await api("chat.postMessage", channel="C0DEPLOYS", text="x", blocks=too_many)
    assert body["error"] == "invalid_blocks"
    long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert (await api("chat.postMessage", channel="C0DEPLOYS", blocks=long))[1]["error"] == (
        "invalid_blocks"
    )
    assert (await api("chat.postMessage", channel="C0DEPLOYS"))[1]["error"] == "no_text"


async def test_injected_failures(local_slack: LocalSlack, api: Any) -> None:
    local_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    local_slack.fail_next("chat.postMessage", status=500, retry_after=None)
    local_slack.fail_next("chat.postMessage", error="channel_not_found")
    status, body, headers = await api("chat.postMessage", channel="C0DEPLOYS", text="a")
    assert (status, body, headers["Retry-After"]) == (
        429,
        {"ok": False, "error": "ratelimited"},
        "7",
    )
    status, body, headers = await api("chat.postMessage", channel="C0DEPLOYS", text="a")
    assert (status, body["error"], "Retry-After" in headers) == (500, "internal_error", False)
    assert (await api("chat.postMessage", channel="C0DEPLOYS", text="a"))[1]["error"] == (
        "channel_not_found"
    )
    assert (await api("chat.postMessage", channel="C0DEPLOYS", text="a"))[1]["ok"] is True
    assert len(local_slack.calls_to("chat.postMessage")) == 4


async def test_response_urls(local_slack: LocalSlack) -> None:
    ts = local_slack.seed_message("C0DEPLOYS", "Approve?")
    bound = local_slack.response_url(channel_id="C0DEPLOYS", user_id="U0ALICE", message_ts=ts)
    loose = local_slack.response_url(channel_id="C0DEPLOYS", user_id="U0ALICE")
    async with aiohttp.ClientSession() as session:

        async def post(url: str, payload: dict[str, Any]) -> int:
            async with session.post(url, json=payload) as resp:
                return resp.status

        assert await post(bound, {"text": "Approved", "replace_original": True}) == 200
        assert await post(loose, {"text": "just you"}) == 200
        assert await post(loose, {"text": "everyone", "response_type": "in_channel"}) == 200
        for _ in range(3):
            assert await post(loose, {"text": "again"}) == 200
        assert await post(loose, {"text": "sixth"}) == 404  # used_url
        assert await post(local_slack.base_url + "/response/R9999", {"text": "?"}) == 404
    assert local_slack.message("C0DEPLOYS", ts).text == "Approved"
    assert local_slack.ephemerals(user_id="U0ALICE")[0].text == "just you"
    assert [m.text for m in local_slack.messages("C0DEPLOYS")] == ["Approved", "everyone"]
    assert len(local_slack.responses) == 6


async def test_sender_signs_like_slack(local_slack: LocalSlack) -> None:
    received: list[tuple[str, dict[str, str]]] = []

    async def events(request: web.Request) -> web.Response:
        received.append((await request.text(), dict(request.headers)))
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        async with SlackSender(url, "s3cret", slack=local_slack) as sender:
            await sender.slash_command("api 1a2b3c4", user_id="U0ALICE", channel_id="C0DEPLOYS")
            await sender.block_action(
                user_id="U0ALICE",
                channel_id="C0DEPLOYS",
                message_ts="1.1",
                action_id="deckhand:approve",
                value="r",
            )
            await sender.view_submission(user_id="U0ALICE", callback_id="deckhand:why", values={})
            await sender.slash_command("x", user_id="U0ALICE", channel_id="C0", forge=True)
            await sender.slash_command("x", user_id="U0ALICE", channel_id="C0", stale=True)
    finally:
        await runner.cleanup()
    verifier = SignatureVerifier("s3cret")
    valid = [verifier.is_valid_request(body, headers) for body, headers in received]
    assert valid == [True, True, True, False, False]
    command = parse_qs(received[0][0])
    assert command["text"] == ["api 1a2b3c4"]
    assert command["response_url"][0].startswith(local_slack.base_url + "/response/")
    action = json.loads(parse_qs(received[1][0])["payload"][0])
    assert action["actions"][0]["action_id"] == "deckhand:approve"
    assert action["container"]["message_ts"] == "1.1"
    stale_ts = int(received[4][1]["X-Slack-Request-Timestamp"])
    assert time.time() - stale_ts >= 300
