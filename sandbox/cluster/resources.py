"""The resource types the sandbox cluster serves, and how to find them.

A `Resource` is one entry of the real apiserver's discovery (`APIResource`):
group, version, kind, plural, scope, verbs, short names, subresources. The
registry `RESOURCES` answers the two questions the HTTP layer and the store ask:
"which resource is `/apis/apps/v1/.../deployments`?" (`by_path`) and "which
resource is a `Deployment`?" (`by_kind`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True)
class Resource:
    """One served resource type (one `APIResource` of discovery)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """`apps/v1`, or `v1` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group (as in error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """`Deployment.apps`, or `Pod` for the core group (as in Invalid errors)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def allows(self, verb: str) -> bool:
        return verb in self.verbs


def _core(kind: str, plural: str, namespaced: bool = True, **kw: object) -> Resource:
    return Resource("", "v1", kind, plural, namespaced, **kw)  # type: ignore[arg-type]


NAMESPACES = _core(
    "Namespace",
    "namespaces",
    False,
    short_names=("ns",),
    subresources=("status",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
)
NODES = _core("Node", "nodes", False, short_names=("no",), subresources=("status",))
PODS = _core(
    "Pod", "pods", short_names=("po",), subresources=("status", "log"), categories=("all",)
)
EVENTS = _core("Event", "events", short_names=("ev",))
SECRETS = _core("Secret", "secrets")
CONFIGMAPS = _core("ConfigMap", "configmaps", short_names=("cm",))
SERVICES = _core(
    "Service", "services", short_names=("svc",), subresources=("status",), categories=("all",)
)
SERVICEACCOUNTS = _core("ServiceAccount", "serviceaccounts", short_names=("sa",))
DEPLOYMENTS = Resource(
    "apps",
    "v1",
    "Deployment",
    "deployments",
    True,
    short_names=("deploy",),
    subresources=("status", "scale"),
    categories=("all",),
)
REPLICASETS = Resource(
    "apps",
    "v1",
    "ReplicaSet",
    "replicasets",
    True,
    short_names=("rs",),
    subresources=("status", "scale"),
    categories=("all",),
)
LEASES = Resource("coordination.k8s.io", "v1", "Lease", "leases", True)
SELF_SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io",
    "v1",
    "SelfSubjectAccessReview",
    "selfsubjectaccessreviews",
    False,
    verbs=("create",),
)


class Registry:
    """Lookup of the served resources by path, by kind and by any name kubectl accepts."""

    def __init__(self, resources: list[Resource]) -> None:
        self._all = list(resources)
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.group, r.kind): r for r in resources}

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._all)

    def by_path(self, group: str, version: str, plural: str) -> Resource | None:
        """The resource served at `/apis/{group}/{version}/{plural}` (`/api/v1/...` for core)."""
        return self._by_path.get((group, version, plural))

    def by_kind(self, kind: str, group: str | None = None) -> Resource:
        """The resource of a kind (`Deployment`), optionally in one group; KeyError if none."""
        if group is not None:
            return self._by_kind[(group, kind)]
        for resource in self._all:
            if resource.kind == kind:
                return resource
        raise KeyError(kind)

    def by_api_version(self, api_version: str, kind: str) -> Resource | None:
        group, _, version = api_version.rpartition("/")
        resource = self._by_kind.get((group, kind))
        return resource if resource is not None and resource.version == version else None

    def by_name(self, name: str) -> Resource:
        """Plural, singular, short name or kind, case-insensitive (`deploy`, `Deployment`)."""
        wanted = name.lower()
        for resource in self._all:
            names = {
                resource.plural,
                resource.singular_name,
                resource.kind.lower(),
                *resource.short_names,
            }
            if wanted in names:
                return resource
        raise KeyError(name)

    def groups(self) -> list[tuple[str, str]]:
        """(group, version) pairs of the named groups in discovery order (core excluded)."""
        seen: list[tuple[str, str]] = []
        for resource in self._all:
            key = (resource.group, resource.version)
            if resource.group and key not in seen:
                seen.append(key)
        return seen

    def in_group(self, group: str, version: str) -> list[Resource]:
        return [r for r in self._all if r.group == group and r.version == version]


RESOURCES = Registry(
    [
        NAMESPACES,
        NODES,
        PODS,
        EVENTS,
        SECRETS,
        CONFIGMAPS,
        SERVICES,
        SERVICEACCOUNTS,
        DEPLOYMENTS,
        REPLICASETS,
        LEASES,
        SELF_SUBJECT_ACCESS_REVIEWS,
    ]
)
