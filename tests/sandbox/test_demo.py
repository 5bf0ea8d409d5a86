"""The browser demo's server (`sandbox.demo`), over HTTP, with Deckhand really running.

Covers: `/api/state` (users, channels, cluster, registry; unknown user refused); the
`/events` stream delivers a message edit made through the local Slack's Web API; a typed
command reaches Deckhand signed (Deckhand acks it, and its answer is shown only to the
person who typed it, while an unsigned request is refused); the break-it endpoints
(token revoke/restore, crash toggle, probe path, pod restart evicting the node's
image, tag delete, bad input); other web pages cannot drive it (JSON only, loopback Host);
`--listen` accepts loopback only; the pure views (pod STATUS word, image tags,
ephemeral visibility); and `deckhand sandbox` on the command line prints one URL that
serves the page and stops on SIGINT.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from commands.images import ImageReference
from sandbox.cluster.controllers.knobs import CRASH
from sandbox.cluster.imageref import containerd_ref
from sandbox.cluster.resources import DEPLOYMENTS, PODS, SECRETS
from sandbox.demo.cluster_view import image_tag, pod_state
from sandbox.demo.run import DECKHAND, Demo, DemoError, open_demo, parse_loopback
from sandbox.demo.workspace_view import SlackView
from sandbox.env import ALERT_CHANNEL, APPROVER, CHANNEL, DEVS_GROUP, OUTSIDER, REQUESTER
from sandbox.slack.store import EphemeralMessage, Workspace

Json = dict[str, Any]


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    async with open_demo(tmp_path / "sandbox", speed=20) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(http: aiohttp.ClientSession, url: str, body: Json) -> tuple[int, Json]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


async def _state(http: aiohttp.ClientSession, demo: Demo, user: str = REQUESTER) -> Json:
    async with http.get(f"{demo.url}api/state", params={"user": user}) as response:
        assert response.status == 200
        body: Json = await response.json()
        return body


def _channel(slack: Json, channel_id: str) -> Json:
    """One channel of a Slack snapshot (`/api/state`'s "slack", or an SSE `slack` event)."""
    return next(c for c in slack["channels"] if c["id"] == channel_id)


async def test_state_lists_users_channels_cluster_and_registry(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    state = await _state(http, demo)
    assert state["me"] == REQUESTER
    assert [u["id"] for u in state["users"]] == [REQUESTER, APPROVER, OUTSIDER]
    assert [c["id"] for c in state["slack"]["channels"]][:2] == [CHANNEL, ALERT_CHANNEL]
    envs = {e["name"]: e for e in state["cluster"]["environments"]}
    assert envs["prod"]["namespace"] == "honeydue"
    api = next(d for d in envs["prod"]["deployments"] if d["name"] == "api")
    assert (api["replicas"], api["available"], len(api["pods"])) == (3, 3, 3)
    assert {p["state"] for p in api["pods"]} == {"Running"}
    assert all(p["ready"] for p in api["pods"])
    assert api["tag"] in api["image"]
    registry = state["cluster"]["registry"]
    assert registry["token_revoked"] is False
    assert {r["service"] for r in registry["repositories"]} == {"api", "worker", "admin"}
    assert state["hints"]["api-prod"].endswith(" to prod")
    assert state["usergroups"][DEVS_GROUP] == "honeydue-devs"  # mentions show the handle
    async with http.get(f"{demo.url}api/state", params={"user": "U0NOBODY"}) as response:
        assert response.status == 400


async def _next_event(stream: aiohttp.StreamReader, wanted: str) -> Json:
    """The data of the next `wanted` event on an SSE stream."""
    event = ""
    while True:
        line = (await stream.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event == wanted:
            data: Json = json.loads(line[len("data: ") :])
            return data


async def _wait_slack(
    http: aiohttp.ClientSession, demo: Demo, user: str, done: Callable[[Json], bool]
) -> Json:
    """The first Slack snapshot on the event stream for which `done` holds (10 s)."""
    async with (
        http.get(f"{demo.url}events", params={"user": user}) as events,
        asyncio.timeout(10),
    ):
        while not done(snapshot := await _next_event(events.content, "slack")):
            pass
    return snapshot


async def test_event_stream_delivers_a_message_edit(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {demo.slack.bot_token}"}
    api = demo.slack.api_url
    async with http.get(f"{demo.url}events", params={"user": REQUESTER}) as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        async with asyncio.timeout(10):
            first = await _next_event(events.content, "slack")  # the first snapshot
            assert (await _next_event(events.content, "cluster"))["environments"]
            assert _channel(first, CHANNEL)["messages"] == []
            async with http.post(
                f"{api}chat.postMessage",
                json={"channel": CHANNEL, "text": "Deploy api: checking the image"},
                headers=headers,
            ) as response:
                ts = (await response.json())["ts"]
            posted = await _next_event(events.content, "slack")
            assert _channel(posted, CHANNEL)["messages"][0]["text"].endswith("checking the image")
            async with http.post(
                f"{api}chat.update",
                json={"channel": CHANNEL, "ts": ts, "text": "Deploy api: succeeded"},
                headers=headers,
            ) as response:
                assert (await response.json())["ok"]
            edited = await _next_event(events.content, "slack")
    (message,) = _channel(edited, CHANNEL)["messages"]
    assert (message["ts"], message["text"], message["edited"]) == (
        ts,
        "Deploy api: succeeded",
        True,
    )


async def test_a_typed_command_reaches_deckhand_signed_and_only_its_author_sees_the_answer(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    status, body = await _post(
        http, f"{demo.url}api/command", {"user": REQUESTER, "text": "/deploy help"}
    )
    assert (status, body) == (200, {"status": 200})  # Deckhand verified the signature and acked
    seen = await _wait_slack(
        http, demo, REQUESTER, lambda s: _channel(s, CHANNEL)["messages"][-1]["ephemeral"]
    )
    mine = _channel(seen, CHANNEL)["messages"]
    assert mine[0]["command"]
    assert mine[0]["text"] == "/deploy help"
    assert mine[0]["name"] == "Alice"
    assert "/deploy" in mine[-1]["text"]
    others = _channel((await _state(http, demo, APPROVER))["slack"], CHANNEL)["messages"]
    assert [m["text"] for m in others] == ["/deploy help"]  # Bob sees the command, not the answer
    # The same body, unsigned, is refused: the 200 above was Deckhand checking the signature.
    async with http.post(
        f"{demo.deckhand_url}/slack/events", data={"command": "/deploy", "text": "help"}
    ) as response:
        assert response.status == 401


async def test_opening_home_shows_the_view_deckhand_published(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    status, body = await _post(http, f"{demo.url}api/home", {"user": REQUESTER})
    assert (status, body) == (200, {"status": 200})
    seen = await _wait_slack(http, demo, REQUESTER, lambda s: bool(_channel(s, "HOME")["messages"]))
    (home,) = _channel(seen, "HOME")["messages"]
    text = json.dumps(home["blocks"])
    assert "staging" in text
    assert "prod" in text
    assert "ready" in text
    assert _channel((await _state(http, demo, APPROVER))["slack"], "HOME")["messages"] == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"user": "U0NOBODY", "text": "/deploy help"}, "unknown demo user"),
        ({"user": REQUESTER, "text": "deploy api"}, "only slash commands"),
        ({"user": REQUESTER}, "missing field 'text'"),
        ({"user": REQUESTER, "text": "/deploy help", "channel": "C0ELSEWHERE"}, "unknown channel"),
    ],
)
async def test_bad_commands_are_refused(
    demo: Demo, http: aiohttp.ClientSession, body: Json, error: str
) -> None:
    status, answer = await _post(http, f"{demo.url}api/command", body)
    assert status == 400
    assert error in answer["error"]


async def test_break_endpoints_act_on_the_sandbox(demo: Demo, http: aiohttp.ClientSession) -> None:
    store = demo.env.cluster.store
    old_secret = store.get(SECRETS, "honeydue", "gitea-credentials")["data"]
    status, body = await _post(http, f"{demo.url}api/break/revoke-token", {})
    assert status == 200
    assert "revoked" in body["message"]
    assert (await _state(http, demo))["cluster"]["registry"]["token_revoked"] is True
    status, body = await _post(http, f"{demo.url}api/break/restore-token", {})
    assert status == 200
    assert store.get(SECRETS, "honeydue", "gitea-credentials")["data"] != old_secret
    assert (await _state(http, demo))["cluster"]["registry"]["token_revoked"] is False

    crash = {"namespace": "honeydue-staging", "deployment": "worker", "on": True}
    assert (await _post(http, f"{demo.url}api/break/crash", crash))[0] == 200
    template = store.get(DEPLOYMENTS, "honeydue-staging", "worker")["spec"]["template"]
    assert CRASH in template["metadata"]["annotations"]

    pods, _ = store.list(PODS, "honeydue", label_selector="app=admin")
    victim = pods[0]["metadata"]["name"]
    image = containerd_ref(ImageReference.parse(pods[0]["spec"]["containers"][0]["image"]))
    nodes = demo.env.cluster.controllers.nodes.values()
    assert any(image in node.images for node in nodes)  # so a plain restart would not pull
    restart = {"namespace": "honeydue", "pod": victim}
    assert (await _post(http, f"{demo.url}api/break/restart-pod", restart))[0] == 200
    left = {p["metadata"]["name"]: p for p in store.list(PODS, "honeydue")[0]}
    assert victim not in left or pod_state(left[victim]) == "Terminating"
    assert not any(image in node.images for node in nodes)  # the replacement pulls again

    probe = {"namespace": "honeydue-staging", "deployment": "admin", "path": "/admin/"}
    assert (await _post(http, f"{demo.url}api/break/probe-path", probe))[0] == 200
    (admin,) = store.get(DEPLOYMENTS, "honeydue-staging", "admin")["spec"]["template"]["spec"][
        "containers"
    ]
    assert admin["readinessProbe"]["httpGet"]["path"] == "/admin/"
    assert admin["livenessProbe"]["httpGet"]["path"] == "/admin/"
    view = (await _state(http, demo))["cluster"]["environments"]
    rows = [d for e in view if e["namespace"] == "honeydue-staging" for d in e["deployments"]]
    assert next(d for d in rows if d["name"] == "admin")["probe_paths"] == ["/admin/"]

    seed = demo.env.seed()["services"]["admin"]
    delete = {"service": "admin", "tag": seed["good"][3]}
    assert (await _post(http, f"{demo.url}api/break/delete-tag", delete))[0] == 200
    tags = next(
        r["tags"]
        for r in (await _state(http, demo))["cluster"]["registry"]["repositories"]
        if r["service"] == "admin"
    )
    assert seed["good"][3] not in tags
    for what, bad in [
        ("delete-tag", delete),
        ("restart-pod", {"namespace": "honeydue", "pod": "nope"}),
        ("restart-pod", {"namespace": "kube-system", "pod": victim}),
        ("crash", {"namespace": "honeydue", "deployment": "nope"}),
        ("probe-path", {"namespace": "honeydue", "deployment": "admin", "path": "admin"}),
        ("probe-path", {"namespace": "honeydue", "deployment": "nope", "path": "/"}),
        ("explode", {}),
    ]:
        status, body = await _post(http, f"{demo.url}api/break/{what}", bad)
        assert status == 400, (what, body)


async def test_push_a_new_image_is_announced_and_auto_deployed_to_staging(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    """The panel's "push a new image": Gitea's webhook reaches Deckhand, which announces
    it (Deploy buttons) and auto-deploys the good one to staging; arm64-only and a bad tag
    are announced not deployable; a bad request changes nothing."""

    def announced() -> list[str]:
        return [
            json.dumps(m.blocks)
            for m in demo.slack.messages(CHANNEL)
            if m.thread_ts is None and "New image" in json.dumps(m.blocks)
        ]

    async def until(predicate: Callable[[], bool]) -> None:
        await demo.slack.wait_until(predicate, within_s=30)

    for kind in ("good", "arm64", "bad-tag"):
        status, body = await _post(
            http, f"{demo.url}api/break/push-image", {"service": "api", "kind": kind}
        )
        assert status == 200, body
    await until(lambda: len(announced()) == 3)
    good = [a for a in announced() if "Deploy to staging" in a]
    refused = [a for a in announced() if "Not deployable" in a]
    assert len(good) == 1
    assert len(refused) == 2
    assert any("docker buildx build --platform linux/amd64" in a for a in refused)
    assert any("release-" in a for a in refused)  # the bad tag
    await until(
        lambda: any(
            "auto-deploy of a push by alice" in json.dumps(m.blocks)
            for m in demo.slack.messages(CHANNEL)
        )
    )
    for bad_push in ({"service": "nope", "kind": "good"}, {"service": "api", "kind": "x"}):
        assert (await _post(http, f"{demo.url}api/break/push-image", bad_push))[0] == 400


async def test_other_web_pages_cannot_drive_the_demo(
    demo: Demo, http: aiohttp.ClientSession
) -> None:
    body = json.dumps({"user": REQUESTER, "text": "/deploy help"})
    # A form or text/plain post needs no CORS preflight: refused.
    headers = {"Content-Type": "text/plain"}
    async with http.post(f"{demo.url}api/command", data=body, headers=headers) as response:
        assert response.status == 415
    # DNS rebinding: a foreign name resolving to 127.0.0.1 arrives with its own Host.
    headers = {"Host": "evil.example:8080"}
    async with http.get(f"{demo.url}api/state?user={REQUESTER}", headers=headers) as response:
        assert response.status == 403


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("localhost:9000", ("127.0.0.1", 9000)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:8080", None),
        ("example.com:80", None),
        ("8080", None),
        ("127.0.0.1:http", None),
    ],
)
def test_listen_is_loopback_only(listen: str, expected: tuple[str, int] | None) -> None:
    if expected is None:
        with pytest.raises(DemoError):
            parse_loopback(listen)
    else:
        assert parse_loopback(listen) == expected


def _pod(*, waiting: str | None = None, phase: str = "Running", deleting: bool = False) -> Json:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    meta = {"name": "p", "deletionTimestamp": "2026-11-26T10:00:00Z"} if deleting else {}
    return {"metadata": meta, "status": {"phase": phase, "containerStatuses": [{"state": state}]}}


@pytest.mark.parametrize(
    ("pod", "word"),
    [
        (_pod(), "Running"),
        (_pod(waiting="ErrImagePull", phase="Pending"), "ErrImagePull"),
        (_pod(waiting="ImagePullBackOff", phase="Pending"), "ImagePullBackOff"),
        (_pod(waiting="CrashLoopBackOff"), "CrashLoopBackOff"),
        (_pod(deleting=True), "Terminating"),
        ({"metadata": {}, "status": {}}, "Pending"),
    ],
)
def test_pod_state_is_kubectls_status_word(pod: Json, word: str) -> None:
    assert pod_state(pod) == word


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("127.0.0.1:5000/admin/honeydue-api:abc1234", "abc1234"),
        ("127.0.0.1:5000/admin/honeydue-api:abc1234@sha256:" + "f" * 64, "abc1234"),
        ("127.0.0.1:5000/admin/honeydue-api@sha256:" + "f" * 64, "sha256:ffffffffffff"),
        ("nginx", ""),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_ephemerals_show_only_to_their_user_in_the_order_seen() -> None:
    workspace = Workspace()
    view = SlackView(workspace)
    view.echo(channel=CHANNEL, user=REQUESTER, text="/deploy help")
    workspace.channel(CHANNEL).ephemerals.append(
        EphemeralMessage(channel=CHANNEL, user=REQUESTER, text="help text", blocks=[])
    )
    alice = _channel(view.snapshot(REQUESTER), CHANNEL)["messages"]
    bob = _channel(view.snapshot(APPROVER), CHANNEL)["messages"]
    assert [(m["text"], m["ephemeral"]) for m in alice] == [
        ("/deploy help", False),
        ("help text", True),
    ]
    assert [m["text"] for m in bob] == ["/deploy help"]


def test_the_demo_runs_what_deckhand_run_runs() -> None:
    import bot.app

    assert DECKHAND is bot.app.run
    assert "run(settings" in inspect.getsource(bot.app.main)


def test_plain_deckhand_sandbox_refuses_a_public_listen_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sandbox.cli import main

    assert main(["--listen", "0.0.0.0:8080"]) == 1
    assert "loopback" in capsys.readouterr().err


@pytest.mark.slow
async def test_deckhand_sandbox_prints_one_url_serving_the_page(tmp_path: Path) -> None:
    deckhand = Path(sys.executable).with_name("deckhand")
    process = await asyncio.create_subprocess_exec(
        str(deckhand),
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--dir",
        str(tmp_path / "sandbox"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        assert line.count("http://") == 1, line
        url = line.split("open ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert "Deckhand sandbox" in await response.text()
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest, errors = await process.communicate()
        assert process.returncode == 0, errors.decode()[-2000:]
        assert "http://" not in rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
