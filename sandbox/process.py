"""`deckhand run` as a real subprocess against the sandbox: for tests and benchmarks that
need the whole process (signals, RSS, CPU, `/metrics`), not an in-process stand-in.

    async with DeckhandProcess(env, slack, log_path, signing_secret=…) as deckhand:
        deckhand.events_url        # signed Slack requests go here (HTTP mode)
        await deckhand.terminate(within_s=5)

It runs in HTTP mode on a free loopback port, configured only through its environment
(the sandbox's config, kubeconfig and registry token; LocalSlack's URL and token), and
`start()` returns once `/readyz` answers 200 and this process holds the leader Lease.
Output goes to `log_path`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import LEASES
from sandbox.env import DECKHAND_NAMESPACE, OWNER, SandboxEnv
from sandbox.slack.web_api import LocalSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DeckhandExited(RuntimeError):
    """The process ended, or didn't get ready, when it shouldn't have (see its log)."""


@dataclass
class DeckhandProcess:
    """One `deckhand run` process against `env` and `slack` (see the module docstring)."""

    env: SandboxEnv
    slack: LocalSlack
    log_path: Path
    signing_secret: str
    overrides: Mapping[str, str] = field(default_factory=dict)
    """Extra or replaced environment variables (`DECKHAND_SHUTDOWN_GRACE_S`, …)."""
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    @property
    def identity(self) -> str:
        return f"deckhand-{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def environment(self) -> dict[str, str]:
        # This process's own Deckhand/Slack/kubectl settings must not leak in.
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("DECKHAND_", "SLACK_"))}
        keep.pop("KUBECONFIG", None)
        return {
            **keep,
            "DECKHAND_CONFIG": str(self.env.config_path),
            "DECKHAND_KUBECONFIG": str(self.env.kubeconfig),
            "DECKHAND_REGISTRY_USERNAME": OWNER,
            "DECKHAND_REGISTRY_TOKEN": self.env.token,
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "DECKHAND_SLACK_API_URL": self.slack.api_url,
            "DECKHAND_HTTP_LISTEN": f"127.0.0.1:{self.port}",
            "DECKHAND_POD_NAME": self.identity,
            "DECKHAND_SHUTDOWN_GRACE_S": "2",
            "DECKHAND_LEADER_RETRY_PERIOD_S": "0.5",
            **self.overrides,
        }

    async def start(self, *, within_s: float = 60.0) -> None:
        """Start it; return once `/readyz` answers 200 and it holds the leader Lease."""
        binary = Path(sys.executable).with_name("deckhand")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(binary), "run", env=self.environment(), stdout=log, stderr=log
            )
        try:
            async with asyncio.timeout(within_s), aiohttp.ClientSession() as session:
                while not (await self._ready(session) and self.is_leader()):
                    if self.process.returncode is not None:
                        raise DeckhandExited(f"deckhand run exited; see {self.log_path}")
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise DeckhandExited(
                f"deckhand run not ready and leading within {within_s:g} s; see {self.log_path}"
            ) from None

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(self.url + "/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    def is_leader(self) -> bool:
        try:
            lease = self.env.cluster.store.get(LEASES, DECKHAND_NAMESPACE, "deckhand-leader")
        except ApiError:
            return False
        return bool(lease.get("spec", {}).get("holderIdentity") == self.identity)

    async def terminate(self, *, within_s: float) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took). Killed, then `DeckhandExited`, past
        `within_s`."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(within_s):
                code = await self.process.wait()
        except TimeoutError:
            await self.close()
            raise DeckhandExited(
                f"deckhand run ignored SIGTERM for {within_s:g} s; see {self.log_path}"
            ) from None
        return code, time.monotonic() - started

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as session, session.get(self.url + "/metrics") as r:
            r.raise_for_status()
            return await r.text()

    async def close(self) -> None:
        """Kill it if it still runs (cleanup; `terminate` is the graceful way)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(DeckhandExited):
                await self.terminate(within_s=10)
