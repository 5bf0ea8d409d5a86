"""`deckhand check`: the doctor. Everything Deckhand needs, checked, with the fix for
whatever is missing.

    ✓ config       /etc/deckhand/deckhand.yaml: 3 services, 2 environments
    ✓ slack        connected as @deckhand in Honeydue; scopes ok
    ✗ slack C0ALERTS01           #alerts: the bot is not a member, so it can't post there
        fix: type `/invite @deckhand` in #alerts
    ✓ kubernetes   https://10.43.0.1:443 answers
    ✗ rbac honeydue  may not: patch deployments.apps
        fix: kubectl apply -k k8s/  (Role deckhand-deployer in honeydue)
    ✓ registry     gitea.example.com/admin/honeydue-api: 12 tags
    ✗ pull secret honeydue/gitea-credentials  the registry rejected its credentials
        fix: kubectl create secret docker-registry gitea-credentials … | kubectl apply -f -

Exit 0 only when every check passes, 1 otherwise, 2 when the config can't be read.
Each check is independent and bounded by the clients' own deadlines; one failure never
hides the others.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import open_gitea, open_kube, open_registry
from bot.config import ConfigError, load_config
from bot.gitea.client import GiteaClient
from bot.gitea.errors import GiteaError
from bot.kube.client import KubeClient
from bot.kube.config import KUBECONFIG_HELP
from bot.kube.errors import KubeError
from bot.kube.kinds import SECRETS
from bot.registry.client import RegistryClient
from bot.registry.credentials import CredentialsError
from bot.registry.errors import RegistryError
from bot.rollout.recheck import credentials_from_secret
from bot.settings import GiteaSettings, Settings
from bot.slack.client import open_web_client
from commands import texts
from commands.changes import source_repository
from commands.config import DeckhandConfig
from commands.permissions import (
    OWN_NAMESPACE_PERMISSIONS,
    SLACK_BOT_SCOPES,
    Permission,
    target_namespace_permissions,
)

OK, FAILED, BAD_CONFIG = 0, 1, 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{'✓' if self.ok else '✗'} {self.name:<28} {self.detail}"
        return line if self.ok or not self.fix else f"{line}\n    fix: {self.fix}"


async def check_slack(settings: Settings, channels: Sequence[str] = ()) -> AsyncIterator[Check]:
    """The token and its scopes, then the bot's membership of each of `channels`."""
    if settings.slack_bot_token is None:
        yield Check("slack", False, "SLACK_BOT_TOKEN is not set", texts.doctor_fix_slack_token())
        return
    async with open_web_client(settings) as client:
        identity = await _slack_identity(client)
        yield identity
        if not identity.detail.startswith("connected"):
            return  # no working token: membership can't be asked
        for channel in channels:
            yield await _membership(client, channel)


async def _membership(client: AsyncWebClient, channel_id: str) -> Check:
    """conversations.info -> is_member: the bot posts only where it was invited."""
    name = f"slack {channel_id}"
    try:
        answer = await client.conversations_info(channel=channel_id)
    except SlackApiError as e:
        error = str(e.response.get("error", "error"))
        if error == "channel_not_found":
            fix = texts.doctor_fix_invite(channel_id)
            return Check(name, False, texts.doctor_channel_unseen(channel_id), fix)
        if error == "missing_scope":
            return Check(
                name, False, f"conversations.info: {error}", texts.doctor_fix_slack_scopes()
            )
        return Check(name, False, f"conversations.info: {error}")
    except (OSError, TimeoutError) as e:
        return Check(name, False, f"can't reach Slack: {type(e).__name__}")
    found = answer.get("channel") or {}
    label = str(found.get("name") or channel_id)
    if found.get("is_member"):
        return Check(name, True, texts.doctor_member_ok(label))
    return Check(name, False, texts.doctor_not_member(label), texts.doctor_fix_invite(label))


async def _slack_identity(client: AsyncWebClient) -> Check:
    try:
        answer = await client.auth_test()
    except SlackApiError as e:
        error = str(e.response.get("error", "error"))
        return Check("slack", False, f"auth.test: {error}", texts.doctor_fix_slack_token())
    except (OSError, TimeoutError) as e:
        return Check("slack", False, f"can't reach Slack: {type(e).__name__}")
    granted = {s.strip() for s in str(answer.headers.get("x-oauth-scopes", "")).split(",")}
    missing = [s for s in SLACK_BOT_SCOPES if s not in granted]
    who = f"connected as @{answer.get('user')} in {answer.get('team')}"
    if missing:
        return Check(
            "slack",
            False,
            f"{who}; missing scopes: {', '.join(missing)}",
            texts.doctor_fix_slack_scopes(),
        )
    return Check("slack", True, f"{who}; scopes ok")


async def check_rbac(kube: KubeClient, config: DeckhandConfig) -> AsyncIterator[Check]:
    wanted: dict[str, tuple[Permission, ...]] = {
        env.namespace: target_namespace_permissions(env.pull_secret)
        for env in config.environments.values()
    }
    wanted[config.deckhand.namespace] = OWN_NAMESPACE_PERMISSIONS + wanted.get(
        config.deckhand.namespace, ()
    )
    for namespace, permissions in wanted.items():
        answers = await asyncio.gather(
            *(
                kube.can_i(p.verb, p.resource, namespace=namespace, group=p.group, name=p.name)
                for p in permissions
            )
        )
        missing = [str(p) for p, allowed in zip(permissions, answers, strict=True) if not allowed]
        name = f"rbac {namespace}"
        if missing:
            yield Check(
                name, False, "may not: " + ", ".join(missing), texts.doctor_fix_rbac(namespace)
            )
        else:
            yield Check(name, True, f"all {len(permissions)} permissions granted")


