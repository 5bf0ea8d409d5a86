"""`deckhand check` (the doctor) against the seeded sandbox and the local Slack.

Covers: a good setup passes every check (exit 0); each broken piece is named with
its fix — a missing RBAC permission, a revoked registry token, a missing pull secret,
a Slack token without a needed scope, a deploy or alert channel the bot was not
invited to (`/invite` fix) — and one broken piece never hides the others;
the Gitea token against each service's source_url (optional, wrong scope, revoked).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.doctor import FAILED, OK, Check, run_checks
from bot.settings import Settings
from commands.config import DeckhandConfig
from sandbox.cluster.resources import SECRETS
from sandbox.env import ALERT_CHANNEL, CHANNEL, SandboxEnv
from sandbox.slack.web_api import LocalSlack


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        yield env


@pytest.fixture
async def slack(env: SandboxEnv) -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as slack:
        slack.add_channel(CHANNEL, "deploys")
        slack.add_channel(ALERT_CHANNEL, "alerts")
        slack.invite_bot(*DeckhandConfig.model_validate(env.config()).bot_channels())
        yield slack


def settings_for(env: SandboxEnv, slack: LocalSlack, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": slack.bot_token,
        "slack_api_url": slack.api_url,
        "registry_username": "admin",
        "registry_token": env.token,
        "kubeconfig": env.kubeconfig,
        "config": env.config_path,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_a_good_setup_passes_every_check(env: SandboxEnv, slack: LocalSlack) -> None:
    code, checks = await run_checks(settings_for(env, slack), env.config_path)
    assert code == OK, "\n".join(c.render() for c in checks)
    names = {c.name for c in checks}
    assert {"config", "slack", "kubernetes", "rbac honeydue", "rbac deckhand"} <= names
    assert "pull secret honeydue/gitea-credentials" in names


async def test_each_broken_piece_is_named_with_its_fix(env: SandboxEnv, slack: LocalSlack) -> None:
    env.cluster.deny("patch", "deployments", "honeydue")
    env.cluster.store.delete(SECRETS, "honeydue-staging", "gitea-credentials")
    code, checks = await run_checks(settings_for(env, slack), env.config_path)
    assert code == FAILED
    found = by_name(checks)
    rbac = found["rbac honeydue"]
    assert not rbac.ok
    assert "patch deployments.apps" in rbac.detail
    assert "kubectl apply -k k8s/" in rbac.fix
    missing = found["pull secret honeydue-staging/gitea-credentials"]
    assert not missing.ok
    assert "kubectl create secret docker-registry gitea-credentials" in missing.fix
    assert found["rbac honeydue-staging"].ok
    assert found["slack"].ok  # the other checks still ran


async def test_a_revoked_registry_token_fails_registry_and_pull_secrets(
    env: SandboxEnv, slack: LocalSlack
) -> None:
    env.registry.revoke_token(env.token)
    code, checks = await run_checks(settings_for(env, slack), env.config_path)
    assert code == FAILED
    failed = {c.name for c in checks if not c.ok}
    assert "registry api" in failed
    assert "pull secret honeydue/gitea-credentials" in failed
    text = "\n".join(c.render() for c in checks)
    assert env.token not in text  # never a credential in the output


async def test_the_gitea_token_is_checked_against_each_source_url(
    env: SandboxEnv, slack: LocalSlack
) -> None:
    code, checks = await run_checks(
        settings_for(env, slack, gitea_token=env.gitea_token), env.config_path
    )
    assert code == OK, "\n".join(c.render() for c in checks)
    assert by_name(checks)["gitea api"].detail == "admin/honeydue-api: the token reads its commits"
    _, without = await run_checks(settings_for(env, slack), env.config_path)
    assert by_name(without)["gitea"].ok  # optional: deploys go on without notes
    code, package_only = await run_checks(
        settings_for(env, slack, gitea_token=env.token), env.config_path
    )
    assert code == FAILED
    scope = by_name(package_only)["gitea worker"]
    assert "read:repository" in scope.detail
    assert "DECKHAND_GITEA_TOKEN" in scope.fix
    assert env.token not in "\n".join(c.render() for c in package_only)


async def test_missing_slack_scope_is_named(env: SandboxEnv) -> None:
    async with LocalSlack(scopes=("commands", "chat:write")) as slack:
        code, checks = await run_checks(settings_for(env, slack), env.config_path)
    assert code == FAILED
    slack_check = by_name(checks)["slack"]
    assert "usergroups:read" in slack_check.detail


async def test_a_channel_without_the_bot_is_named_with_the_invite_fix(
    env: SandboxEnv, slack: LocalSlack
) -> None:
    slack.remove_bot(ALERT_CHANNEL)
    code, checks = await run_checks(settings_for(env, slack), env.config_path)
    assert code == FAILED
    found = by_name(checks)
    assert found[f"slack {CHANNEL}"].ok
    alerts = found[f"slack {ALERT_CHANNEL}"]
    assert not alerts.ok
    assert "#alerts" in alerts.detail
    assert alerts.fix == "type `/invite @deckhand` in #alerts"
    assert [c.method for c in slack.calls].count("conversations.info") == 2


async def test_garbage_config_stops_with_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "deckhand.yaml"
    config.write_bytes(b"\x00\xff garbage")
    code, checks = await run_checks(Settings.model_validate({}), config)
    assert code == 2
    assert str(config) in checks[0].detail


def test_render_shows_the_fix_only_for_failures() -> None:
    out = io.StringIO()
    out.write(Check("x", True, "fine", "never shown").render())
    assert "never shown" not in out.getvalue()
    assert "fix: do it" in Check("y", False, "broken", "do it").render()
