"""Deckhand in HTTP mode, end to end: signed requests through aiohttp and Bolt.

Covers: the ack comes while the backend still works; signature and timestamp
verification (401, backend untouched); the contexts handed to the backend; unexpected
backend errors (ephemeral + correlation id in the log); response_url answers; the
"restarting" ack during shutdown; /healthz and /readyz; the
total door: bodies that are not UTF-8, garbage JSON, not an object, huge, truncated or
unsigned get a 4xx and one WARNING line, never a 500 or an ERROR.
"""

from __future__ import annotations

import asyncio
import logging
import re

import aiohttp
import pytest

from bot.lifecycle import Readiness
from bot.slack.contexts import CommandContext
from commands import texts
from tests.fixtures.slack import SlackStack

CHANNEL = "C0DEPLOYS"


async def wait_for(event: asyncio.Event, *, within_s: float = 3.0) -> None:
    async with asyncio.timeout(within_s):
        await event.wait()


async def test_slash_command_is_acked_at_once_while_the_backend_works(
    deckhand_slack: SlackStack,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def slow(request: CommandContext) -> None:
        started.set()
        await release.wait()  # held until the test has its ack
        finished.set()

    deckhand_slack.backend.on_command = slow
    # Event order, not a stopwatch: the ack arrives while the backend is still held (an
    # ack that waited for the work would never come; the deadline fails it then).
    async with asyncio.timeout(10):
        status, body = await deckhand_slack.sender.slash_command(
            "api 237c6b8", user_id="U0ALICE", channel_id=CHANNEL, user_name="alice"
        )
    assert status == 200
    assert body == ""
    await wait_for(started)
    names = {t.get_name() for t in deckhand_slack.supervisor.tasks}
    release.set()
    await wait_for(finished)
    (request,) = deckhand_slack.backend.commands
    assert request.command == "/deploy"
    assert request.text == "api 237c6b8"
    assert (request.user_id, request.user_name, request.channel_id) == ("U0ALICE", "alice", CHANNEL)
    assert request.response_url
    assert request.response_url.startswith(deckhand_slack.slack.base_url)
    assert request.trigger_id
    assert re.fullmatch(r"[0-9a-f]{8}", request.correlation_id)
    assert f"command:{request.correlation_id}" in names


@pytest.mark.parametrize(("forge", "stale"), [(True, False), (False, True)])
async def test_bad_signature_or_stale_timestamp_is_rejected(
    deckhand_slack: SlackStack, forge: bool, stale: bool
) -> None:
    status, _ = await deckhand_slack.sender.slash_command(
        "api 237c6b8", user_id="U0ALICE", channel_id=CHANNEL, forge=forge, stale=stale
    )
    assert status == 401
    status, _ = await deckhand_slack.sender.block_action(
        user_id="U0ALICE",
        channel_id=CHANNEL,
        message_ts="1.000001",
        action_id="deckhand:approve",
        value="r1",
        forge=forge,
        stale=stale,
    )
    assert status == 401
    # A signed command sent after them is handled: had either been dispatched, it would
    # have reached the backend first (Bolt runs the listener before answering, so each
    # request's work is spawned before its answer comes back, in the order they came).
    status, _ = await deckhand_slack.sender.slash_command(
        "status api", user_id="U0ALICE", channel_id=CHANNEL
    )
    assert status == 200
    await wait_for(deckhand_slack.backend.done)
    assert [c.text for c in deckhand_slack.backend.commands] == ["status api"]
    assert deckhand_slack.backend.actions == []
    assert deckhand_slack.slack.calls_to("chat.postEphemeral") == []
    assert deckhand_slack.slack.responses == []


async def test_unexpected_backend_error_tells_the_user_an_id_that_is_in_the_log(
    deckhand_slack: SlackStack, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: CommandContext) -> None:
        raise KeyError("boom")

    deckhand_slack.backend.on_command = broken
    with caplog.at_level(logging.ERROR, logger="bot.slack.handlers"):
        status, _ = await deckhand_slack.sender.slash_command(
            "api 237c6b8", user_id="U0BOB", channel_id=CHANNEL
        )
        assert status == 200
        await deckhand_slack.slack.wait_for_ephemeral(user_id="U0BOB")
    (message,) = deckhand_slack.slack.ephemerals(user_id="U0BOB")
    found = re.search(r"error id `([0-9a-f]{8})`", message.text)
    assert found is not None
    correlation_id = found.group(1)
    (record,) = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError
    assert deckhand_slack.backend.commands[0].correlation_id == correlation_id


async def test_other_action_ids_are_not_handled(deckhand_slack: SlackStack) -> None:
    status, _ = await deckhand_slack.sender.block_action(
        user_id="U0ALICE", channel_id=CHANNEL, message_ts="1.1", action_id="other:x", value="v"
    )
    assert status == 404
    assert deckhand_slack.backend.actions == []


async def test_during_shutdown_the_ack_says_restarting(deckhand_slack: SlackStack) -> None:
    await deckhand_slack.supervisor.close(grace_s=1)
    status, body = await deckhand_slack.sender.slash_command(
        "api 237c6b8", user_id="U0ALICE", channel_id=CHANNEL
    )
    assert status == 200
    assert body == texts.restarting()
    assert deckhand_slack.backend.commands == []


async def test_health_and_readiness(deckhand_slack: SlackStack) -> None:
    async with aiohttp.ClientSession() as session:

        async def get(path: str) -> tuple[int, str]:
            async with session.get(deckhand_slack.url + path) as resp:
                return resp.status, await resp.text()

        assert await get("/healthz") == (200, "ok")
        assert await get("/readyz") == (200, "ready")
        deckhand_slack.readiness.state = Readiness.STOPPING
        assert await get("/readyz") == (503, "stopping")
        assert await get("/healthz") == (200, "ok")
        deckhand_slack.readiness.state = Readiness.STARTING
        assert await get("/readyz") == (503, "starting")


HUGE = b"payload=" + b"x" * (300 * 1024)


@pytest.mark.parametrize(
    ("body", "content_type", "signed", "expected"),
    [
        (b"payload=\xff\xfe\xfa{}", "application/x-www-form-urlencoded", True, 400),
        (b"\x80\x81 not utf-8", "application/json", True, 400),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded", True, 400),
        (b"{not json", "application/json", True, 400),
        (b"[1, 2, 3]", "application/json", True, 400),
        (b"payload=%5B1%5D", "application/x-www-form-urlencoded", True, 400),
        (
            b'payload={"type":"block_actions","team":"T1"}',
            "application/x-www-form-urlencoded",
            True,
            404,
        ),
        (HUGE, "application/x-www-form-urlencoded", True, 413),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded", False, 401),
        (b"\xff\xfe", "text/plain", False, 401),
    ],
)
async def test_any_body_gets_a_4xx_and_one_warning(
    deckhand_slack: SlackStack,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    signed: bool,
    expected: int,
) -> None:
    with caplog.at_level(logging.DEBUG):
        status, _ = await deckhand_slack.sender.post(
            body, content_type=content_type, forge=not signed
        )
    assert status == expected
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1, [r.getMessage() for r in warned]  # one line, no traceback
    assert warned[0].exc_info is None
    assert deckhand_slack.backend.commands == []
    assert deckhand_slack.backend.actions == []


async def test_a_truncated_body_is_refused_without_an_error(
    deckhand_slack: SlackStack, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = deckhand_slack.url.removeprefix("http://").rsplit(":", 1)
    with caplog.at_level(logging.DEBUG):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 4000\r\n\r\npayload=%7B%22ty"
        )
        await writer.drain()
        writer.write_eof()
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        await writer.wait_closed()
    assert not answer or answer.split(b" ")[1].startswith(b"4"), answer[:80]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert deckhand_slack.backend.commands == []
    assert deckhand_slack.backend.actions == []
