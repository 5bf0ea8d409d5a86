"""The incident message layout (pure): what an open, a resolved and a summarized incident
show, and that a summary of hundreds of incidents still fits Slack's Block Kit limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.alerts.notifier import alert_content, summary_content
from bot.slack.blocks import MAX_MESSAGE_TEXT, fit_blocks, text_length
from commands.diagnosis import Cause
from commands.incidents import Incident, IncidentKey, Phase

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
KEY = IncidentKey(
    "honeydue", "api", "gitea.example.com/admin/honeydue-api:deadbee", Cause.PULL_AUTH
)
OPEN = Incident(
    KEY,
    Phase.OPEN,
    T0,
    "C0ALERTS01",
    ts="1.1",
    pods=3,
    peak_pods=3,
    nodes=("node-1", "node-2"),
    message="failed to authorize: 401 Unauthorized",
    diagnosis="The cluster's pull secret `gitea-credentials` was rejected by the registry",
    fix="`kubectl create secret docker-registry gitea-credentials … | kubectl apply -f -`",
    cause_label="pull secret rejected",
)


def flat(blocks: list[dict[str, object]]) -> str:
    return "\n".join(str(b["text"]["text"]) for b in blocks if "text" in b)  # type: ignore[index]


def test_open_alert_says_what_who_why_and_the_fix() -> None:
    text, blocks = alert_content(OPEN)
    body = flat(blocks)
    assert "honeydue/api" in text
    assert "pull secret rejected" in text
    assert "3 pods on 2 nodes (node-1, node-2) can't pull" in body
    assert "401 Unauthorized" in body
    assert "kubectl apply -f -" in body


def test_resolved_alert_drops_the_fix() -> None:
    text, blocks = alert_content(replace(OPEN, phase=Phase.RESOLVED, pods=0))
    assert text.startswith(":white_check_mark: Resolved")
    assert "3 pods were affected" in flat(blocks)
    assert "kubectl apply" not in flat(blocks)


def test_a_summary_of_many_incidents_fits_block_kit() -> None:
    many = [
        replace(
            OPEN,
            key=replace(KEY, workload=f"job-{n:03d}"),
            opened_at=T0 + timedelta(seconds=n),
            summarized=True,
        )
        for n in range(300)
    ]
    text, blocks = summary_content(many, limit=10)
    assert "300 more image-pull incidents" in text
    fitted = fit_blocks(blocks)
    assert len(fitted) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in fitted)
    assert text_length(fitted) <= MAX_MESSAGE_TEXT
    assert "job-000" in flat(fitted)
