"""`deckhand sandbox …`: start the local stand-ins in the foreground until Ctrl-C.

deckhand sandbox env --dir DIR      the example team's cluster + registry, seeded
deckhand sandbox cluster            an empty sandbox Kubernetes cluster (kubectl works)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deckhand sandbox",
        description="Without WHAT: try Deckhand in a browser (sandbox cluster and registry, "
        "a local Slack and Deckhand, in one process on loopback); prints the page's URL.",
    )
    parser.add_argument("--listen", default="127.0.0.1:8080", help="default: 127.0.0.1:8080")
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="default: .sandbox")
    parser.add_argument("--speed", type=float, default=10.0, help="sandbox time scale")
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
    cluster = sub.add_parser(
        "cluster",
        help="an empty sandbox Kubernetes cluster (API server + controllers)",
        description="Serve the sandbox Kubernetes API on HOST:PORT, write a kubeconfig for "
        "it, and run until interrupted. kubectl and kubernetes-asyncio work against it.",
    )
    cluster.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address to serve on (default 127.0.0.1 and a free port)",
    )
    cluster.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path(".sandbox/cluster.kubeconfig"),
        help="where to write the kubeconfig (default .sandbox/cluster.kubeconfig)",
    )
    cluster.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="cluster time runs this many times faster than real time (default 1)",
    )
    return parser


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"--listen wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


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


async def _run_cluster(args: argparse.Namespace) -> int:
    from sandbox.cluster.server import SandboxCluster

    host, port = _listen_address(args.listen)
    async with SandboxCluster(speed=args.speed, host=host, port=port) as cluster:
        path = cluster.write_kubeconfig(args.kubeconfig.resolve())
        print(f"sandbox cluster  {cluster.url}  (time ×{cluster.clock.speed:g})")
        print(f"wrote {path}")
        print(f"try:  export KUBECONFIG={path}; kubectl get ns")
        print("Ctrl-C stops it.", flush=True)
        await _until_interrupted()
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    import logging

    from sandbox.demo.run import DemoError, serve_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(serve_demo(args.dir.resolve(), listen=args.listen, speed=args.speed))
    except (DemoError, OSError) as e:  # OSError: --listen address in use
        print(f"deckhand sandbox: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.what is None:
        # Plain `deckhand sandbox` (the README's quick start): the browser demo.
        return _run_demo(args)
    if args.what == "env":
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run_env(args))
        return 0
    if args.what == "cluster":
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run_cluster(args))
        return 0
    parser.print_help()
    return 2
