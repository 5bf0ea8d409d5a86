"""Registry check cost: requests and latency of cold and warm `inspect()` calls.

    python -m bench.registry_check [--rounds 200]

Runs against the sandbox GiteaRegistry on loopback (so latency is Deckhand's own
overhead plus aiohttp's), for a single-platform image and a two-platform index.
Prints figures; never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from pydantic import SecretStr

from bench.report import Figure, table
from bot.registry import Credentials, RegistryClient
from bot.settings import RegistrySettings
from commands.images import Platform
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image

SECTION = "6 API economy"
TOKEN = "bench-token"
AMD64 = Platform("linux", "amd64")


async def measure(rounds: int) -> list[Figure]:
    """Cold and warm `inspect()` of a single-platform image and a two-platform index."""
    figures = []
    async with GiteaRegistry(users={"admin": TOKEN}) as gitea:
        gitea.seed("admin/single", "v1", build_image())
        gitea.seed("admin/multi", "v1", build_image(platforms=[AMD64, Platform("linux", "arm64")]))
        for name in ("single", "multi"):
            ref = f"{gitea.host}/admin/{name}:v1"
            async with RegistryClient(
                RegistrySettings(), credentials=Credentials("admin", SecretStr(TOKEN))
            ) as client:
                before = len(gitea.requests)
                started = time.perf_counter()
                await client.inspect(ref, platform=AMD64)
                cold_ms = (time.perf_counter() - started) * 1000
                cold_requests = len(gitea.requests) - before
                before = len(gitea.requests)
                samples = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    await client.inspect(ref, platform=AMD64)
                    samples.append((time.perf_counter() - started) * 1000)
                warm_requests = (len(gitea.requests) - before) / rounds
            quantiles = statistics.quantiles(samples, n=100)
            figures += [
                Figure(
                    SECTION,
                    f"{name}-platform image: requests per cold check",
                    cold_requests,
                    "requests",
                    note=f"{cold_ms:.1f} ms wall",
                ),
                Figure(
                    SECTION,
                    f"{name}-platform image: requests per warm check",
                    warm_requests,
                    "requests",
                    note=f"p50 {quantiles[49]:.2f} ms, p95 {quantiles[94]:.2f} ms "
                    f"wall ({rounds} rounds)",
                ),
            ]
    return figures


async def bench(rounds: int) -> None:
    print(table(await measure(rounds)))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry_check")
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(bench(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
