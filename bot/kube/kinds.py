"""The resource types Deckhand touches, and the API paths they live at.

Pure data: `DEPLOYMENTS.path("honeydue", "api")` is
`/apis/apps/v1/namespaces/honeydue/deployments/api`. Objects travel as the JSON the
API sends (`KubeObject`); `meta()`/`labels()`/`annotations()` read the parts every
kind shares without a cast at each call site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KubeObject = dict[str, Any]
"""One API object as JSON (`{"apiVersion": …, "kind": …, "metadata": …, …}`)."""


@dataclass(frozen=True)
class Kind:
    """One resource type: `apps/v1` `deployments`."""

    api_version: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if sub:
                base += f"/{sub}"
        return base


DEPLOYMENTS = Kind("apps/v1", "deployments")
REPLICASETS = Kind("apps/v1", "replicasets")
PODS = Kind("v1", "pods")
EVENTS = Kind("v1", "events")
SECRETS = Kind("v1", "secrets")
CONFIGMAPS = Kind("v1", "configmaps")
LEASES = Kind("coordination.k8s.io/v1", "leases")
NODES = Kind("v1", "nodes", namespaced=False)
ACCESS_REVIEWS = Kind("authorization.k8s.io/v1", "selfsubjectaccessreviews", namespaced=False)


def meta(obj: KubeObject) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def labels_of(obj: KubeObject) -> dict[str, str]:
    value = meta(obj).get("labels")
    return value if isinstance(value, dict) else {}


def annotations_of(obj: KubeObject) -> dict[str, str]:
    value = meta(obj).get("annotations")
    return value if isinstance(value, dict) else {}


def name_of(obj: KubeObject) -> str:
    return str(meta(obj).get("name", ""))


def uid_of(obj: KubeObject) -> str:
    return str(meta(obj).get("uid", ""))


def resource_version(obj: KubeObject) -> str:
    return str(meta(obj).get("resourceVersion", ""))


def owned_by(obj: KubeObject, owner_uid: str) -> bool:
    refs = meta(obj).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("uid") == owner_uid for r in refs)
