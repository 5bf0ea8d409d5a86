"""Process lifecycle: the task supervisor, readiness, and the one shutdown path.

Every background task in Deckhand is spawned through one `Supervisor`. It keeps a
reference to each task (the event loop keeps only weak ones), names it, logs its
failure with that name, and cancels whatever is left on shutdown within a bounded grace.

The shutdown path, the only one (`run_until_signal`):

    SIGTERM/SIGINT (or the `stop` event) → readiness "stopping" (/readyz answers 503)
    → stop accepting (Socket Mode disconnects; the supervisor refuses new work, so
    handlers answer "restarting") → cancel root tasks → wait at most `grace_s` → return,
    and the caller's `AsyncExitStack` closes the servers and clients.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SupervisorClosed(RuntimeError):
    """`spawn` was called after shutdown began: the work is refused, not started."""


class Supervisor:
    """Owns Deckhand's background tasks.

    Contract:
    - `spawn` starts the coroutine as a named task and keeps a strong reference until it
      ends; a task that raises is logged (error level, with traceback and the task name);
      a cancelled task is not an error. Finished tasks are forgotten.
    - After `close` began, `accepting` is False and `spawn` raises `SupervisorClosed`
      (the coroutine is closed, never run).
    - `close(grace_s=…)` cancels every running task and waits for them at most `grace_s`
      seconds; tasks still running after that are logged by name and abandoned.
    """

    def __init__(self, *, name: str = "deckhand") -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def accepting(self) -> bool:
        """False once shutdown began."""
        return not self._closing

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running (a snapshot)."""
        return frozenset(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Start `coro` as a supervised task named `name` (see the class contract)."""
        if self._closing:
            coro.close()
            raise SupervisorClosed(f"{self._name} is shutting down; refused task {name!r}")
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("task %s failed", task.get_name(), exc_info=error)

    async def close(self, *, grace_s: float) -> None:
        """Stop accepting, cancel every task, wait at most `grace_s` seconds for them."""
        self._closing = True
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        if not pending:
            return
        # asyncio.wait, not gather under a timeout: the deadline must not cancel them again.
        _, stuck = await asyncio.wait(pending, timeout=grace_s)
        if stuck:
            names = sorted(t.get_name() for t in stuck)
            logger.error(
                "%d task(s) still running %.1fs after cancel: %s", len(names), grace_s, names
            )


class Readiness(enum.Enum):
    """What /readyz reports: only READY answers 200."""

    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


class ReadinessState:
    """A mutable readiness flag shared by the runner (writer) and /readyz (reader), plus
    named conditions that must hold too (`require`: e.g. an open Socket Mode connection)."""

    def __init__(self) -> None:
        self.state = Readiness.STARTING
        self._checks: dict[str, Callable[[], bool]] = {}

    def require(self, name: str, check: Callable[[], bool]) -> None:
        """Ready only while `check()` is true; /readyz names it when it isn't."""
        self._checks[name] = check

    @property
    def failing(self) -> list[str]:
        """The required conditions that don't hold now."""
        return [name for name, check in self._checks.items() if not check()]

    @property
    def ready(self) -> bool:
        return self.state is Readiness.READY and not self.failing


async def run_until_signal(
    *,
    supervisor: Supervisor,
    readiness: ReadinessState,
    grace_s: float,
    stop_accepting: Callable[[], Awaitable[None]] | None = None,
    stop: asyncio.Event | None = None,
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> str:
    """Mark the process ready, wait for a signal (or `stop`), then shut down in order.

    Returns what stopped it (a signal name, or "stop-event"). Signal handlers are
    installed on the running loop for the duration of the call and removed after.
    `stop_accepting` (e.g. disconnect Socket Mode) runs with the same `grace_s` deadline.
    Closing servers and clients is the caller's job (its `AsyncExitStack`), after this
    returns, so health endpoints keep answering 503 until the very end.
    """
    loop = asyncio.get_running_loop()
    stop = stop if stop is not None else asyncio.Event()
    reason: list[str] = []
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        reason.append(sig.name)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
        installed.append(sig)
    try:
        readiness.state = Readiness.READY
        logger.info("ready")
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        readiness.state = Readiness.STOPPING
    why = reason[0] if reason else "stop-event"
    logger.info("shutting down (%s): grace %.1fs", why, grace_s)
    if stop_accepting is not None:
        try:
            async with asyncio.timeout(grace_s):
                await stop_accepting()
        except TimeoutError:
            logger.error("stop accepting did not finish within %.1fs", grace_s)
    await supervisor.close(grace_s=grace_s)
    return why
