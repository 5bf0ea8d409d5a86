"""New images: push → announcement latency (webhook and poll) and packages API requests.

    python -m bench.delivery [--rounds 10] [--interval 1]

Against the seeded sandbox (cluster + Gitea stand-in) and LocalSlack on loopback:
Deckhand's `bot.delivery.Delivery` behind its real `POST /hooks/gitea` door, with
Gitea's signed webhooks (webhook mode), then a second `Delivery` polling the packages
API every `--interval` seconds (poll mode). A push is `SandboxEnv.push` (a new package
version; the webhook goes out from the stand-in's queue); latency ends when LocalSlack
holds the announcement. Prints figures; never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.report import Figure, median, quantile, table
from bot.delivery.announcer import Delivery
from bot.delivery.store import DeliveryStore
from bot.delivery.webhook import HOOK_PATH, gitea_hook
from bot.http import build_http_app, serve_http
from bot.kube.client import KubeClient
from bot.lifecycle import ReadinessState, Supervisor
from bot.registry.client import RegistryClient
from bot.rollout.engine import RolloutEngine
from bot.settings import Settings
from bot.slack.client import open_web_client
from commands.config import DeckhandConfig
from commands.validate import ValidatedDeploy
from sandbox.env import CHANNEL, SandboxEnv
from sandbox.slack import LocalSlack

SECTION = "8 new images"
PACKAGES = "/api/v1/packages/"


async def _delivery(
    env: SandboxEnv, slack: LocalSlack, exits: AsyncExitStack, supervisor: Supervisor
) -> Delivery:
    settings = Settings.model_validate(
        {
            "slack_bot_token": slack.bot_token,
            "slack_api_url": slack.api_url,
            "registry_username": "admin",
            "registry_token": env.token,
            "kubeconfig": env.kubeconfig,
        }
    )
    config = DeckhandConfig.model_validate(env.config())
    kube = await exits.enter_async_context(KubeClient.from_kubeconfig(env.kubeconfig))
    registry = await exits.enter_async_context(RegistryClient(settings.registry()))
    client = await exits.enter_async_context(open_web_client(settings))

    async def no_deploy(ctx: object, request: ValidatedDeploy) -> None:
        return None

    return Delivery(
        config,
        engine=RolloutEngine(config, kube, registry, env.cluster.clock),
        registry=registry,
        client=client,
        store=DeliveryStore(kube, config.deckhand.namespace),
        deploy=no_deploy,  # type: ignore[arg-type]
        supervisor=supervisor,
        update_interval_s=0.5,
        finish_timeout_s=5.0,
    )


async def _announced(slack: LocalSlack, count: int, within_s: float) -> None:
    def ready() -> bool:
        top = [m for m in slack.messages(CHANNEL) if m.thread_ts is None]
        return len(top) >= count

    changed = slack._changed
    async with asyncio.timeout(within_s), changed:
        await changed.wait_for(ready)


async def measure(root: Path, *, rounds: int = 10, interval_s: float = 1.0) -> list[Figure]:
    figures: list[Figure] = []
    async with (
        SandboxEnv(root / "env", speed=30) as env,
        LocalSlack() as slack,
        AsyncExitStack() as exits,
    ):
        slack.add_channel(CHANNEL, "deploys")
        slack.invite_bot(CHANNEL)
        supervisor = Supervisor(name="bench-delivery")
        exits.push_async_callback(supervisor.close, grace_s=1.0)
        secret = secrets.token_hex(16)

        hooked = await _delivery(env, slack, exits, supervisor)
        app = build_http_app(
            readiness=ReadinessState(),
            bolt_app=None,
            hooks={
                HOOK_PATH: gitea_hook(hooked, supervisor=supervisor, secret=secret, max_age_s=300)
            },
        )
        url = await exits.enter_async_context(serve_http(app, host="127.0.0.1", port=0))
        env.registry.add_webhook(url + HOOK_PATH, secret)
        samples: list[float] = []
        for n in range(rounds):
            started = time.perf_counter()
            env.push("api", f"{0xA000000 + n:x}")
            await _announced(slack, n + 1, within_s=10)
            samples.append((time.perf_counter() - started) * 1000)
        figures += [
            Figure(SECTION, "webhook: push → announcement, median", median(samples), "ms wall"),
            Figure(
                SECTION, "webhook: push → announcement, p95", quantile(samples, 0.95), "ms wall"
            ),
        ]
        env.registry.webhooks.hooks.clear()

        polling = await _delivery(env, slack, exits, supervisor)
        await polling.poll_once()  # the watermark (already past the webhook's tags)
        before = env.registry.count("GET", PACKAGES)
        task = supervisor.spawn(
            polling.keep_polling(interval_s=interval_s, is_leader=lambda: True), name="bench-poll"
        )
        poll_samples: list[float] = []
        shown = rounds
        for n in range(max(3, rounds // 3)):
            started = time.perf_counter()
            env.push("worker", f"{0xB000000 + n:x}")
            shown += 1
            await _announced(slack, shown, within_s=interval_s * 3 + 10)
            poll_samples.append((time.perf_counter() - started) * 1000)
        task.cancel()
        polls = polling.requests - 1
        figures += [
            Figure(
                SECTION,
                f"poll ({interval_s:g} s interval): push → announcement, median",
                median(poll_samples),
                "ms wall",
            ),
            Figure(
                SECTION,
                f"poll ({interval_s:g} s interval): push → announcement, max",
                max(poll_samples),
                "ms wall",
            ),
            Figure(
                SECTION,
                "packages API requests per poll (3 services, 1 owner)",
                (env.registry.count("GET", PACKAGES) - before) / max(polls, 1),
                "requests",
            ),
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as root:
        figures = asyncio.run(measure(Path(root), rounds=args.rounds, interval_s=args.interval))
    print(table(figures))


if __name__ == "__main__":
    main()
