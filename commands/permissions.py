"""What Deckhand must be allowed to do, as data: the doctor checks it, the RBAC test
compares it with k8s/, and the Slack app manifest declares the scopes.

Values only: a purely computational module with no side-effects.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """One RBAC verb on one resource (`group` "" is the core API group)."""

    verb: str
    resource: str
    group: str = ""
    name: str | None = None
    """Restricted to one object (`resourceNames`), e.g. the pull secret."""

    def __str__(self) -> str:
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {what}" + (f" {self.name!r}" if self.name else "")


def target_namespace_permissions(pull_secret: str | None) -> tuple[Permission, ...]:
    """In every namespace Deckhand deploys to and watches."""
    needed = [
        *(Permission(v, "deployments", "apps") for v in ("get", "list", "watch", "patch")),
        *(Permission(v, "replicasets", "apps") for v in ("get", "list", "watch")),
        *(Permission(v, "pods") for v in ("get", "list", "watch")),
        Permission("get", "pods/log"),
        *(Permission(v, "events") for v in ("list", "watch")),
    ]
    if pull_secret:
        needed.append(Permission("get", "secrets", name=pull_secret))
    return tuple(needed)


OWN_NAMESPACE_PERMISSIONS: tuple[Permission, ...] = tuple(
    Permission(verb, resource, group)
    for resource, group in (("configmaps", ""), ("leases", "coordination.k8s.io"))
    for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
)
"""In Deckhand's own namespace: deploy records, approvals, incidents (ConfigMaps);
locks and leader election (Leases)."""

SLACK_BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "usergroups:read",
    "channels:read",
    "groups:read",
)
"""The bot scopes Deckhand uses (exactly manifest.yaml's): the command, its messages,
user-group lookups, and conversations.info for public / private channels (membership)."""
