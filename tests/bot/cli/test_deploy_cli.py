"""`deckhand deploy|status|history|rollback|restart|lock|unlock` against the seeded sandbox.

Covers: exit codes (0 succeeded, 1 failed or unreachable, 2 refused/usage), the
pinned image and change-cause a CLI deploy leaves, refusals leaving the cluster
untouched, the approval policy (prod refuses without --break-glass; break-glass is
recorded), another user's manual lock, `--json` as one document, a garbage config,
`restart` (same image, fresh pods, exit 0).
The CLI runs in a worker thread (it owns its event loop) while the sandbox serves on
the test's loop.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from sandbox.cluster.resources import DEPLOYMENTS
from sandbox.env import SandboxEnv


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SandboxEnv]:
    async with SandboxEnv(tmp_path / "sandbox", speed=50) as env:
        monkeypatch.setenv("DECKHAND_REGISTRY_USERNAME", "admin")
        monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN", env.token)
        monkeypatch.delenv("KUBECONFIG", raising=False)
        yield env


async def deckhand(env: SandboxEnv, *args: str) -> tuple[int, str]:
    """Run the CLI (in a thread) with the sandbox's config and kubeconfig."""
    out = io.StringIO()
    argv = [*args, "--config", str(env.config_path), "--kubeconfig", str(env.kubeconfig)]

    def call() -> int:
        from bot import deploy_cli

        parser_args = _parse(argv)
        return deploy_cli.run(parser_args, stream=out)

    code = await asyncio.wait_for(asyncio.to_thread(call), timeout=60)
    return code, out.getvalue()


def _parse(argv: list[str]) -> Any:
    from bot.cli import build_parser

    return build_parser().parse_args(argv)


def image_of(env: SandboxEnv, namespace: str, name: str = "api") -> str:
    obj = env.cluster.store.get(DEPLOYMENTS, namespace, name)
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def seed(env: SandboxEnv) -> dict[str, Any]:
    return dict(json.loads(env.seed_path.read_text())["services"])


async def test_deploy_succeeds_pins_the_digest_and_records_the_change_cause(
    env: SandboxEnv,
) -> None:
    tag = seed(env)["api"]["good"][1]
    code, out = await deckhand(env, "deploy", "api", tag, "--as", "alice")
    assert code == 0, out
    assert f"{tag} in staging is live" in out
    image = image_of(env, "honeydue-staging")
    assert f":{tag}@sha256:" in image
    obj = env.cluster.store.get(DEPLOYMENTS, "honeydue-staging", "api")
    assert "alice" in obj["metadata"]["annotations"]["kubernetes.io/change-cause"]


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("arm64_only", "not built for linux/amd64"),
        ("latest", "never deployed"),
        ("missing", "no tag"),
    ],
)
async def test_refusals_exit_2_and_leave_the_cluster_untouched(
    env: SandboxEnv, which: str, expected: str
) -> None:
    api = seed(env)["api"]
    tag = {"arm64_only": api["arm64_only"], "latest": "latest", "missing": "0000000"}[which]
    before = image_of(env, "honeydue-staging")
    code, out = await deckhand(env, "deploy", "api", tag)
    assert code == 2
    assert expected in out
    assert image_of(env, "honeydue-staging") == before


async def test_unknown_service_suggests_the_closest(env: SandboxEnv) -> None:
    code, out = await deckhand(env, "deploy", "apy", seed(env)["api"]["good"][1])
    assert code == 2
    assert "Did you mean `api`" in out


async def test_prod_needs_approval_unless_break_glass_which_is_recorded(env: SandboxEnv) -> None:
    tag = seed(env)["api"]["good"][2]
    before = image_of(env, "honeydue")
    code, out = await deckhand(env, "deploy", "api", tag, "--env", "prod")
    assert code == 2
    assert "--break-glass" in out
    assert image_of(env, "honeydue") == before

    code, out = await deckhand(
        env, "deploy", "api", tag, "--env", "prod", "--break-glass", "site down", "--as", "bob"
    )
    assert code == 0, out
    cause = env.cluster.store.get(DEPLOYMENTS, "honeydue", "api")["metadata"]["annotations"][
        "kubernetes.io/change-cause"
    ]
    assert "break-glass: site down" in cause
    assert "bob" in cause


