"""Helper tasks that live exactly as long as a block of code.

    async with background({"renew-lock": renew_forever(), "watch-pods": feed()}):
        ...  # the body; the tasks run beside it and are cancelled (and awaited) after

Built on `asyncio.TaskGroup` (references kept, names given, nothing orphaned), with
one difference: an exception of the body leaves as itself, not wrapped in the
`ExceptionGroup` Python 3.11's TaskGroup would make of it. `together(*coros)` is
`asyncio.gather` that cancels the rest when one fails (gather leaves them running).

The helper tasks must handle their own errors (report them through a queue, log
them): one that raises cancels the body, and its error then leaves as the group.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any, TypeVar, overload

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")


@contextlib.asynccontextmanager
async def background(coroutines: Mapping[str, Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    body_error: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c, name=name) for name, c in coroutines.items()]
            try:
                yield
            except BaseException as e:
                body_error = e
                raise
            finally:
                for task in tasks:
                    task.cancel()
    except BaseExceptionGroup as group_error:
        if body_error is not None and body_error in group_error.exceptions:
            raise body_error from None
        raise


@overload
async def together(a: Coroutine[Any, Any, T1], b: Coroutine[Any, Any, T2], /) -> tuple[T1, T2]: ...
@overload
async def together(
    a: Coroutine[Any, Any, T1], b: Coroutine[Any, Any, T2], c: Coroutine[Any, Any, T3], /
) -> tuple[T1, T2, T3]: ...
@overload
async def together(*coroutines: Coroutine[Any, Any, T]) -> tuple[T, ...]: ...
async def together(*coroutines: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
    """Run coroutines concurrently; their results in order. The first failure cancels the
    others and leaves as itself (not as an ExceptionGroup); nothing keeps running."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return tuple(t.result() for t in tasks)
