"""Test-wide hygiene: every async test fails if it leaves asyncio tasks running.

Fixtures shared by many test packages live here; the ones that start a stand-in
(cluster, registry, Slack) live beside the tests that use them, in `tests/fixtures/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest_plugins = ["tests.fixtures"]


@pytest.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail the test when it leaves tasks behind (checked after every other fixture ends)."""
    before = set(asyncio.all_tasks())
    yield
    current = asyncio.current_task()
    for _ in range(20):  # let tasks that were cancelled during teardown finish
        leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0.01)
    names = ", ".join(sorted(t.get_name() + ":" + repr(t.get_coro()) for t in leaked))
    pytest.fail(f"test leaked {len(leaked)} asyncio task(s): {names}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The leak check wraps every async test, and runs first so it tears down last.
    for item in items:
        if item.get_closest_marker("asyncio") and isinstance(item, pytest.Function):
            item.fixturenames.insert(0, "no_leaked_tasks")
