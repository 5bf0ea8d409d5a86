"""A TCP proxy that cuts the network on command: an API outage without touching the API.

    async with FaultyProxy("127.0.0.1", cluster_port) as proxy:
        point_kubeconfig(env.kubeconfig, proxy.url, into=directory / "kubeconfig")
        await proxy.cut("reset")      # every connection reset, new ones reset at once
        await proxy.cut("refuse")     # nothing listens: connect() gets ECONNREFUSED
        await proxy.restore()         # pass traffic again (same port)

What a client sees is what a real outage does to it: an API server restarting (refused),
a load balancer or NAT dropping state (reset), both mid-watch. `cut` first resets every
open connection (SO_LINGER 0: an RST, not a FIN), so a watch stream ends with an error
rather than a clean close. `connections` counts accepted connections (tests wait on
it rather than on time).

Its port is outside the kernel's ephemeral range: while it refuses (nothing listens),
no other process's `bind(0)` can be handed the same port, so the client never reaches
a stranger's server in the meantime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import yaml

log = logging.getLogger(__name__)

Mode = Literal["pass", "reset", "refuse"]
_CHUNK = 64 * 1024


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with an RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultyProxy:
    """Forwards `127.0.0.1:port` to `target_host:target_port` unless cut (module docstring)."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.mode: Mode = "pass"
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self._listen()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop_listening()
        self._reset_all()  # their pipes end, and so do the handlers
        if self._handlers:  # asyncio.Server doesn't wait for its handlers
            _, stuck = await asyncio.wait(set(self._handlers), timeout=2.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)

    async def cut(self, mode: Literal["reset", "refuse"]) -> None:
        """Start (or change) an outage; open connections are reset either way."""
        self.mode = mode
        self._reset_all()
        if mode == "refuse":
            await self._stop_listening()
        elif self._server is None:
            await self._listen()
        log.info("proxy %s: %s", self.url, mode)

    async def restore(self) -> None:
        """End the outage: forward again, on the same port."""
        self.mode = "pass"
        if self._server is None:
            await self._listen()
        log.info("proxy %s: passing", self.url)

    async def _listen(self) -> None:
        if not self.port:
            self.port = _unassignable_port(self.host)
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _reset_all(self) -> None:
        for writer in list(self._open):
            _reset(writer)
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode != "pass":
            _reset(writer)
            return
        me = asyncio.current_task()
        if me is not None:
            self._handlers.add(me)
        self._open.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._open.add(up_writer)
            async with asyncio.TaskGroup() as pipes:  # both directions; each ends quietly
                pipes.create_task(self._pipe(reader, up_writer), name="proxy-up")
                pipes.create_task(self._pipe(up_reader, writer), name="proxy-down")
        except OSError:
            _reset(writer)
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._open.discard(w)
                    w.transport.abort()
            if me is not None:
                self._handlers.discard(me)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side ended: end the other too (a reset, when the proxy is cut).
            if self.mode == "pass":
                with contextlib.suppress(OSError):
                    writer.write_eof()
            else:
                _reset(writer)


def _unassignable_port(host: str) -> int:
    """A free port below the ephemeral range (never handed out by `bind(0)`)."""
    low = 32768
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/sys/net/ipv4/ip_local_port_range") as ports,
    ):
        low = int(ports.read().split()[0])
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError("no free port below the ephemeral range")


def point_kubeconfig(source: Path, server: str, *, into: Path) -> Path:
    """A copy of the kubeconfig `source` whose clusters all point at `server`."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    for cluster in config.get("clusters") or []:
        cluster["cluster"]["server"] = server
    into.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return into
