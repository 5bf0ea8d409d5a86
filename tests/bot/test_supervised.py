"""Long-lived tasks under the supervisor (`Supervisor.keep`): a task that fails, returns
or is killed (cancelled by anyone but the shutdown) is restarted after a growing wait
from its back-off list; one whose restart isn't safe (`restart=False`) fails the
process: `run_until_signal` returns `failed:NAME` with readiness FAILED (so `/readyz`
is red and `deckhand run` exits non-zero), and so does a restartable one that raises
`CannotRestart`; the shutdown cancels pending restarts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.lifecycle import (
    FATAL_PREFIX,
    CannotRestart,
    Readiness,
    ReadinessState,
    Supervisor,
    SupervisorClosed,
    run_until_signal,
)


class Life:
    """A task factory that records each start; each run dies as `how` says."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.starts: list[float] = []
        self.started = asyncio.Event()

    async def __call__(self) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        self.started.set()
        if self.how == "fail":
            raise RuntimeError("boom")
        if self.how == "return":
            return
        if self.how == "cannot":
            raise CannotRestart("the app token is refused")
        await asyncio.Event().wait()  # "killed": cancelled from outside by the test

    async def until_started(self, n: int, within_s: float = 3.0) -> None:
        async with asyncio.timeout(within_s):
            while len(self.starts) < n:
                self.started.clear()
                await self.started.wait()


@pytest.mark.parametrize("how", ["fail", "return"])
async def test_a_dying_task_is_restarted_with_back_off(
    how: str, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = Supervisor(restart_backoff_s=(0.05, 0.2))
    life = Life(how)
    supervisor.keep(life, name="deploy-reports")
    try:
        await life.until_started(4)
    finally:
        await supervisor.close(grace_s=1)
    gaps = [b - a for a, b in zip(life.starts, life.starts[1:], strict=False)]
    assert gaps[0] >= 0.05
    assert all(gap >= 0.2 for gap in gaps[1:])  # the last wait repeats
    restarts = [r for r in caplog.records if "restarting it" in r.getMessage()]
    assert len(restarts) >= 3
    assert all("deploy-reports" in r.getMessage() for r in restarts)


async def test_a_killed_task_is_restarted() -> None:
    supervisor = Supervisor(restart_backoff_s=(0.01,))
    life = Life("kill")
    first = supervisor.keep(life, name="leader-election")
    try:
        await life.until_started(1)
        first.cancel()
        await life.until_started(2)
        (second,) = supervisor.tasks
        assert second is not first
        assert second.get_name() == "leader-election"
    finally:
        await supervisor.close(grace_s=1)
    assert supervisor.tasks == frozenset()


@pytest.mark.parametrize(("how", "restart"), [("fail", False), ("cannot", True)])
async def test_a_task_that_cant_be_restarted_fails_the_process(how: str, restart: bool) -> None:
    supervisor = Supervisor(restart_backoff_s=(0.01,))
    readiness = ReadinessState()
    life = Life(how)
    stop = asyncio.Event()

    async def once_ready() -> None:
        async with asyncio.timeout(3):
            while readiness.state is not Readiness.READY:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        supervisor.keep(life, name="socket-mode", restart=restart)

    async with asyncio.timeout(5):
        outcome, _ = await asyncio.gather(
            run_until_signal(supervisor=supervisor, readiness=readiness, grace_s=1, stop=stop),
            once_ready(),
        )
    assert outcome == FATAL_PREFIX + "socket-mode"
    assert readiness.state is Readiness.FAILED
    assert not readiness.ready
    assert len(life.starts) == 1


async def test_close_cancels_a_pending_restart(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(restart_backoff_s=(30.0,))
    life = Life("fail")
    supervisor.keep(life, name="metrics-gauges")
    await life.until_started(1)
    async with asyncio.timeout(3):  # its done callback has scheduled the restart
        while "restarting it in 30.0s" not in caplog.text:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await supervisor.close(grace_s=1)
    assert supervisor.tasks == frozenset()
    with pytest.raises(SupervisorClosed):
        supervisor.keep(life, name="other")
    assert len(life.starts) == 1
    assert [r.levelno for r in caplog.records if "metrics-gauges" in r.getMessage()] == [
        logging.ERROR
    ]
