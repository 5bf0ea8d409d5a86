"""Texts: the doctor (bot.doctor).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


def doctor_fix_slack_token() -> str:
    return (
        "create the app from manifest.yaml, install it, and set SLACK_BOT_TOKEN (xoxb-…) "
        "in the deckhand-secrets Secret"
    )


def doctor_fix_slack_scopes() -> str:
    return "add the scopes from manifest.yaml to the app (OAuth & Permissions) and reinstall it"


def doctor_member_ok(channel: str) -> str:
    return f"#{channel}: the bot is a member"


def doctor_not_member(channel: str) -> str:
    return f"#{channel}: the bot is not a member, so it can't post there"


def doctor_channel_unseen(channel_id: str) -> str:
    return f"{channel_id}: not found (a private channel the bot isn't in, or a wrong id)"


def doctor_fix_invite(channel: str) -> str:
    return f"type `/invite @deckhand` in #{channel}"


def doctor_fix_kube() -> str:
    return (
        "in the cluster: check the ServiceAccount token is mounted; outside: set "
        "DECKHAND_KUBECONFIG or KUBECONFIG (or --kubeconfig), or use ~/.kube/config, "
        "with a current context that reaches the cluster"
    )


def doctor_fix_rbac(namespace: str) -> str:
    return (
        f"kubectl apply -k k8s/  (it grants these in {namespace}; add a Role + RoleBinding "
        f"pair for {namespace} to k8s/rbac-target-namespaces.yaml if it is new)"
    )


def doctor_fix_pull_secret(secret: str, namespace: str, registry: str) -> str:
    return (
        f"kubectl create secret docker-registry {secret} --docker-server={registry} "
        f"--docker-username=<user> --docker-password=<token with read:package> -n {namespace} "
        "--dry-run=client -o yaml | kubectl apply -f -; then restart the pods in back-off: "
        f"deckhand restart SERVICE --env ENV"
    )


def doctor_summary(total: int, failed: int) -> str:
    if failed == 0:
        return f"All {total} checks passed."
    return f"{failed} of {total} checks failed: fix them, then run `deckhand check` again."


def break_glass_announcement(user: str, env: str, services: str, tag: str, reason: str) -> str:
    return (
        f":rotating_light: Break-glass deploy: {user} is deploying {services} `{tag}` to "
        f"{env} from the command line without approval. Reason: {reason}"
    )


def break_glass_not_announced(channel: str) -> str:
    return (
        f"Could not announce this break-glass deploy in <#{channel}>: tell the channel "
        "yourself. It is recorded in the deploy record and the change-cause."
    )


def doctor_gitea_no_token() -> str:
    return "no DECKHAND_GITEA_TOKEN: deploys go ahead without change notes"


def doctor_gitea_bad_source(url: str) -> str:
    return f"source_url {url} is not a Gitea repository URL (https://host/owner/repo)"


def doctor_gitea_ok(full_name: str) -> str:
    return f"{full_name}: the token reads its commits"


def doctor_fix_gitea() -> str:
    return (
        "in Gitea, Settings → Applications: a token with read:repository, as"
        " DECKHAND_GITEA_TOKEN (or DECKHAND_GITEA_TOKEN_FILE)"
    )
