"""Writes that must land: retried while the API is unreachable, until they succeed.

    await until_answered(lambda: records.finish(...), what="finish deploy d-1",
                         backoff=kube.options.reconnect_backoff_s)

Only "no answer" failures are retried (`Unreachable`, `ServerError`: the API is down,
restarting or overloaded); an answer that refuses (`Forbidden`, `NotFound`, `Invalid`,
`Conflict` after its own retries) is raised at once: retrying can't change it. The
waits are the back-off list's entries, then its last one (the cap), forever: the call
ends when the write lands or when the caller is cancelled (shutdown; the leader's sweep
finishes what is left). Each attempt has the client's own request deadline. The call
must be idempotent: an attempt whose answer was lost may have been applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bot.kube.errors import ServerError, Unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")


async def until_answered(
    call: Callable[[], Awaitable[T]], *, what: str, backoff: Sequence[float]
) -> T:
    """`await call()` again after each `Unreachable`/`ServerError` (see the docstring)."""
    attempt = 0
    while True:
        try:
            result = await call()
        except (Unreachable, ServerError) as e:
            wait = backoff[min(attempt, len(backoff) - 1)] if backoff else 1.0
            attempt += 1
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d)", what, e.sentence(), wait, attempt
            )
            await asyncio.sleep(wait)
            continue
        if attempt:
            log.info("%s: done after %d attempt(s)", what, attempt + 1)
        return result
