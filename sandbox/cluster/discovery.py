"""Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]`.

Pure functions that render the registry as the real apiserver's legacy discovery
(`APIVersions`, `APIGroupList`, `APIGroup`, `APIResourceList`). Aggregated
discovery (`as=APIGroupDiscoveryList`) is not served: the answer is always plain
`application/json`, which client-go takes as "fall back to legacy discovery".
"""

from __future__ import annotations

from typing import Any

from sandbox.cluster.resources import Registry, Resource

Obj = dict[str, Any]

SERVER_VERSION: Obj = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "gitVersion": "v1.32.0-deckhand-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version() -> Obj:
    return dict(SERVER_VERSION)


def api_versions(server_address: str) -> Obj:
    """`GET /api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> Obj:
    """`GET /apis`."""
    groups: dict[str, list[str]] = {}
    for group, ver in registry.groups():
        groups.setdefault(group, []).append(ver)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in groups.items()],
    }


def api_group(registry: Registry, name: str) -> Obj | None:
    """`GET /apis/{group}`, or None for an unknown group."""
    versions = [v for g, v in registry.groups() if g == name]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entry(resource: Resource) -> Obj:
    entry: Obj = {
        "name": resource.plural,
        "singularName": resource.singular_name,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    return entry


def _subresource_entry(resource: Resource, sub: str) -> Obj:
    entry: Obj = {
        "name": f"{resource.plural}/{sub}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": ["get", "patch", "update"],
    }
    if sub == "scale":
        entry.update(group="autoscaling", version="v1", kind="Scale")
    elif sub == "log":
        entry.update(verbs=["get"])
    return entry


def resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    """`GET /api/v1` or `/apis/{group}/{version}`, or None when not served."""
    resources = registry.in_group(group, version)
    if not resources:
        return None
    entries: list[Obj] = []
    for resource in resources:
        entries.append(_entry(resource))
        entries.extend(_subresource_entry(resource, sub) for sub in resource.subresources)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }
