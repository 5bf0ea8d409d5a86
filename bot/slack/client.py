"""The Slack Web API client: built once from settings, retries from settings, errors translated.

Error hierarchy at this boundary (callers never see slack_sdk or aiohttp exceptions):

    SlackError
    ├── SlackCallFailed      one Web API / response_url call failed after its retries
    │   └── BotNotInChannel  a write refused because the bot is not a member there
    │                        (`not_in_channel`, or `channel_not_found` for a private
    │                        channel or DM): the fix is `/invite @deckhand`
    └── FinalUpdateFailed    a live message's final state could not be delivered

Retries (slack_sdk retry handlers, configured from `Settings`, each attempt logged):
- HTTP 429: wait `Retry-After` (up to `slack_max_retry_after_s`, else give up), retry;
- HTTP 500/503 and connection errors: wait `slack_retry_backoff_s[attempt]`, retry;
- at most `slack_max_retries` retries per call, all handlers together.
Log lines name the method and attempt, never the token (it travels in a header only).
Every attempt's failure is also told to an optional `SlackObserver` (metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SlackError(Exception):
    """Base of every Slack failure Deckhand reports."""


class SlackCallFailed(SlackError):
    """A Slack call failed after its retries. `error` is Slack's code or the failure kind."""

    def __init__(self, method: str, *, error: str, status: int | None = None) -> None:
        self.method = method
        self.error = error
        self.status = status
        suffix = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"slack {method} failed: {error}{suffix}")


class BotNotInChannel(SlackCallFailed):
    """Slack refused a write because the bot is not a member of `channel`."""

    def __init__(self, method: str, *, error: str, channel: str) -> None:
        super().__init__(method, error=error)
        self.channel = channel


NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
"""Slack's answers to a write where the bot is not a member (python-slack-sdk#734)."""


class SlackObserver(Protocol):
    """Told of every failed Web API attempt (retries included); must not block."""

    def slack_error(self, method: str, error: str) -> None: ...

    def slack_rate_limited(self, method: str) -> None: ...


class Unobserved:
    """The default `SlackObserver`: ignores everything."""

    def slack_error(self, method: str, error: str) -> None:
        pass

    def slack_rate_limited(self, method: str) -> None:
        pass


def _method_of(request: HttpRequest) -> str:
    return request.url.rsplit("/", 1)[-1]


class BackoffList(RetryIntervalCalculator):
    """Waits taken from a list; the last one repeats."""

    def __init__(self, backoff_s: Sequence[float]) -> None:
        self._backoff = list(backoff_s) or [1.0]

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return self._backoff[min(current_attempt, len(self._backoff) - 1)]


def _retry_after_s(response: HttpResponse | None) -> float | None:
    if response is None:
        return None
    for key, values in response.headers.items():
        if key.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                return None
    return None


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """429: honour Retry-After (capped by `max_wait_s`: a longer wait gives up instead)."""

    def __init__(self, *, max_retry_count: int, max_wait_s: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._max_wait_s = max_wait_s

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after_s(response)
        return wait is None or wait <= self._max_wait_s

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = _retry_after_s(response)
        wait = 1.0 if wait is None else wait
        state.next_attempt_requested = True
        logger.warning(
            "slack %s rate-limited: retry %d/%d after %.1fs (Retry-After)",
            _method_of(request),
            state.current_attempt + 1,
            self.max_retry_count,
            wait,
        )
        await asyncio.sleep(wait)
        state.increment_current_attempt()


class ObservingHandler(AsyncRetryHandler):
    """First in the handler list, it sees every attempt's answer and never retries:
    a failure (429, HTTP error, `ok: false`, connection error) goes to the observer."""

    def __init__(self, observer: SlackObserver) -> None:
        super().__init__(max_retry_count=0)
        self._observer = observer

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = _method_of(request)
        if response is None:
            if error is not None:
                self._observer.slack_error(method, type(error).__name__)
            return False
        body = response.body if isinstance(response.body, dict) else {}
        if response.status_code == 429:
            self._observer.slack_rate_limited(method)
        if response.status_code >= 400 or body.get("ok") is False:
            code = body.get("error")
            self._observer.slack_error(method, str(code or f"http_{response.status_code}"))
        return False


class _LoggedBackoffMixin(AsyncRetryHandler):
    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        cause = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        state.next_attempt_requested = True
        logger.warning(
            "slack %s failed (%s): retry %d/%d in %.2fs",
            _method_of(request),
            cause,
            state.current_attempt + 1,
            self.max_retry_count,
            wait,
        )
        await asyncio.sleep(wait)
        state.increment_current_attempt()


class ServerErrorRetry(_LoggedBackoffMixin, AsyncServerErrorRetryHandler):
    """HTTP 500/503: back off from the settings list and retry."""


class ConnectionErrorRetry(_LoggedBackoffMixin, AsyncConnectionErrorRetryHandler):
    """Connection refused/reset/disconnected: back off from the settings list and retry."""


def retry_handlers(
    settings: Settings, *, observer: SlackObserver | None = None
) -> list[AsyncRetryHandler]:
    """The retry policy of every Slack call (see the module docstring)."""
    backoff = BackoffList(settings.slack_retry_backoff_s)
    retries = settings.slack_max_retries
    return [
        ObservingHandler(observer or Unobserved()),
        RateLimitRetry(max_retry_count=retries, max_wait_s=settings.slack_max_retry_after_s),
        ServerErrorRetry(max_retry_count=retries, interval_calculator=backoff),
        ConnectionErrorRetry(max_retry_count=retries, interval_calculator=backoff),
    ]


def build_web_client(
    settings: Settings, *, session: aiohttp.ClientSession, observer: SlackObserver | None = None
) -> AsyncWebClient:
    """An `AsyncWebClient` on `settings.slack_api_url` using `session` (owned by the caller);
    `observer` is told of failed attempts."""
    if settings.slack_bot_token is None:
        raise ValueError("SLACK_BOT_TOKEN is not set")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=max(1, round(settings.slack_timeout_s)),
        session=session,
        retry_handlers=retry_handlers(settings, observer=observer),
        logger=logging.getLogger("bot.slack.web"),
    )


@asynccontextmanager
async def open_web_client(
    settings: Settings, *, observer: SlackObserver | None = None
) -> AsyncIterator[AsyncWebClient]:
    """The long-lived Web API client; its HTTP session is closed on exit."""
    timeout = aiohttp.ClientTimeout(total=settings.slack_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield build_web_client(settings, session=session, observer=observer)


async def slack_call(method: str, call: Awaitable[T]) -> T:
    """Await one slack_sdk call, translating its failures into `SlackCallFailed`."""
    try:
        return await call
    except SlackApiError as e:
        code = e.response.get("error") if isinstance(e.response.data, dict) else None
        raise SlackCallFailed(
            method, error=str(code or "unexpected_response"), status=e.response.status_code
        ) from e
    except (aiohttp.ClientError, TimeoutError) as e:
        raise SlackCallFailed(method, error=type(e).__name__) from e


class FinalUpdateFailed(SlackError):
    """A live message's final state was not delivered (after retries, or past the deadline).

    Carries what was meant to be shown so the caller can retry later (e.g. from the
    deploy record in the cluster).
    """

    def __init__(
        self,
        *,
        channel: str,
        ts: str,
        text: str,
        blocks: list[dict[str, Any]],
        cause: str,
    ) -> None:
        self.channel = channel
        self.ts = ts
        self.text = text
        self.blocks = blocks
        super().__init__(f"final update of message {ts} in {channel} failed: {cause}")
