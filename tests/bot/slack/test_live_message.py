"""`LiveMessage` against the local Slack: coalescing, pacing, retries, the final state.

Covers: many rapid updates become few chat.update calls and the final state wins; the
interval between updates; 429 + Retry-After and 500 are retried and the final state
still arrives; a final state that cannot be delivered raises `FinalUpdateFailed`
(after retries, past the deadline, or when Retry-After exceeds the cap); a failed
intermediate update is superseded; thread replies; Block Kit limits on the wire.
Intervals are 50 ms (settings), so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.lifecycle import Supervisor
from bot.settings import Settings
from bot.slack.client import FinalUpdateFailed, SlackCallFailed, open_web_client
from bot.slack.live_message import LiveMessage
from sandbox.slack import LocalSlack
from tests.fixtures.slack import make_slack_settings

CHANNEL = "C0DEPLOYS"


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def post(
    client: AsyncWebClient,
    supervisor: Supervisor,
    settings: Settings,
    *,
    finish_timeout_s: float | None = None,
) -> LiveMessage:
    return await LiveMessage.post(
        client,
        [section("starting")],
        text="starting",
        channel=CHANNEL,
        supervisor=supervisor,
        interval_s=settings.slack_update_interval_s,
        finish_timeout_s=finish_timeout_s or settings.slack_finish_timeout_s,
    )


async def test_rapid_updates_are_coalesced_and_the_final_state_wins(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    for i in range(10):
        live.update([section(f"step {i}")], text=f"step {i}")
    await local_slack.wait_for_call("chat.update")  # after one interval: the newest state
    for i in range(10, 20):
        live.update([section(f"step {i}")], text=f"step {i}")
    await live.finish([section("done :white_check_mark:")], text="done")
    updates = local_slack.calls_to("chat.update")
    assert 2 <= len(updates) <= 3
    assert updates[0].params["text"] == "step 9"  # intermediate states were skipped
    message = local_slack.message(CHANNEL, live.ts)
    assert message.text == "done"
    assert message.blocks == [section("done :white_check_mark:")]
    assert len(local_slack.messages(CHANNEL)) == 1  # one channel message, edited in place


async def test_updates_are_paced_by_the_interval(
    local_slack: LocalSlack, slack_web_client: AsyncWebClient, slack_supervisor: Supervisor
) -> None:
    interval = 0.05
    live = await LiveMessage.post(
        slack_web_client,
        [],
        text="starting",
        channel=CHANNEL,
        supervisor=slack_supervisor,
        interval_s=interval,
        finish_timeout_s=5,
    )
    for i in range(6):
        live.update([], text=f"step {i}")
        await asyncio.sleep(interval / 3)
    await live.finish([], text="done")
    times = [c.at for c in local_slack.calls if c.method in ("chat.postMessage", "chat.update")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps
    assert min(gaps) >= interval * 0.9


async def test_rate_limit_on_the_final_update_is_waited_out(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    local_slack.fail_next("chat.update", status=429, retry_after=1)
    began = time.monotonic()
    await live.finish([section("done")], text="done")
    assert time.monotonic() - began >= 1.0  # Retry-After honoured
    first, second = local_slack.calls_to("chat.update")
    assert second.at - first.at >= 1.0
    assert local_slack.message(CHANNEL, live.ts).text == "done"
    assert "rate-limited: retry 1/3 after 1.0s" in caplog.text
    assert local_slack.bot_token not in caplog.text


async def test_server_error_then_success(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    local_slack.fail_next("chat.update", status=500, retry_after=None, times=2)
    await live.finish([section("done")], text="done")
    assert len(local_slack.calls_to("chat.update")) == 3
    assert local_slack.message(CHANNEL, live.ts).text == "done"
    assert "chat.update failed (HTTP 500): retry 2/3" in caplog.text


async def test_final_update_failing_after_retries_is_reported(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    local_slack.fail_next("chat.update", status=500, retry_after=None, times=10)
    with pytest.raises(FinalUpdateFailed) as failed:
        await live.finish([section("done")], text="done")
    assert (failed.value.channel, failed.value.ts, failed.value.text) == (CHANNEL, live.ts, "done")
    assert failed.value.blocks == [section("done")]
    assert len(local_slack.calls_to("chat.update")) == 1 + slack_settings.slack_max_retries
    assert local_slack.message(CHANNEL, live.ts).text == "starting"


async def test_retry_after_beyond_the_cap_gives_up_at_once(
    local_slack: LocalSlack, slack_supervisor: Supervisor
) -> None:
    settings = make_slack_settings(local_slack, slack_max_retry_after_s=2.0)
    async with open_web_client(settings) as client:
        live = await post(client, slack_supervisor, settings)
        local_slack.fail_next("chat.update", status=429, retry_after=60)
        with pytest.raises(FinalUpdateFailed, match="ratelimited"):
            await live.finish([section("done")], text="done")
    assert len(local_slack.calls_to("chat.update")) == 1


async def test_final_update_has_a_deadline(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings, finish_timeout_s=0.3)
    local_slack.fail_next("chat.update", status=429, retry_after=3)
    with pytest.raises(FinalUpdateFailed, match="within"):
        await live.finish([section("done")], text="done")
    # The deadline ended it, not the retry: the call after Retry-After never came.
    assert len(local_slack.calls_to("chat.update")) == 1
    assert local_slack.message(CHANNEL, live.ts).text == "starting"


async def test_failed_intermediate_update_is_superseded(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    local_slack.fail_next("chat.update", error="ratelimited_but_200")
    live.update([section("step 1")], text="step 1")
    await local_slack.wait_for_call("chat.update")
    live.update([section("step 2")], text="step 2")
    await local_slack.wait_for_call("chat.update", count=2)
    await live.finish([section("done")], text="done")
    assert [c.params["text"] for c in local_slack.calls_to("chat.update")] == [
        "step 1",
        "step 2",
        "done",
    ]
    assert local_slack.message(CHANNEL, live.ts).history[-1][0] == "step 2"
    with pytest.raises(RuntimeError):
        live.update([], text="too late")


async def test_thread_replies_and_block_limits(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    reply_ts = await live.reply_in_thread("pod api-1: ImagePullBackOff")
    many = [section("x" * 5000) for _ in range(60)]
    await live.finish(many, text="y" * 10_000)
    message = local_slack.message(CHANNEL, live.ts)
    assert [r.ts for r in message.replies] == [reply_ts]
    assert message.replies[0].text == "pod api-1: ImagePullBackOff"
    # Slack would refuse 60 × 3,000 characters (msg_blocks_too_long): fewer are kept.
    assert len(message.blocks) < 50
    assert message.blocks[0]["text"]["text"].endswith("… (truncated)")
    assert len(message.blocks[0]["text"]["text"]) == 3000
    assert "more blocks not shown" in message.blocks[-1]["elements"][0]["text"]


async def test_post_failure_is_translated(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    local_slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackCallFailed, match="channel_not_found"):
        await post(slack_web_client, slack_supervisor, slack_settings)


async def test_updates_during_shutdown_are_dropped_but_the_final_state_is_sent(
    local_slack: LocalSlack,
    slack_web_client: AsyncWebClient,
    slack_supervisor: Supervisor,
    slack_settings: Settings,
) -> None:
    live = await post(slack_web_client, slack_supervisor, slack_settings)
    await slack_supervisor.close(grace_s=1)
    live.update([section("step 1")], text="step 1")  # no error: nothing to spawn it on
    await live.finish([section("interrupted")], text="interrupted")
    assert [c.params["text"] for c in local_slack.calls_to("chat.update")] == ["interrupted"]
