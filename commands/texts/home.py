"""Texts: the App Home tab (commands.home, bot.home).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from datetime import datetime

from commands.texts._format import _code


def home_title() -> str:
    return "Deckhand: what runs where"


def home_env_header(env: str, namespace: str) -> str:
    return f"{env} ({namespace})"


def home_row_line(
    *,
    service: str,
    tag: str,
    ready: int,
    replicas: int,
    missing: bool,
    since: datetime | None,
    by: str,
    lock: str | None,
    approval: str | None,
    incident: str | None,
    drift: str | None,
) -> str:
    if missing:
        first = f"*{service}*: no Deployment"
    else:
        mark = ":large_green_circle:" if ready >= replicas and replicas else ":red_circle:"
        first = f"{mark} *{service}* {_code(tag)} · {ready}/{replicas} ready"
    details = []
    if since is not None:
        who = f" by <@{by}>" if by else ""
        details.append(f"since {since.strftime('%Y-%m-%d %H:%M UTC')}{who}")
    if drift:
        details.append(f":warning: drift: Deckhand last deployed {_code(drift)}")
    if lock:
        details.append(f":lock: {lock}")
    if approval:
        details.append(f":hourglass: approval pending: {approval}")
    if incident:
        details.append(f":rotating_light: {incident}")
    return first + ("\n" + " · ".join(details) if details else "")


def home_history_button() -> str:
    return "History"


def home_more(count: int) -> str:
    return f"… and {count} more (the tab shows 100 blocks at most): `/deploy status` lists all."


def home_updated(when: datetime) -> str:
    return f"Updated {when.strftime('%Y-%m-%d %H:%M:%S UTC')}"


def home_history_title(service: str, env: str) -> str:
    return f"{service} in {env}"[:24]


def home_history_loading() -> str:
    """The History modal's first content: it opens at once, the history follows."""
    return "_Reading the history…_"
