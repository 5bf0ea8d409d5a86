"""The Home tab's view: a header per environment, one section per service with a
History button; at most 100 blocks (Slack's limit for a view). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from commands import texts
from commands.home import HomeRow

MAX_BLOCKS = 100


def home_view(
    rows: Sequence[HomeRow], *, namespaces: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """The `type: home` view of `rows` (grouped by env, in the order given)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": texts.home_title()}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": texts.home_updated(now)}]},
    ]
    envs = list(dict.fromkeys(r.env for r in rows))
    shown = 0
    for env in envs:
        group = [r for r in rows if r.env == env]
        wanted = 1 + len(group)
        if len(blocks) + min(wanted, 2) > MAX_BLOCKS - 1:
            break
        blocks.append(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": texts.home_env_header(env, namespaces.get(env, "")),
                },
            }
        )
        for row in group:
            if len(blocks) >= MAX_BLOCKS - 1:
                break
            blocks.append(_section(row))
            shown += 1
    if shown < len(rows):
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": texts.home_more(len(rows) - shown)}],
            }
        )
    return {"type": "home", "blocks": blocks}


def _section(row: HomeRow) -> dict[str, Any]:
    text = texts.home_row_line(
        service=row.service,
        tag=row.tag,
        ready=row.ready,
        replicas=row.replicas,
        missing=row.missing,
        since=row.since,
        by=row.by,
        lock=row.lock,
        approval=row.approval,
        incident=row.incident,
        drift=row.drift,
    )
    return {
        "type": "section",
        "block_id": f"home-{row.env}-{row.service}"[:255],
        "text": {"type": "mrkdwn", "text": text[:3000]},
        "accessory": {
            "type": "button",
            "action_id": row.history_action,
            "text": {"type": "plain_text", "text": texts.home_history_button()},
            "value": row.history_value,
        },
    }
