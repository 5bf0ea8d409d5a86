"""Process lifecycle: the task supervisor, readiness, and the one shutdown path.

Every background task in Deckhand is spawned through one `Supervisor`. It keeps a
reference to each task (the event loop keeps only weak ones), names it, logs its
failure with that name, and cancels whatever is left on shutdown within a bounded grace.
A long-lived task (`keep`) that dies (fails, returns, or is cancelled by anyone but the
shutdown) is restarted after a back-off (`restart_backoff_s`); one whose restart would
not be safe (`restart=False`), or can't succeed (it raised `CannotRestart`), fails the
process instead: `/readyz` turns red, the shutdown path runs, and `deckhand run` exits
non-zero so Kubernetes restarts the pod. `bot.app`'s docstring decides it for each task.

The shutdown path, the only one (`run_until_signal`):

    SIGTERM/SIGINT (or the `stop` event, or a fatal task) → readiness "stopping" or
    "failed" (/readyz answers 503)
    → stop accepting (Socket Mode disconnects; the supervisor refuses new work, so
    handlers answer "restarting") → cancel root tasks → wait at most `grace_s` → return,
    and the caller's `AsyncExitStack` closes the servers and clients.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SupervisorClosed(RuntimeError):
    """`spawn` was called after shutdown began: the work is refused, not started."""


class CannotRestart(Exception):
    """Raised by a kept task when no restart of it can succeed (e.g. Slack refuses the app
    token: only a new process reads a new one from its Secret). The process fails as if
    the task were kept with `restart=False`, whatever its mode."""


TaskFactory = Callable[[], Coroutine[Any, Any, None]]

HEALTHY_AFTER_S = 60.0
"""A kept task that ran this long before dying starts its back-off over."""


@dataclass
class _Kept:
    factory: TaskFactory
    restart: bool
    failures: int = 0
    started: float = 0.0
    timer: asyncio.TimerHandle | None = None


class Supervisor:
    """Owns Deckhand's background tasks.

    Contract:
    - `spawn` starts the coroutine as a named task and keeps a strong reference until it
      ends; a task that raises is logged (error level, with traceback and the task name);
      a cancelled task is not an error. Finished tasks are forgotten.
    - `keep(factory, name=…)` runs `factory()` as a long-lived named task. If it dies
      before shutdown (raises, returns, or is cancelled by anyone else), that is logged
      and `factory()` runs again after the next wait of `restart_backoff_s` (the last
      repeats; a task that had run `HEALTHY_AFTER_S` starts over). With `restart=False`,
      or when it raised `CannotRestart`, it is not restarted: `failed` names it and the
      `on_fatal` callbacks run (the shutdown path starts).
    - After `close` began, `accepting` is False and `spawn`/`keep` raise
      `SupervisorClosed` (the coroutine is closed, never run).
    - `close(grace_s=…)` cancels every running task and pending restart and waits for
      the tasks at most `grace_s` seconds; tasks still running after that are logged by
      name and abandoned.
    """

    def __init__(
        self, *, name: str = "deckhand", restart_backoff_s: Sequence[float] = (1.0, 2.0, 5.0)
    ) -> None:
        if not restart_backoff_s:
            raise ValueError("restart_backoff_s needs at least one wait")
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._kept: dict[str, _Kept] = {}
        self._backoff = tuple(restart_backoff_s)
        self.failed: str | None = None
        """The kept task that died and could not be restarted (`on_fatal` callbacks ran)."""
        self._on_fatal: list[Callable[[], None]] = []

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

    def keep(self, factory: TaskFactory, *, name: str, restart: bool = True) -> asyncio.Task[None]:
        """Run `factory()` as the long-lived task `name` (see the class contract)."""
        if self._closing:
            raise SupervisorClosed(f"{self._name} is shutting down; refused task {name!r}")
        if name in self._kept:
            raise ValueError(f"task {name!r} is kept already")
        self._kept[name] = _Kept(factory, restart)
        return self._start_kept(name)

    def _start_kept(self, name: str) -> asyncio.Task[None]:
        kept = self._kept[name]
        kept.timer = None
        kept.started = asyncio.get_running_loop().time()
        task = asyncio.create_task(kept.factory(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._kept_ended)
        return task

    def _kept_ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        name = task.get_name()
        error = None if task.cancelled() else task.exception()
        if self._closing:
            if error is not None:
                logger.error("task %s failed", name, exc_info=error)
            return
        how = "was cancelled" if task.cancelled() else "failed" if error else "returned"
        kept = self._kept[name]
        loop = asyncio.get_running_loop()
        if loop.time() - kept.started >= HEALTHY_AFTER_S:
            kept.failures = 0
        if not kept.restart or isinstance(error, CannotRestart):
            logger.error("task %s %s; it can't be restarted: stopping", name, how, exc_info=error)
            self.failed = name
            for callback in self._on_fatal:
                callback()
            return
        wait = self._backoff[min(kept.failures, len(self._backoff) - 1)]
        kept.failures += 1
        logger.error(
            "task %s %s; restarting it in %.1fs (restart %d)",
            name,
            how,
            wait,
            kept.failures,
            exc_info=error,
        )
        kept.timer = loop.call_later(wait, self._start_kept, name)

    def on_fatal(self, callback: Callable[[], None]) -> None:
        """Call `callback` (at once if it happened) when a task that can't be restarted
        dies. Must not block."""
        self._on_fatal.append(callback)
        if self.failed is not None:
            callback()

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
        for kept in self._kept.values():
            if kept.timer is not None:
                kept.timer.cancel()
                kept.timer = None
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
    FAILED = "failed"
    """A task that can't be restarted died: the process is on its way out, non-zero."""


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


FATAL_PREFIX = "failed:"
"""`run_until_signal`'s answer when a task that can't be restarted died."""


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

    Returns what stopped it (a signal name, "stop-event", or `FATAL_PREFIX` + the name of
    the supervisor's task that died unrestartable: readiness is then FAILED). Signal
    handlers are
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
        supervisor.on_fatal(stop.set)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        readiness.state = Readiness.STOPPING
    if supervisor.failed is not None and not reason:
        readiness.state = Readiness.FAILED
        reason.append(FATAL_PREFIX + supervisor.failed)
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
