"""Helper tasks that live exactly as long as a block of code.

    async with background({"renew-lock": renew_forever(), "watch-pods": feed()}):
        ...  # the body; the tasks run beside it and are cancelled (and awaited) after

Built on `asyncio.TaskGroup` (references kept, names given, nothing orphaned), with
one difference: an exception of the body leaves as itself, not wrapped in the
`ExceptionGroup` Python 3.11's TaskGroup would make of it. The helper tasks must
handle their own errors (report them through a queue, log them): one that raises
cancels the body, and its error then leaves as the group.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any


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