async def check_registry(
    registry: RegistryClient, config: DeckhandConfig, *, label: str = "registry"
) -> list[Check]:
    """Each service's repository: its tags can be listed with `registry`'s credentials."""
    found: list[Check] = []
    for name, service in config.services.items():
        ref = service.reference()
        try:
            tags = await registry.list_tags(ref)
        except RegistryError as e:
            found.append(Check(f"{label} {name}", False, e.sentence()))
            continue
        found.append(
            Check(
                f"{label} {name}",
                True,
                f"{ref.registry}/{ref.repository}: {len(tags)} tag{'s' if len(tags) != 1 else ''}",
            )
        )
    return found


async def check_gitea(
    client: GiteaClient, gitea: GiteaSettings, config: DeckhandConfig
) -> list[Check]:
    """The change-notes token against each service's `source_url` (optional: no token, ✓)."""
    sources = {n: s.source_url for n, s in config.services.items() if s.source_url}
    if gitea.token is None:
        return [Check("gitea", True, texts.doctor_gitea_no_token())] if sources else []
    found: list[Check] = []
    for name, url in sources.items():
        repo = source_repository(url)
        if repo is None:
            found.append(Check(f"gitea {name}", False, texts.doctor_gitea_bad_source(url)))
            continue
        try:
            async with asyncio.timeout(gitea.deadline_s):
                full_name = await client.repository(repo)
        except TimeoutError:
            found.append(Check(f"gitea {name}", False, texts.changes_timeout(gitea.deadline_s)))
        except GiteaError as e:
            found.append(Check(f"gitea {name}", False, e.sentence(), texts.doctor_fix_gitea()))
        else:
            found.append(Check(f"gitea {name}", True, texts.doctor_gitea_ok(full_name)))
    return found


async def check_pull_secrets(
    kube: KubeClient, registry: RegistryClient, config: DeckhandConfig
) -> AsyncIterator[Check]:
    registry_host = next(iter(config.services.values())).reference().registry
    for env in config.environments.values():
        if env.pull_secret is None:
            continue
        name = f"pull secret {env.namespace}/{env.pull_secret}"
        fix = texts.doctor_fix_pull_secret(env.pull_secret, env.namespace, registry_host)
        try:
            secret = await kube.get(SECRETS, env.pull_secret, namespace=env.namespace)
            credentials = credentials_from_secret(secret)
        except (KubeError, CredentialsError) as e:
            detail = e.sentence() if isinstance(e, KubeError) else str(e)
            yield Check(name, False, detail, fix)
            continue
        async with registry.with_credentials(credentials) as as_nodes:
            results = await check_registry(as_nodes, config, label=name)
        bad = [r for r in results if not r.ok]
        if bad:
            yield Check(name, False, bad[0].detail, fix)
        else:
            yield Check(name, True, f"works for all {len(results)} repositories")


async def run_checks(settings: Settings, config_path: Path) -> tuple[int, list[Check]]:
    """Every check, in order; (exit code, checks)."""
    try:
        config = load_config(config_path)
    except ConfigError as e:
        return BAD_CONFIG, [Check("config", False, str(e))]
    checks = [
        Check(
            "config",
            True,
            f"{config_path}: {len(config.services)} services, "
            f"{len(config.environments)} environments",
        )
    ]
    checks += [c async for c in check_slack(settings, config.bot_channels())]
    # The clients as `deckhand run` builds them (bot.app), one by one: a cluster that
    # can't be reached must not hide the registry's checks.
    async with AsyncExitStack() as stack:
        registry = await open_registry(settings, stack=stack)
        checks += await check_registry(registry, config)
        gitea = settings.gitea()
        checks += await check_gitea(await open_gitea(settings, stack=stack), gitea, config)
        try:
            kube = await open_kube(stack, settings)
            await kube.can_i(
                "get", "deployments", namespace=config.deckhand.namespace, group="apps"
            )
        except (KubeError, OSError) as e:
            detail = e.sentence() if isinstance(e, KubeError) else str(e)
            checks.append(Check("kubernetes", False, detail, texts.doctor_fix_kube()))
        else:
            checks.append(Check("kubernetes", True, f"{kube.url} answers"))
            checks += [c async for c in check_rbac(kube, config)]
            checks += [c async for c in check_pull_secrets(kube, registry, config)]
    return (OK if all(c.ok for c in checks) else FAILED), checks


def main(argv: Sequence[str], *, stream: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deckhand check", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="config file (default: DECKHAND_CONFIG)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        help=KUBECONFIG_HELP,
    )
    args = parser.parse_args(list(argv))
    settings = Settings.from_env()
    if args.kubeconfig is not None:
        settings = settings.model_copy(update={"kubeconfig": args.kubeconfig})
    out = stream or sys.stdout
    code, checks = asyncio.run(run_checks(settings, args.config or settings.config))
    for check in checks:
        out.write(check.render() + "\n")
    failed = sum(not c.ok for c in checks)
    out.write(texts.doctor_summary(len(checks), failed) + "\n")
    return code
