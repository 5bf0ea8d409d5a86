"""The supervisor and the shutdown path (`bot.lifecycle`).

Covers: tasks are named, kept while running and forgotten when done; failures are
logged with the task name, cancellations are not; `close` cancels within the grace and
names tasks that ignore cancellation; no spawning after close; `run_until_signal`
drives readiness, stop-accepting and the supervisor, on the stop event and on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import pytest

from bot.lifecycle import (
    Readiness,
    ReadinessState,
    Supervisor,
    SupervisorClosed,
    run_until_signal,
)


async def test_spawn_names_keeps_and_forgets_tasks() -> None:
    supervisor = Supervisor()
    release = asyncio.Event()
    task = supervisor.spawn(release.wait(), name="waiter")
    assert task.get_name() == "waiter"
    assert supervisor.tasks == {task}
    release.set()
    await task
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert supervisor.tasks == frozenset()


async def test_failure_is_logged_with_the_task_name(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor()

    async def boom() -> None:
        raise ValueError("kaputt")

    task = supervisor.spawn(boom(), name="deploy:abc123")
    with contextlib.suppress(ValueError):
        await task
    await asyncio.sleep(0)
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "task deploy:abc123 failed"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError


async def test_cancellation_is_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor()
    supervisor.spawn(asyncio.sleep(10), name="sleeper")
    await supervisor.close(grace_s=1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def until_ready(readiness: ReadinessState, *, within_s: float = 3.0) -> None:
    """Until the runner marked the process ready (it does so once its handlers are in)."""
    async with asyncio.timeout(within_s):
        while not readiness.ready:  # noqa: ASYNC110 (a flag, no event to wait on)
            await asyncio.sleep(0.01)


async def test_close_cancels_within_the_grace(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor()
    cleaned = asyncio.Event()

    async def polite() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned.set()

    tasks = [supervisor.spawn(polite(), name=f"polite-{i}") for i in range(3)]
    await asyncio.sleep(0)  # let them start (a task cancelled before it runs skips `finally`)
    await supervisor.close(grace_s=30)
    # Within the grace, by what happened rather than a stopwatch: the tasks ended on
    # the cancel, so the grace never ran out (no "still running" line).
    assert "still running" not in caplog.text
    assert all(t.cancelled() for t in tasks)
    assert cleaned.is_set()
    assert not supervisor.accepting


async def test_close_gives_up_after_the_grace_and_names_stuck_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor()
    let_go = asyncio.Event()

    async def stubborn() -> None:
        while not let_go.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await let_go.wait()  # ignores cancellation until the test lets go

    task = supervisor.spawn(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    began = asyncio.get_running_loop().time()
    await supervisor.close(grace_s=0.1)
    assert asyncio.get_running_loop().time() - began >= 0.1  # it waited the grace out
    assert not task.done()  # and then gave up on the task instead of waiting for it
    assert "still running" in caplog.text
    assert "stubborn" in caplog.text
    let_go.set()
    await task


async def test_spawn_after_close_is_refused_and_the_coroutine_closed() -> None:
    supervisor = Supervisor()
    await supervisor.close(grace_s=0.1)
    coro = asyncio.sleep(1)
    with pytest.raises(SupervisorClosed):
        supervisor.spawn(coro, name="late")
    assert coro.cr_frame is None  # closed: no "never awaited" warning


async def test_run_until_signal_on_the_stop_event() -> None:
    supervisor = Supervisor()
    readiness = ReadinessState()
    stop = asyncio.Event()
    stopped_accepting: list[Readiness] = []
    work = supervisor.spawn(asyncio.sleep(10), name="work")

    async def stop_accepting() -> None:
        stopped_accepting.append(readiness.state)

    runner = asyncio.create_task(
        run_until_signal(
            supervisor=supervisor,
            readiness=readiness,
            grace_s=1,
            stop_accepting=stop_accepting,
            stop=stop,
        )
    )
    await until_ready(readiness)
    stop.set()
    assert await runner == "stop-event"
    assert stopped_accepting == [Readiness.STOPPING]
    assert work.cancelled()
    assert readiness.state is Readiness.STOPPING
    assert not supervisor.accepting


async def test_run_until_signal_on_sigterm() -> None:
    supervisor = Supervisor()
    readiness = ReadinessState()
    runner = asyncio.create_task(
        run_until_signal(supervisor=supervisor, readiness=readiness, grace_s=1)
    )
    await until_ready(readiness)  # handlers are installed before READY
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await runner == "SIGTERM"
    # The handler was removed again: the loop has no SIGTERM handler left.
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
