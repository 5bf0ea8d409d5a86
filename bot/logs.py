"""Logging for `deckhand run`: JSON lines, a correlation id per command, secrets redacted.

    configure_logging(settings)          # once, in `bot.app.main`, before anything logs

- Format: `DECKHAND_LOG_FORMAT=json` (default) writes one JSON object per line with
  `time` (UTC, ISO 8601), `level`, `logger`, `message`, `correlation_id` (when set),
  `task` (the asyncio task's name, when in one) and `exc` (a traceback, when any);
  `text` writes the classic `time level logger [correlation id] message` line.
  Level: `DECKHAND_LOG_LEVEL` (default INFO).
- Correlation id: `bot.slack.handlers` sets `CORRELATION_ID` in the task that handles a
  command, click or modal (`correlation_id(...)`), and tasks spawned from that task copy
  it, so every line written on the request's behalf carries it. A record logged with
  `extra={"correlation_id": …}` keeps its own. `CORRELATION_ID` is a `ContextVar`, the
  one module-level object here: a context variable must be global to be shared by
  the tasks it follows; its value is per task.
- Redaction, the last line of defence (no code should log a secret in the first
  place): every record's message, arguments and traceback are rewritten when they
  contain a Slack token (`xoxb-…`, `xoxp-…`, `xapp-…`), an `Authorization` value
  (`Bearer …`, `Basic …`) or one of the configured secrets (bot/app tokens, signing
  secret, registry token and its base64 `user:token`): each becomes `[redacted]`.
  It runs where records are made (the log record factory), so every handler, ours or
  a test's `caplog`, only ever sees the redacted record.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.settings import Settings

CORRELATION_ID: ContextVar[str | None] = ContextVar("deckhand_correlation_id", default=None)
"""The id of the command or click being handled by the current task (None: none)."""

REDACTED = "[redacted]"

_PATTERNS = (
    re.compile(r"\bxox[abeprs]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
    # A credential after the scheme: 8+ token characters, one of them not a letter (so
    # "Basic auth failed" or a `Bearer realm=…` challenge stay readable).
    re.compile(r"(?<=\b[Bb]earer )(?=[\w.~+/=-]*[\d.~+/=_-])[\w.~+/=-]{8,}"),
    re.compile(r"(?<=\b[Bb]asic )(?=[\w.~+/=-]*[\d.~+/=_-])[\w.~+/=-]{8,}"),
)
_MIN_SECRET_LEN = 6
"""Shorter configured "secrets" are not redacted literally (they'd mangle ordinary words)."""

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(cid)s %(message)s"


@contextlib.contextmanager
def correlation_id(value: str) -> Iterator[None]:
    """`CORRELATION_ID` is `value` inside the block (and in tasks started inside it)."""
    token = CORRELATION_ID.set(value)
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


class Redactor:
    """Replaces token patterns and the given literal secrets by `[redacted]`. Pure."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literal = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        self._literal = re.compile("|".join(map(re.escape, literal))) if literal else None

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text


def configured_secrets(settings: Settings) -> list[str]:
    """The secret values `settings` holds (and the forms they travel in)."""
    found = [
        s.get_secret_value()
        for s in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token)
        if s is not None
    ]
    try:
        registry = settings.registry()
    except OSError:  # an unreadable token file: `deckhand run` reports it later
        registry = None
    if registry is not None and registry.token is not None:
        token = registry.token.get_secret_value()
        found.append(token)
        if registry.username:
            pair = f"{registry.username}:{token}".encode()
            found.append(base64.b64encode(pair).decode())
            found.append(base64.urlsafe_b64encode(pair).decode())
    try:
        gitea = settings.gitea().token
    except OSError:  # an unreadable token file
        gitea = None
    if gitea is not None:
        found.append(gitea.get_secret_value())
    return found


class _RedactingFactory:
    """A log record factory: the base factory's record, redacted (see the module doc)."""

    def __init__(self, base: Callable[..., logging.LogRecord], redact: Redactor) -> None:
        self.base = base
        self._redact = redact

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging itself reports it later
            return record
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self._redact(_PLAIN.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return record


_PLAIN = logging.Formatter()


def _correlation_of(record: logging.LogRecord) -> str | None:
    given = getattr(record, "correlation_id", None)
    return str(given) if given else CORRELATION_ID.get()


def _task_name() -> str | None:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None
    return task.get_name() if task is not None else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record (keys in the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = _correlation_of(record)
        if cid:
            line["correlation_id"] = cid
        task = _task_name()
        if task:
            line["task"] = task
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger [cid] message`."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        cid = _correlation_of(record)
        record.cid = f" [{cid}]" if cid else ""
        return super().format(record)


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Give the root logger a handler writing to `stream` (stderr) in
    `settings.log_format`, set its level to `settings.log_level`, and install the
    redaction (see the module docstring). Calling it again replaces both (other
    handlers are left alone). Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if getattr(old, "_deckhand", False):
            root.removeHandler(old)
            old.close()
    handler._deckhand = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    current = logging.getLogRecordFactory()
    base = current.base if isinstance(current, _RedactingFactory) else current
    logging.setLogRecordFactory(_RedactingFactory(base, Redactor(configured_secrets(settings))))
    return handler


def unconfigure_logging() -> None:
    """Undo `configure_logging`: its handler removed, the plain record factory back."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        if getattr(old, "_deckhand", False):
            root.removeHandler(old)
            old.close()
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(current.base)
