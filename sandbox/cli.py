"""`deckhand sandbox …`: start the local stand-ins in the foreground until Ctrl-C.

deckhand sandbox env --dir DIR      the example team's cluster + registry, seeded
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deckhand sandbox")
    sub = parser.add_subparsers(dest="what", metavar="WHAT")
    env = sub.add_parser(
        "env",
        help="the example team: sandbox cluster + Gitea-compatible registry, seeded",
        description="Start the sandbox cluster and registry seeded with the example team, "
        "write kubeconfig, deckhand.yaml, registry.env and seed.json into DIR, and run "
        "until interrupted.",
    )
    env.add_argument("--dir", type=Path, default=Path(".sandbox"), help="default: .sandbox")
    env.add_argument("--speed", type=float, default=10.0, help="sandbox time scale (default 10)")
    env.add_argument("--cluster-port", type=int, default=0, help="default: a free port")
    env.add_argument("--registry-port", type=int, default=0, help="default: a free port")
    return parser


async def _until_interrupted() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _run_env(args: argparse.Namespace) -> int:
    from sandbox.env import SandboxEnv

    async with SandboxEnv(
        args.dir.resolve(),
        speed=args.speed,
        cluster_port=args.cluster_port,
        registry_port=args.registry_port,
    ) as env:
        print(f"sandbox cluster  {env.cluster.url}  (time ×{env.speed:g})")
        print(f"sandbox registry {env.registry.url}")
        print(f"wrote {env.kubeconfig}, {env.config_path}, {env.registry_env}, {env.seed_path}")
        print(f"try:  export KUBECONFIG={env.kubeconfig}; kubectl get deploy,pods -A")
        print("Ctrl-C stops it.", flush=True)
        await _until_interrupted()
    return 0


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.what is None:
        # Plain `deckhand sandbox` (the README's quick start): the seeded environment.
        args = parser.parse_args(["env", *argv])
    if args.what == "env":
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run_env(args))
        return 0
    parser.print_help()
    return 2
