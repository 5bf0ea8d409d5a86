"""managedFields on the sandbox apiserver, as the real field manager records them.

Covers: `prefixFromUserAgent` and `managerOrUserAgent` (table); the field set of an
object (keyed lists, atomic lists, `.`, server-owned metadata left out); ownership
moving to the writer of a changed field and leaving with a removed one; status
written through the subresource kept apart; and, with the real kubectl, the manager
of a Deployment's image after `apply` (`kubectl-client-side-apply`), `set image`
(`kubectl-set`), `rollout undo` (`kubectl`: it sends no fieldManager, so the
User-Agent names it), `rollout restart` (`kubectl-rollout`), with the
controller's own writes (`k3s`) beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.cluster import fields
from sandbox.cluster.server import SandboxCluster
from tests.fixtures.cluster import kubectl_path, run_kubectl

IMAGE_PATH = (
    "f:spec",
    "f:template",
    "f:spec",
    "f:containers",
    'k:{"name":"api"}',
    "f:image",
)


@pytest.mark.parametrize(
    ("manager", "agent", "expected"),
    [
        ("kubectl-set", "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd", "kubectl-set"),
        (None, "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd", "kubectl"),
        (None, "OpenAPI-Generator/31.1.0/python", "OpenAPI-Generator"),
        (None, "helm\x07/v3", "helm"),
        (None, "x" * 200, "x" * 128),
        (None, None, ""),
        ("", "deckhand/1.0", "deckhand"),
    ],
)
def test_the_manager_comes_from_the_parameter_else_the_user_agent(
    manager: str | None, agent: str | None, expected: str
) -> None:
    assert fields.manager_of(manager, agent) == expected


def deployment(image: str, *, replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "uid": "u1", "resourceVersion": "7", "labels": {"a": "b"}},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "image": image,
                            "args": ["-v"],
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                }
            },
        },
        "status": {"replicas": 3},
    }


def test_the_field_set_of_an_object() -> None:
    got = fields.to_fields_v1(set(fields.leaves(deployment("r/a:1"), subresource=None)))
    assert got == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"api"}': {
                            ".": {},
                            "f:args": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":8080,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                }
            },
        },
    }
    assert fields.leaves(deployment("r/a:1"), subresource="status") == {
        ("f:status", "f:replicas"): "3"
    }


def test_a_changed_field_moves_to_its_writer_and_a_removed_one_leaves() -> None:
    created = deployment("r/a:1")
    created["metadata"]["managedFields"] = fields.record(
        None, created, manager="kubectl-client-side-apply", api_version="apps/v1", time="t1"
    )
    changed = deployment("r/a:2")
    del changed["metadata"]["labels"]
    entries = fields.record(
        created, changed, manager="kubectl-set", api_version="apps/v1", time="t2"
    )
    changed["metadata"]["managedFields"] = entries
    assert [(e["manager"], e["time"]) for e in entries] == [
        ("kubectl-client-side-apply", "t1"),
        ("kubectl-set", "t2"),
    ]
    assert fields.owner_of(changed, IMAGE_PATH)["manager"] == "kubectl-set"  # type: ignore[index]
    assert fields.owner_of(changed, ("f:spec", "f:replicas"))["manager"] == (  # type: ignore[index]
        "kubectl-client-side-apply"
    )
    assert fields.owner_of(changed, ("f:metadata", "f:labels")) is None
    same = fields.record(changed, changed, manager="other", api_version="apps/v1", time="t3")
    assert same == entries  # a write that changes nothing changes no entry
    status = fields.record(
        changed, {**changed, "status": {"replicas": 1}}, manager="k3s",
        api_version="apps/v1", time="t4", subresource="status",
    )  # fmt: skip
    assert status[-1]["subresource"] == "status"
    assert status[:-1] == entries


async def test_kubectl_writes_are_recorded_under_kubectls_managers(
    sandbox_cluster: SandboxCluster, kubeconfig: Path
) -> None:
    kubectl_path()
    manifest = json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "api", "image": "r.example/a:1"}]},
                },
            },
        }
    )

    async def image_owner() -> tuple[str, str]:
        got = json.loads(
            (
                await run_kubectl(
                    kubeconfig, "get", "deploy/api", "-o", "json", "--show-managed-fields"
                )
            ).stdout
        )
        entry = fields.owner_of(got, IMAGE_PATH)
        assert entry is not None, got["metadata"].get("managedFields")
        assert entry["fieldsType"] == "FieldsV1"
        assert entry["time"]
        return entry["manager"], entry["operation"]

    await run_kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
    assert await image_owner() == ("kubectl-client-side-apply", "Update")
    await run_kubectl(kubeconfig, "set", "image", "deploy/api", "api=r.example/a:2")
    assert await image_owner() == ("kubectl-set", "Update")
    # kubectl's rollbacker patches without a fieldManager: the User-Agent's `kubectl` shows.
    await run_kubectl(kubeconfig, "rollout", "undo", "deploy/api")
    assert await image_owner() == ("kubectl", "Update")
    await run_kubectl(kubeconfig, "rollout", "restart", "deploy/api")
    show = ("get", "deploy/api", "-o", "json", "--show-managed-fields")
    got = json.loads((await run_kubectl(kubeconfig, *show)).stdout)
    managers = {(e["manager"], e.get("subresource")) for e in got["metadata"]["managedFields"]}
    assert ("kubectl-rollout", None) in managers
    assert ("k3s", None) in managers  # the revision annotation the controller writes
    await run_kubectl(kubeconfig, "scale", "deploy/api", "--replicas=2")
    got = json.loads((await run_kubectl(kubeconfig, *show)).stdout)
    scale = fields.owner_of(got, ("f:spec", "f:replicas"))
    assert scale is not None
    assert (scale["manager"], scale.get("subresource")) == ("kubectl", "scale")
