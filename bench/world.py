"""What every benchmark runs against: the seeded sandbox, a local Slack, Deckhand as a process.

- `BenchEnv`: `sandbox.env.SandboxEnv` (the example team) that also counts the API
  requests it serves, per client (`requests.by_agent`: kubectl vs Deckhand's
  kubernetes-asyncio, told apart by User-Agent). `api_only=True` runs the cluster
  without controllers (nothing reacts; the watch benchmarks write pods straight into
  the store, which is far cheaper than having 20,000 pods scheduled and pulled).
- `open_slack()`: a `LocalSlack` knowing the team's people and channels.
- `deckhand_process`: a real `deckhand run` subprocess (`sandbox.process`) pointed at
  both, with its RSS (`/proc/<pid>/status` VmRSS) and CPU seconds (`/proc/<pid>/stat`) readable.
- `kubectl(...)`: the real kubectl against the sandbox, timed, with a deadline.

Everything waits with a deadline; nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from sandbox.cluster.api import agent_of, route_of
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
from sandbox.process import DeckhandProcess
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
                counter.by_route[route_of(request)] += 1
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
        slack.invite_bot(CHANNEL, ALERT_CHANNEL)
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


@contextlib.asynccontextmanager
async def deckhand_process(
    env: SandboxEnv, slack: LocalSlack, log_path: Path
) -> AsyncIterator[DeckhandProcess]:
    """`deckhand run` (a real subprocess, `sandbox.process`) against the bench's world."""
    async with DeckhandProcess(
        env,
        slack,
        log_path,
        signing_secret=SIGNING_SECRET,
        overrides={"DECKHAND_LEADER_RETRY_PERIOD_S": "1"},
    ) as process:
        yield process


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