async def test_another_users_manual_lock_refuses_until_unlocked(env: SandboxEnv) -> None:
    tag = seed(env)["api"]["good"][1]
    code, out = await deckhand(
        env, "lock", "api", "--env", "staging", "--reason", "incident 42", "--as", "carol"
    )
    assert code == 0, out
    code, out = await deckhand(env, "deploy", "api", tag, "--as", "alice")
    assert code == 2
    assert "carol" in out
    assert "incident 42" in out
    code, out = await deckhand(env, "unlock", "api", "--env", "staging", "--as", "carol")
    assert code == 0, out
    code, out = await deckhand(env, "deploy", "api", tag, "--as", "alice")
    assert code == 0, out


async def test_json_is_one_document_and_status_history_rollback_answer(env: SandboxEnv) -> None:
    tag = seed(env)["api"]["good"][1]
    code, out = await deckhand(env, "deploy", "api", tag, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["phase"] == "succeeded"
    assert document["services"][0]["service"] == "api"

    code, out = await deckhand(env, "status", "api")
    assert code == 0
    assert f":{tag}@sha256:" in out
    code, out = await deckhand(env, "history", "api")
    assert code == 0
    assert tag in out
    code, out = await deckhand(env, "rollback", "api")
    assert code == 0, out
    assert image_of(env, "honeydue-staging").endswith(":" + seed(env)["api"]["current"])


async def test_unreachable_api_server_is_a_clear_failure(env: SandboxEnv, tmp_path: Path) -> None:
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(env.kubeconfig.read_text().replace(env.cluster.url, "http://127.0.0.1:9"))
    out = io.StringIO()
    args = _parse(["status", "--config", str(env.config_path), "--kubeconfig", str(dead)])

    def call() -> int:
        from bot import deploy_cli

        return deploy_cli.run(args, stream=out)

    code = await asyncio.wait_for(asyncio.to_thread(call), timeout=60)
    assert code == 1
    assert "127.0.0.1:9" in out.getvalue()


def test_garbage_config_is_refused_with_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "deckhand.yaml"
    config.write_text("services: [this is: not {valid\n")
    code = main(["status", "--config", str(config), "--kubeconfig", str(tmp_path / "none")])
    assert code == 2


async def test_a_freeze_window_refuses_a_cli_deploy_without_break_glass(
    env: SandboxEnv, tmp_path: Path
) -> None:
    import yaml

    config = yaml.safe_load(env.config_path.read_text())
    always = {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "00:00",
        "end": "00:00",
    }
    config["environments"]["staging"]["approvals"] = {
        "required": 0,
        "approvers": {"users": ["U0BOB00001"]},
        "windows": [always],
    }
    env.config_path.write_text(yaml.safe_dump(config))
    code, out = await deckhand(env, "deploy", "api", seed(env)["api"]["good"][1])
    assert code == 2, out
    assert "--break-glass" in out


async def test_break_glass_is_announced_in_the_environments_channel(
    env: SandboxEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.env import CHANNEL
    from sandbox.slack.web_api import LocalSlack

    async with LocalSlack() as slack:
        slack.invite_bot(CHANNEL)
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
        monkeypatch.setenv("DECKHAND_SLACK_API_URL", slack.api_url)
        tag = seed(env)["api"]["good"][2]
        code, out = await deckhand(
            env, "deploy", "api", tag, "--env", "prod", "--break-glass", "site down", "--as", "bob"
        )
        assert code == 0, out
        (message,) = slack.messages(CHANNEL)
    assert "Break-glass" in message.text
    assert "site down" in message.text
    assert "bob" in message.text


async def test_no_wait_returns_once_the_patch_is_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.cluster.resources import CONFIGMAPS
    from sandbox.env import SeedService

    class SlowApi(SandboxEnv):
        """api pods take 100 sandbox seconds (2 s wall at speed 50) to become Ready."""

        def deployment(self, service: SeedService, *, tag: str | None = None) -> dict[str, Any]:
            obj = super().deployment(service, tag=tag)
            if service.name == "api":
                slow = {"sandbox.deckhand.dev/ready-after-seconds": "100"}
                obj["spec"]["template"]["metadata"]["annotations"] = slow
            return obj

    async with SlowApi(tmp_path / "slow", speed=50) as env:
        monkeypatch.setenv("DECKHAND_REGISTRY_USERNAME", "admin")
        monkeypatch.setenv("DECKHAND_REGISTRY_TOKEN", env.token)
        tag = seed(env)["api"]["good"][1]
        code, out = await deckhand(env, "deploy", "api", tag, "--no-wait")
        assert code == 0, out
        assert "not waiting" in out
        assert f":{tag}@sha256:" in image_of(env, "honeydue-staging")
        (record,) = env.cluster.store.list(
            CONFIGMAPS, "deckhand", label_selector="deckhand.dev/record=deploy"
        )[0]
        assert record["data"]["phase"] == "rolling_out"  # left for the in-cluster Deckhand


async def test_a_deploy_prints_its_change_notes(
    env: SandboxEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECKHAND_GITEA_TOKEN", env.gitea_token)
    api = seed(env)["api"]
    code, out = await deckhand(env, "deploy", "api", api["good"][1], "--as", "alice")
    assert code == 0, out
    assert f"3 commits in `api` (`{api['current']}` → `{api['good'][1]}`) · http" in out
    assert "• Log request ids in access logs — Chen Wei" in out
    assert env.gitea_token not in out


async def test_dry_run_shows_plan_and_change_notes_and_deploys_nothing(
    env: SandboxEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECKHAND_GITEA_TOKEN", env.gitea_token)
    api = seed(env)["api"]
    before = image_of(env, "honeydue")
    code, out = await deckhand(env, "deploy", "api", api["previous"], "--env", "prod", "--dry-run")
    assert code == 0, out
    assert f"api: {before} → " in out
    assert "WARNING: Downgrade" in out
    assert "takes back 2 commits" in out
    assert "Commits this deploy takes back from `api` (2):" in out
    assert "Dry run: nothing was deployed to prod; prod needs 1 approval(s)." in out
    assert image_of(env, "honeydue") == before
    code, out = await deckhand(env, "deploy", "api", api["good"][1], "--dry-run", "--json")
    document = json.loads(out)
    assert document["dry_run"] is True
    assert document["change_notes"][0]["kind"] == "ahead"
    assert len(document["change_notes"][0]["commits"]) == 3


async def test_restart_replaces_the_pods_and_exits_0(env: SandboxEnv) -> None:
    before = image_of(env, "honeydue-staging")
    code, out = await deckhand(env, "restart", "api", "--reason", "pull secret renewed")
    assert code == 0, out
    assert "is live" in out
    assert image_of(env, "honeydue-staging") == before
    obj = env.cluster.store.get(DEPLOYMENTS, "honeydue-staging", "api")
    assert "kubectl.kubernetes.io/restartedAt" in obj["spec"]["template"]["metadata"]["annotations"]
    code, out = await deckhand(env, "restart", "apy")
    assert code == 2
    assert "api" in out


async def test_promote_takes_the_staging_digest_and_promote_from_guards_prod(
    env: SandboxEnv,
) -> None:
    import yaml

    config = yaml.safe_load(env.config_path.read_text())
    config["environments"]["prod"]["promote_from"] = "staging"
    env.config_path.write_text(yaml.safe_dump(config))
    api = seed(env)["api"]
    code, out = await deckhand(env, "deploy", "api", api["good"][2], "--env", "prod")
    assert code == 2
    assert "Use `deckhand promote api --from staging --env prod`" in out
    code, out = await deckhand(env, "deploy", "api", api["good"][1], "--as", "alice")
    assert code == 0, out
    code, out = await deckhand(env, "promote", "api", "--dry-run")
    assert code == 0, out
    assert "this digest has run in `staging`" in out
    code, out = await deckhand(env, "promote", "api", "--break-glass", "release 7", "--as", "bob")
    assert code == 0, out
    staging, prod = image_of(env, "honeydue-staging"), image_of(env, "honeydue")
    assert prod.split("@")[1] == staging.split("@")[1]
