"""A minimal OpenAPI v3 for kubectl: `/openapi/v3` and `/openapi/v3/{api/v1|apis/g/v}`.

kubectl (1.27+) validates manifests unless the server says, through OpenAPI v3,
that its PATCH operations take the `fieldValidation` query parameter; with no
OpenAPI at all, `kubectl create -f` and `apply -f` fail with "failed to download
openapi". These documents carry only that: one PATCH operation per resource with
its `x-kubernetes-group-version-kind` and the `fieldValidation` parameter (no
schemas), so kubectl leaves validation to the server and computes
strategic-merge patches from its built-in types. `/openapi/v2` is not served.
Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.cluster.resources import Registry, Resource

Obj = dict[str, Any]


def _prefix(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvs(registry: Registry) -> list[tuple[str, str]]:
    return [("", "v1"), *registry.groups()]


def root(registry: Registry) -> Obj:
    """`GET /openapi/v3`: where each group-version's document lives."""
    paths = {}
    for group, version in _gvs(registry):
        doc = group_version(registry, group, version)
        digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        prefix = _prefix(group, version)
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}


def _operation(resource: Resource) -> Obj:
    return {
        "operationId": f"patch{resource.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        "parameters": [
            {
                "name": "fieldValidation",
                "in": "query",
                "schema": {"type": "string"},
                "uniqueItems": True,
            },
            {
                "name": "fieldManager",
                "in": "query",
                "schema": {"type": "string"},
                "uniqueItems": True,
            },
        ],
        "responses": {"200": {"description": "OK"}},
    }


def group_version(registry: Registry, group: str, version: str) -> Obj | None:
    """`GET /openapi/v3/apis/{group}/{version}`, or None when not served."""
    resources = registry.in_group(group, version)
    if not resources:
        return None
    paths = {}
    for resource in resources:
        if "patch" not in resource.verbs:
            continue
        scope = "namespaces/{namespace}/" if resource.namespaced else ""
        path = f"/{_prefix(group, version)}/{scope}{resource.plural}/{{name}}"
        paths[path] = {"patch": _operation(resource)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {},
    }
