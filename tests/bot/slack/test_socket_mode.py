"""Socket Mode and the runner: mode selection, a real websocket session, `run()`.

Covers: `uses_socket_mode` picks Socket Mode only for an xapp- token; the Slack front
door (`bot.app.open_slack_front`) with an app token opens `apps.connections.open` on
the local Slack, connects its websocket, acknowledges a delivered slash command
within Slack's 3 s and calls the backend; health endpoints still served, /slack/events
not; `bot.app.run()` (against the seeded sandbox) starts and shuts down cleanly on its
stop event; a connection that stops answering pings is rebuilt by the watchdog (metric
counted) and the next command is handled; /readyz is red while no connection is open;
the watchdog, killed, is restarted and rebuilds the next deaf connection (the command
after it handled); which `apps.connections.open` errors are a refusal for good, and at
start-up such a refusal is `AppTokenRefused` (a `SlackError`: one line, exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest

from bot.app import SlackFront, open_slack_front, run
from bot.lifecycle import Readiness, ReadinessState, Supervisor
from bot.metrics import Metrics
from bot.slack.app import uses_socket_mode
from bot.slack.client import SlackCallFailed, open_web_client
from bot.slack.socket_keeper import AppTokenRefused, refused_for_good, silent_for_s
from sandbox.env import SandboxEnv
from sandbox.slack import LocalSlack
from sandbox.slack.sender import block_actions_payload, slash_command_payload
from tests.fixtures.slack import RecordingBackend, make_slack_settings


@contextlib.asynccontextmanager
async def socket_front(
    slack: LocalSlack,
    backend: RecordingBackend,
    supervisor: Supervisor,
    *,
    readiness: ReadinessState | None = None,
    metrics: Metrics | None = None,
    **settings: object,
) -> AsyncIterator[SlackFront]:
    """The Slack front door in Socket Mode on `slack`, its first connection open; the
    supervisor closed after the block."""
    values: dict[str, object] = {"slack_app_token": slack.app_token, "slack_signing_secret": None}
    config = make_slack_settings(slack, **(values | settings))
    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(open_web_client(config))
            yield await open_slack_front(
                config,
                stack=stack,
                supervisor=supervisor,
                readiness=readiness or ReadinessState(),
                client=client,
                backend=backend,
                metrics=metrics,
            )
        finally:
            await supervisor.close(grace_s=1)
    await asyncio.sleep(0.05)  # the SDK's cancelled tasks finish unwinding


@pytest.mark.parametrize(
    ("app_token", "expected"),
    [(None, False), ("xapp-1-abc", True), ("xoxb-wrong-kind", False)],
)
def test_mode_is_picked_from_the_app_token(
    local_slack: LocalSlack, app_token: str | None, expected: bool
) -> None:
    settings = make_slack_settings(local_slack, slack_app_token=app_token)
    assert uses_socket_mode(settings) is expected


async def test_socket_mode_session_delivers_commands_and_actions(
    local_slack: LocalSlack, recording_backend: RecordingBackend
) -> None:
    settings = make_slack_settings(
        local_slack, slack_app_token=local_slack.app_token, slack_signing_secret=None
    )
    supervisor = Supervisor(name="socket-test")

    async with AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(open_web_client(settings))
            runtime = await open_slack_front(
                settings,
                stack=stack,
                supervisor=supervisor,
                readiness=ReadinessState(),
                client=client,
                backend=recording_backend,
            )
            assert runtime.socket_mode is not None
            await local_slack.socket.wait_connected(within_s=3)
            assert len(local_slack.calls_to("apps.connections.open")) == 1

            payload = slash_command_payload(
                "help",
                user_id="U0ALICE",
                channel_id="C0DEPLOYS",
                response_url=local_slack.response_url(channel_id="C0DEPLOYS", user_id="U0ALICE"),
            )
            ack = await local_slack.socket.deliver("slash_commands", payload, within_s=3)
            assert ack["envelope_id"]
            async with asyncio.timeout(3):
                await recording_backend.done.wait()
            (request,) = recording_backend.commands
            assert (request.text, request.user_id) == ("help", "U0ALICE")

            recording_backend.done.clear()
            click = block_actions_payload(
                user_id="U0BOB",
                channel_id="C0DEPLOYS",
                message_ts="1.000001",
                action_id="deckhand:approve",
                value="req-1",
            )
            await local_slack.socket.deliver("interactive", click, within_s=3)
            async with asyncio.timeout(3):
                await recording_backend.done.wait()
            assert recording_backend.actions[0].action_id == "deckhand:approve"

            async with aiohttp.ClientSession() as session:
                async with session.get(runtime.http_url + "/healthz") as resp:
                    assert resp.status == 200
                async with session.post(runtime.http_url + "/slack/events") as resp:
                    assert resp.status in (404, 405)  # no HTTP events in Socket Mode
            await runtime.stop_accepting()
            assert runtime.socket_mode is None
        finally:
            await supervisor.close(grace_s=1)
    await asyncio.sleep(0.05)  # the SDK's cancelled tasks finish unwinding
    assert not local_slack.socket.connected


@pytest.fixture
async def sandbox_env(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        yield env


def on_sandbox(env: SandboxEnv) -> dict[str, object]:
    return {
        "config": env.config_path,
        "kubeconfig": env.kubeconfig,
        "registry_username": "admin",
        "registry_token": env.token,
    }


async def test_run_starts_and_stops_on_its_stop_event(
    local_slack: LocalSlack, sandbox_env: SandboxEnv
) -> None:
    settings = make_slack_settings(local_slack, **on_sandbox(sandbox_env))
    stop = asyncio.Event()
    stop.set()  # stop as soon as it is up
    async with asyncio.timeout(5):
        assert await run(settings, stop=stop) == "stop-event"
    assert [c.method for c in local_slack.calls] == ["auth.test"]


async def test_start_refuses_a_bad_token(local_slack: LocalSlack) -> None:
    settings = make_slack_settings(local_slack, slack_bot_token="xoxb-wrong")
    stop = asyncio.Event()
    with pytest.raises(SlackCallFailed, match="invalid_auth"):
        await run(settings, stop=stop)


async def test_run_in_socket_mode_disconnects_on_stop(
    local_slack: LocalSlack, sandbox_env: SandboxEnv
) -> None:
    settings = make_slack_settings(
        local_slack,
        slack_app_token=local_slack.app_token,
        slack_signing_secret=None,
        **on_sandbox(sandbox_env),
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(run(settings, stop=stop))
    await local_slack.socket.wait_connected(within_s=3)
    stop.set()
    async with asyncio.timeout(5):
        assert await runner == "stop-event"
    await asyncio.sleep(0.05)  # the SDK's cancelled tasks finish unwinding
    assert not local_slack.socket.connected


@pytest.mark.parametrize("app_token", [None, "xoxb-not-an-app-token"])
async def test_http_mode_needs_a_signing_secret(
    local_slack: LocalSlack, app_token: str | None
) -> None:
    settings = make_slack_settings(
        local_slack, slack_app_token=app_token, slack_signing_secret=None
    )
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        await run(settings, stop=asyncio.Event())


async def test_socket_mode_reconnects_when_slack_asks_and_keeps_delivering(
    local_slack: LocalSlack, recording_backend: RecordingBackend
) -> None:
    async with socket_front(local_slack, recording_backend, Supervisor(name="socket-reconnect")):
        await local_slack.socket.wait_connected(within_s=3)
        await deliver_help(local_slack, recording_backend)
        for n, reason in enumerate(("refresh_requested", "warning"), start=2):
            assert await local_slack.socket.disconnect(reason) == 1
            await local_slack.socket.wait_connections(n, within_s=5)
            await deliver_help(local_slack, recording_backend)
        assert len(recording_backend.commands) == 3
        assert len(local_slack.calls_to("apps.connections.open")) >= 3


async def test_a_stale_connection_is_rebuilt_and_the_next_command_handled(
    local_slack: LocalSlack, recording_backend: RecordingBackend
) -> None:
    metrics = Metrics(version="test")
    readiness = ReadinessState()
    supervisor = Supervisor(name="socket-stale")
    async with socket_front(
        local_slack,
        recording_backend,
        supervisor,
        readiness=readiness,
        metrics=metrics,
        slack_socket_stale_s=0.6,
    ) as runtime:
        readiness.state = Readiness.READY
        assert readiness.ready
        await local_slack.socket.wait_connected(within_s=3)
        local_slack.socket.answer_pings = False  # open, but silent: a deaf connection
        await local_slack.socket.wait_connections(2, within_s=10)
        local_slack.socket.answer_pings = True
        keeper = runtime.socket_mode
        assert keeper is not None
        assert keeper.rebuilds >= 1
        rendered = metrics.render().decode()
        assert 'deckhand_socket_mode_rebuilds_total{reason="stale"}' in rendered
        await deliver_help(local_slack, recording_backend)
        assert [c.text for c in recording_backend.commands] == ["help"]
        await runtime.stop_accepting()
        assert not readiness.ready  # no connection open: /readyz is red
        assert readiness.failing == ["Slack connection"]


async def deliver_help(slack: LocalSlack, backend: RecordingBackend) -> None:
    """A `/deploy help` through Socket Mode, until the backend handled it."""
    backend.done.clear()
    payload = slash_command_payload("help", user_id="U0ALICE", channel_id="C0DEPLOYS")
    await slack.socket.deliver("slash_commands", payload, within_s=3)
    async with asyncio.timeout(3):
        await backend.done.wait()


@pytest.mark.parametrize(
    ("pong", "message", "connected", "silent"),
    [
        (None, None, 90.0, 10.0),  # nothing heard since the connection opened
        (95.0, None, 90.0, 5.0),  # a pong
        (95.0, 99.0, 90.0, 1.0),  # a message is a sign of life too
        (80.0, None, 90.0, 10.0),  # a pong of an older connection doesn't count
    ],
)
def test_silence_is_measured_from_the_last_sign_of_life(
    pong: float | None, message: float | None, connected: float, silent: float
) -> None:
    assert silent_for_s(100.0, pong=pong, message=message, connected=connected) == silent


async def test_the_watchdog_killed_is_restarted_and_rebuilds_the_next_deaf_connection(
    local_slack: LocalSlack, recording_backend: RecordingBackend
) -> None:
    supervisor = Supervisor(name="socket-watchdog", restart_backoff_s=(0.05,))

    def watchdogs() -> list[asyncio.Task[object]]:
        return [t for t in supervisor.tasks if t.get_name() == "socket-mode-watchdog"]

    async with socket_front(local_slack, recording_backend, supervisor, slack_socket_stale_s=0.6):
        await local_slack.socket.wait_connected(within_s=3)
        (first,) = watchdogs()
        first.cancel()
        async with asyncio.timeout(3):
            while [t for t in watchdogs() if t is not first] == []:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        local_slack.socket.answer_pings = False  # deaf: only the watchdog notices
        await local_slack.socket.wait_connections(2, within_s=10)
        local_slack.socket.answer_pings = True
        await deliver_help(local_slack, recording_backend)
        assert [c.text for c in recording_backend.commands] == ["help"]


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        ("invalid_auth", True),  # an unknown (rotated) token
        ("token_revoked", True),
        ("not_allowed_token_type", True),  # a bot token where the app token goes
        ("missing_scope", True),  # an app token without connections:write
        ("ratelimited", False),
        ("internal_error", False),
        ("fatal_error", False),
    ],
)
def test_which_refusals_of_the_app_token_are_for_good(error: str, for_good: bool) -> None:
    assert refused_for_good(error) is for_good


async def test_an_app_token_slack_refuses_stops_the_start(
    local_slack: LocalSlack, recording_backend: RecordingBackend
) -> None:
    local_slack.app_token = "xapp-1-A0OTHER-0000-the-current-one"
    supervisor = Supervisor(name="socket-refused")
    with pytest.raises(AppTokenRefused, match="invalid_auth"):
        async with socket_front(
            local_slack, recording_backend, supervisor, slack_app_token="xapp-1-A0OLD-0000-old"
        ):
            pass
