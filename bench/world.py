"""What every benchmark runs against: the seeded sandbox, a local Slack, Deckhand as a process.

- `BenchEnv`: `sandbox.env.SandboxEnv` (the example team) that also counts the API
  requests it serves, per client (`requests.by_agent`: kubectl vs Deckhand's
  kubernetes-asyncio, told apart by User-Agent). `api_only=True` runs the cluster
  without controllers (nothing reacts; the watch benchmarks write pods straight into
  the store, which is far cheaper than having 20,000 pods scheduled and pulled).
- `open_slack()`: a `LocalSlack` knowing the team's people and channels.
- `DeckhandProcess`: a real `deckhand run` subprocess (HTTP mode) pointed at both, with
  its RSS (`/proc/<pid>/status` VmRSS) and CPU seconds (`/proc/<pid>/stat`) readable.
- `kubectl(...)`: the real kubectl against the sandbox, timed, with a deadline.

Everything waits with a deadline; nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from sandbox.cluster.resources import NAMESPACES, SECRETS
from sandbox.cluster.server import SandboxCluster
from sandbox.env import (
    ALERT_CHANNEL,
    APPROVER,
    CHANNEL,
    DECKHAND_NAMESPACE,
    DEVS_GROUP,
    ENVIRONMENTS,
    OUTSIDER,
    REQUESTER,
    SandboxEnv,
)
from sandbox.registry.gitea import GiteaRegistry
from sandbox.slack import LocalSlack

SIGNING_SECRET = "bench-signing-secret"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class RequestCounter:
    """API requests served, per client kind and per (method, resource) for Deckhand's."""

    by_agent: Counter[str] = field(default_factory=Counter)
    by_route: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> Counter[str]:
        return Counter(self.by_agent)

    def since(self, before: Counter[str], agent: str) -> int:
        return self.by_agent[agent] - before[agent]


def agent_of(user_agent: str) -> str:
    return "kubectl" if user_agent.startswith("kubectl") else "deckhand"


@dataclass
class BenchEnv(SandboxEnv):
    """The example team (see `SandboxEnv`) with request counting; see the module docstring."""

    api_only: bool = False
    requests: RequestCounter = field(default_factory=RequestCounter)

    def __post_init__(self) -> None:
        self.cluster = SandboxCluster(
            speed=self.speed, host=self.host, port=self.cluster_port, controllers=not self.api_only
        )
        self.registry = GiteaRegistry(self.host, self.registry_port, users={"admin": self.token})
        handle = self.cluster.api.handle
        counter = self.requests

        async def counting(request: web.Request) -> web.StreamResponse:
            agent = agent_of(request.headers.get("User-Agent", ""))
            counter.by_agent[agent] += 1
            if agent == "deckhand":
                parts = [p for p in request.path.split("/") if p]
                resource = next((p for p in reversed(parts) if p.endswith("s")), request.path)
                if resource == "leases" and parts[-1] != "leases":
                    resource = f"leases/{parts[-1]}"  # the leader's apart from deploy locks
                watch = "watch" if request.query.get("watch") in ("1", "true") else ""
                counter.by_route[f"{request.method} {resource} {watch}".strip()] += 1
            return await handle(request)

        self.cluster.api.handle = counting  # type: ignore[method-assign]

    def _seed_cluster(self) -> None:
        if not self.api_only:
            super()._seed_cluster()
            return
        store = self.cluster.store
        for namespace in (*ENVIRONMENTS.values(), DECKHAND_NAMESPACE):
            store.create(NAMESPACES, {"metadata": {"name": namespace}})
        for namespace in ENVIRONMENTS.values():
            store.create(SECRETS, self.pull_secret(), namespace=namespace)

    async def wait_ready(self) -> None:
        if not self.api_only:
            await super().wait_ready()

    def write_config(self, **alerts: Any) -> Path:
        """Rewrite `deckhand.yaml` with `alerts` settings merged in (e.g. grace_s=0)."""
        config = self.config()
        config["alerts"] = {**config["alerts"], **alerts}
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return self.config_path


@contextlib.asynccontextmanager
async def open_slack() -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as slack:
        for user, name in ((REQUESTER, "alice"), (APPROVER, "bob"), (OUTSIDER, "mallory")):
            slack.add_user(user, name)
        slack.add_usergroup(DEVS_GROUP, "devs", [])
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(ALERT_CHANNEL, "alerts")
        yield slack


async def wait_for(
    predicate: Callable[[], bool], *, within_s: float, step_s: float = 0.005
) -> bool:
    """Poll `predicate` until true (True) or `within_s` passes (False)."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step_s)
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """VmRSS of `pid` in MB (MiB), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds `pid` has used, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class DeckhandProcess:
    """`deckhand run` as a subprocess (HTTP mode) against `env` and `slack`."""

    env: SandboxEnv
    slack: LocalSlack
    log_path: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def environment(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DECKHAND_", "SLACK_"))}
        keep.pop("KUBECONFIG", None)
        return {
            **keep,
            "DECKHAND_CONFIG": str(self.env.config_path),
            "DECKHAND_KUBECONFIG": str(self.env.kubeconfig),
            "DECKHAND_REGISTRY_USERNAME": "admin",
            "DECKHAND_REGISTRY_TOKEN": self.env.token,
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "DECKHAND_SLACK_API_URL": self.slack.api_url,
            "DECKHAND_HTTP_LISTEN": f"127.0.0.1:{self.port}",
            "DECKHAND_POD_NAME": "deckhand-bench",
            "DECKHAND_SHUTDOWN_GRACE_S": "2",
            "DECKHAND_LEADER_RETRY_PERIOD_S": "1",
        }

    async def start(self, *, within_s: float = 60.0) -> None:
        """Start it and wait until /readyz answers 200 and it holds the leader Lease."""
        binary = Path(sys.executable).with_name("deckhand")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(binary), "run", env=self.environment(), stdout=log, stderr=log
            )
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            deadline = time.monotonic() + within_s
            while not await ready():
                if self.process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"deckhand run did not become ready; see {self.log_path}")
                await asyncio.sleep(0.1)
        if not await wait_for(self._leading, within_s=within_s, step_s=0.1):
            raise RuntimeError(f"deckhand run did not take the leader Lease; see {self.log_path}")

    def _leading(self) -> bool:
        from sandbox.cluster.errors import ApiError
        from sandbox.cluster.resources import LEASES

        try:
            lease = self.env.cluster.store.get(LEASES, DECKHAND_NAMESPACE, "deckhand-leader")
        except ApiError:
            return False
        return bool(lease.get("spec", {}).get("holderIdentity"))

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def deckhand_process(
    env: SandboxEnv, slack: LocalSlack, log_path: Path
) -> AsyncIterator[DeckhandProcess]:
    process = DeckhandProcess(env, slack, log_path)
    try:
        await process.start()
        yield process
    finally:
        await process.stop()


@dataclass(frozen=True)
class KubectlRun:
    returncode: int
    wall_s: float
    output: str


async def kubectl(kubeconfig: Path, *args: str, deadline_s: float) -> KubectlRun:
    """Run the real kubectl (its own discovery cache beside the kubeconfig), timed."""
    cache = kubeconfig.parent / ".kubectl-cache"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    begin = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(kubeconfig),
        "--cache-dir",
        str(cache),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        async with asyncio.timeout(deadline_s):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    wall_s = time.monotonic() - begin
    return KubectlRun(process.returncode or 0, wall_s, out.decode(errors="replace"))
