"""The Slack app manifest (manifest.yaml): it parses, it declares what Deckhand needs,
and every Slack Web API method the code calls is covered by a declared bot scope.

The method list is read from the code itself (calls like `client.chat_update(`), so a
new call without a scope, or a call this table doesn't know, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from commands.permissions import SLACK_BOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]

# Web API method (slack_sdk's snake_case name) → the bot scope it needs (None: no scope).
SCOPE_OF: dict[str, str | tuple[str, ...] | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_delete": "chat:write",
    "chat_getPermalink": None,
    "usergroups_users_list": "usergroups:read",
    "usergroups_list": "usergroups:read",
    "users_info": "users:read",
    "conversations_info": ("channels:read", "groups:read"),  # public, private channels
    "views_open": None,
    "views_publish": None,
    "views_update": None,
    "apps_connections_open": None,  # app-level token (connections:write), not a bot scope
}

CALL = re.compile(r"\.(" + "|".join(sorted(SCOPE_OF, key=len, reverse=True)) + r")\(")
ANY_CALL = re.compile(
    r"\b(?:client|web_client|web)\.((?:chat|users|usergroups|conversations|views|auth|apps)_\w+)\("
)


def _manifest() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _bot_scopes() -> set[str]:
    scopes = _manifest()["oauth_config"]["scopes"]["bot"]
    return set(scopes)


def _scopes_of(method: str) -> set[str]:
    needed = SCOPE_OF[method]
    if needed is None:
        return set()
    return {needed} if isinstance(needed, str) else set(needed)


def _methods_called() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(CALL.findall(text))
        found.update(ANY_CALL.findall(text))
    return found


def test_manifest_declares_the_deploy_command_interactivity_and_socket_mode() -> None:
    data = _manifest()
    commands = data["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/deploy"]
    assert commands[0]["description"]
    assert commands[0]["usage_hint"]
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["socket_mode_enabled"] is True


def test_manifest_declares_the_home_tab_and_its_event() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_every_called_method_is_known_and_covered_by_a_declared_scope() -> None:
    called = _methods_called()
    unknown = called - SCOPE_OF.keys()
    assert not unknown, f"add these Slack methods to SCOPE_OF and manifest.yaml: {unknown}"
    missing = {m: _scopes_of(m) - _bot_scopes() for m in called if _scopes_of(m) - _bot_scopes()}
    assert not missing, f"manifest.yaml lacks scopes for: {missing}"


@pytest.mark.parametrize("scope", ["commands", "chat:write"])
def test_the_scopes_a_deploy_bot_cannot_work_without_are_declared(scope: str) -> None:
    assert scope in _bot_scopes()


def test_no_scope_is_declared_that_nothing_uses() -> None:
    used = {s for m in _methods_called() for s in _scopes_of(m)} | {"commands"}
    unused = _bot_scopes() - used
    assert not unused, f"declared but never used: {unused}"


def test_the_doctor_checks_exactly_the_manifest_scopes() -> None:
    assert set(SLACK_BOT_SCOPES) == _bot_scopes()
