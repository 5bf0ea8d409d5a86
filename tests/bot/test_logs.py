"""bot.logs: JSON/text lines, the correlation id, redaction, and the settings behind them.

Covers: the redaction table (Slack tokens, Authorization values, configured secrets and
the base64 `user:token`, words left alone); JSON lines with level, logger, message, the
correlation id from the context variable or from `extra`, the task name and a redacted
traceback; the text format; redaction reaching every handler (`caplog` too) and the
arguments; `configure_logging` twice keeps one handler, `unconfigure_logging` restores;
`DECKHAND_LOG_FORMAT` / `DECKHAND_LOG_LEVEL` parsing; a correlation id set by the Slack
handlers' `guarded` reaching lines logged by tasks the request starts.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.lifecycle import Supervisor
from bot.logs import (
    CORRELATION_ID,
    REDACTED,
    Redactor,
    configure_logging,
    configured_secrets,
    correlation_id,
    unconfigure_logging,
)
from bot.settings import Settings
from bot.slack.handlers import guarded

BOT_TOKEN = "xoxb-1234-5678-abcdefABCDEF"
SIGNING = "0123456789abcdef-signing"
REGISTRY_TOKEN = "gta_0123456789abcdef"
log = logging.getLogger("tests.bot.test_logs")


def settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING,
        "registry_username": "admin",
        "registry_token": REGISTRY_TOKEN,
    }
    base.update(values)
    return Settings.model_validate(base)


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """`configure_logging` writing JSON at DEBUG into a buffer; undone afterwards."""
    stream = io.StringIO()
    level = logging.getLogger().level
    configure_logging(settings(log_level="debug"), stream=stream)
    try:
        yield stream
    finally:
        unconfigure_logging()
        logging.getLogger().setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


B64 = base64.b64encode(f"admin:{REGISTRY_TOKEN}".encode()).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {BOT_TOKEN} used", f"token {REDACTED} used"),
        ("xoxp-11-22-aa and xapp-1-A0-99-ff", f"{REDACTED} and {REDACTED}"),
        ("Authorization: Bearer eyJhbGciOi.J9.x-y_z", f"Authorization: Bearer {REDACTED}"),
        (
            "headers={'Authorization': 'Basic YWRtaW46eA=='}",
            f"headers={{'Authorization': 'Basic {REDACTED}'}}",
        ),
        (f"secret={SIGNING}!", f"secret={REDACTED}!"),
        (f"pull with {REGISTRY_TOKEN}", f"pull with {REDACTED}"),
        (f'"auth": "{B64}"', f'"auth": "{REDACTED}"'),
        ("Basic and bearer words alone stay", "Basic and bearer words alone stay"),
        ('Bearer realm="http://r/v2/token"', 'Bearer realm="http://r/v2/token"'),
        ("bearer gitea_AbC-12_x", f"bearer {REDACTED}"),
        ("deploy api 237c6b8 to staging", "deploy api 237c6b8 to staging"),
    ],
)
def test_redactor(text: str, expected: str) -> None:
    assert Redactor(configured_secrets(settings()))(text) == expected


def test_short_configured_values_are_not_redacted_literally() -> None:
    redact = Redactor(["abc", "longer-secret"])
    assert redact("abc longer-secret") == f"abc {REDACTED}"


def test_json_line_fields(configured: io.StringIO) -> None:
    log.info("hello %s", "world")
    with correlation_id("c0ffee01"):
        log.warning("inside")
    log.info("given", extra={"correlation_id": "beef0002"})
    first, inside, given = lines(configured)
    assert first["level"] == "INFO"
    assert first["logger"] == "tests.bot.test_logs"
    assert first["message"] == "hello world"
    assert "correlation_id" not in first
    assert str(first["time"]).endswith("+00:00")
    assert inside["correlation_id"] == "c0ffee01"
    assert given["correlation_id"] == "beef0002"
    assert CORRELATION_ID.get() is None


async def test_json_line_names_the_task(configured: io.StringIO) -> None:
    async def work() -> None:
        log.info("in a task")

    await asyncio.create_task(work(), name="command:abc")
    assert lines(configured)[-1]["task"] == "command:abc"


def test_secrets_in_args_message_and_traceback_are_redacted(
    configured: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log.debug("headers %r", {"Authorization": f"Bearer {BOT_TOKEN}"})
    try:
        raise RuntimeError(f"registry said no to {REGISTRY_TOKEN}")
    except RuntimeError:
        log.exception("failed with %s", SIGNING)
    out = configured.getvalue()
    for secret in (BOT_TOKEN, REGISTRY_TOKEN, SIGNING):
        assert secret not in out
        assert secret not in caplog.text
        assert all(secret not in r.getMessage() for r in caplog.records)
    debug, error = lines(configured)
    assert REDACTED in str(debug["message"])
    assert "RuntimeError: registry said no to [redacted]" in str(error["exc"])


def test_text_format(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    try:
        configure_logging(settings(log_format="TEXT"), stream=stream)
        with correlation_id("abcd1234"):
            log.info("plain %s", BOT_TOKEN)
    finally:
        unconfigure_logging()
    line = stream.getvalue().strip()
    assert line.endswith(f"INFO tests.bot.test_logs [abcd1234] plain {REDACTED}"), line


def test_configuring_twice_keeps_one_handler_and_unconfigure_restores() -> None:
    factory = logging.getLogRecordFactory()
    before = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    try:
        configure_logging(settings(), stream=io.StringIO())
        configure_logging(settings(), stream=io.StringIO())
        assert len(logging.getLogger().handlers) == len(before) + 1
    finally:
        unconfigure_logging()
        logging.getLogger().setLevel(level)
    assert logging.getLogger().handlers == before
    assert logging.getLogRecordFactory() is factory


@pytest.mark.parametrize(
    ("env", "fmt", "level"),
    [
        ({}, "json", "INFO"),
        ({"DECKHAND_LOG_FORMAT": "text", "DECKHAND_LOG_LEVEL": "debug"}, "text", "DEBUG"),
    ],
)
def test_settings_from_env(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fmt: str, level: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    found = Settings.from_env()
    assert (found.log_format, found.log_level) == (fmt, level)


async def test_guarded_work_and_its_tasks_carry_the_correlation_id(
    configured: io.StringIO,
) -> None:
    supervisor = Supervisor(name="test")

    async def child() -> None:
        log.info("child task")

    async def work() -> None:
        log.info("handling")
        await supervisor.spawn(child(), name="child")

    await guarded(work(), correlation_id="feed0003", replier=None)  # type: ignore[arg-type]
    log.info("after")
    handling, spawned, after = lines(configured)
    assert handling["correlation_id"] == spawned["correlation_id"] == "feed0003"
    assert "correlation_id" not in after
    await supervisor.close(grace_s=1.0)
