"""bot.home.view: a valid `home` view (LocalSlack's Block Kit validation) of at most 100
blocks, whatever the number of services (the overflow says how many are left out)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.home.view import home_view
from commands.home import HomeRow
from sandbox.slack.blockkit import view_errors

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("services", [1, 30, 200])
def test_the_view_is_valid_and_at_most_100_blocks(services: int) -> None:
    rows = [
        HomeRow(env, f"svc{n}", "237c6b8", 3, 3, since=T, by="U1", lock="<@U2>: x")
        for env in ("staging", "prod")
        for n in range(services)
    ]
    view = home_view(rows, namespaces={"staging": "s", "prod": "p"}, now=T)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    assert view_errors(view) == []
    sections = [b for b in view["blocks"] if b["type"] == "section"]
    if 2 * services + 4 <= 100:
        assert len(sections) == 2 * services
    else:
        assert "more" in str(view["blocks"][-1])
