"""`SandboxCluster`: the whole sandbox Kubernetes cluster in one async context manager.

    async with SandboxCluster(speed=20) as cluster:
        cluster.write_kubeconfig(path)      # then kubectl / kubernetes-asyncio
        cluster.store.get(DEPLOYMENTS, "default", "api")

On enter it makes the `Clock` and the `Store`, seeds the namespaces `default`,
`kube-system` and `kube-public` (the controllers seed the nodes), serves the API
over plain HTTP on `host:port` (port 0 picks a free one; `.url` tells which) and
starts the controllers. On exit it stops the controllers, ends open watches and
log streams, and stops the server.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web

from sandbox.cluster.api import ApiServer
from sandbox.cluster.clock import Clock
from sandbox.cluster.controllers import Controllers
from sandbox.cluster.resources import NAMESPACES
from sandbox.cluster.store import Store

log = logging.getLogger(__name__)

SEED_NAMESPACES = ("default", "kube-system", "kube-public")


class SandboxCluster:
    """The simulated cluster: store, API server and controllers, on one event loop."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        history_limit: int = 10_000,
        controllers: bool = True,
        bookmark_interval: float = 10.0,
    ) -> None:
        """`history_limit`: how many changes watches can resume from (older: 410 Expired).
        `controllers=False`: serve the API only (nothing reacts to the objects).
        `bookmark_interval`: wall seconds between BOOKMARKs on idle watches that allow them."""
        self.clock = Clock(speed)
        self.store = Store(self.clock, history_limit=history_limit)
        self.api = ApiServer(self.store, self.clock, bookmark_interval=bookmark_interval)
        self.controllers = Controllers(self.store, self.clock)
        self._run_controllers = controllers
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1]) if self.url else self._port

    def deny(
        self, verb: str, resource: str, namespace: str | None = None, name: str | None = None
    ) -> None:
        """Make `verb` on `resource` (or on the object `name`) forbidden (403; access
        reviews answer "not allowed")."""
        self.api.deny(verb, resource, namespace, name)

    async def start(self) -> None:
        for name in SEED_NAMESPACES:
            self.store.create(NAMESPACES, {"metadata": {"name": name}})
        runner = web.AppRunner(
            self.api.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self._port
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{port}"
        if self._run_controllers:
            await self.controllers.start()
        log.info("sandbox cluster serving at %s (speed %sx)", self.url, self.clock.speed)

    async def stop(self) -> None:
        try:
            if self._run_controllers:
                await self.controllers.stop()
        finally:
            self.api.close()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None

    async def __aenter__(self) -> SandboxCluster:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def kubeconfig(self, *, context: str = "sandbox", namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig that points at this cluster (no credentials: the sandbox has no auth)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(
        self, path: str | Path, *, context: str = "sandbox", namespace: str = "default"
    ) -> Path:
        """Write `kubeconfig()` to `path` (parents created) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            yaml.safe_dump(self.kubeconfig(context=context, namespace=namespace), sort_keys=False)
        )
        return target
